"""A linearizability checker (Wing & Gong / Lowe search with Porcupine-style memoisation).

    from roost.testing.history import History
    from roost.testing.linearizability import check, RegisterModel

    result = check(history, RegisterModel(), timeout=10)
    if not result:
        print(result.report())
        result.write_svg("violation.svg")

See ``docs/linearizability.md`` for the models and the meaning of the results.
"""

from roost.testing.history import UNKNOWN, History, Operation, Status
from roost.testing.linearizability.checker import Result, assert_linearizable, check
from roost.testing.linearizability.model import BaseModel, Model, StartingAt
from roost.testing.linearizability.models import KVModel, RegisterModel
from roost.testing.linearizability.parsers import ParseError, parse_edn_kv, parse_jepsen_etcd
from roost.testing.linearizability.verdict import PartResult, Verdict
from roost.testing.linearizability.zkmodels import ChildrenModel, LockModel, ZnodeModel

__all__ = [
    "UNKNOWN",
    "BaseModel",
    "ChildrenModel",
    "History",
    "KVModel",
    "LockModel",
    "Model",
    "Operation",
    "ParseError",
    "PartResult",
    "RegisterModel",
    "Result",
    "StartingAt",
    "Status",
    "Verdict",
    "ZnodeModel",
    "assert_linearizable",
    "check",
    "parse_edn_kv",
    "parse_jepsen_etcd",
]
