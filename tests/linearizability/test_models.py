"""Hand-made histories with known verdicts for every model (rows: process, call, ret, f,
args, result; ret INFO = unknown outcome). Each case is also confirmed by brute force."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from roost.testing.history import Status
from roost.testing.linearizability import (
    ChildrenModel,
    KVModel,
    LockModel,
    RegisterModel,
    Verdict,
    ZnodeModel,
    check,
)
from roost.testing.linearizability.model import Model

from .helpers import INFO, Row, brute_force, ops

YES, NO = True, False

REGISTER: list[tuple[str, bool, list[Row]]] = [
    ("read sees a concurrent write", YES, [
        (0, 0, 10, "write", 7, None),
        (1, 2, 5, "read", None, 7),
        (2, 3, 4, "read", None, None),
    ]),
    ("reads may not flip back", NO, [
        (0, 0, 10, "write", 7, None),
        (1, 1, 3, "read", None, 7),
        (2, 4, 6, "read", None, None),
    ]),
    ("stale read after two writes", NO, [
        (0, 0, 1, "write", 1, None),
        (0, 2, 3, "write", 2, None),
        (1, 4, 5, "read", None, 1),
    ]),
    ("concurrent writes, reads agree on one order", YES, [
        (0, 0, 10, "write", 1, None),
        (1, 0, 10, "write", 2, None),
        (2, 11, 12, "read", None, 1),
        (3, 13, 14, "read", None, 1),
    ]),
    ("concurrent writes, reads disagree", NO, [
        (0, 0, 10, "write", 1, None),
        (1, 0, 10, "write", 2, None),
        (2, 11, 12, "read", None, 1),
        (3, 13, 14, "read", None, 2),
    ]),
    ("touching intervals are concurrent", YES, [
        (0, 0, 5, "read", None, 3),
        (1, 5, 9, "write", 3, None),
    ]),
    ("read from the future", NO, [
        (0, 0, 4, "read", None, 3),
        (1, 5, 9, "write", 3, None),
    ]),
    ("unknown write explains a later read", YES, [
        (0, 0, INFO, "write", 4, None),
        (1, 50, 51, "read", None, 4),
    ]),
    ("unknown write may never happen", YES, [
        (0, 0, INFO, "write", 4, None),
        (1, 50, 51, "read", None, None),
    ]),
    ("unknown write cannot act before it was invoked", NO, [
        (1, 0, 1, "read", None, 4),
        (0, 2, INFO, "write", 4, None),
    ]),
    ("cas succeeds on the expected value", YES, [
        (0, 0, 1, "write", 1, None),
        (0, 2, 3, "cas", (1, 2), True),
        (1, 4, 5, "read", None, 2),
    ]),
    ("cas cannot fail on the expected value", NO, [
        (0, 0, 1, "write", 1, None),
        (0, 2, 3, "cas", (1, 2), False),
    ]),
    ("cas cannot succeed on another value", NO, [
        (0, 0, 1, "write", 3, None),
        (0, 2, 3, "cas", (1, 2), True),
    ]),
    ("unknown cas explains a read", YES, [
        (0, 0, 1, "write", 1, None),
        (1, 2, INFO, "cas", (1, 9), None),
        (2, 10, 11, "read", None, 9),
        (2, 12, 13, "read", None, 9),
    ]),
]


@pytest.mark.parametrize(("name", "expected", "rows"), REGISTER, ids=[c[0] for c in REGISTER])
def test_register(name: str, expected: bool, rows: list[Row]) -> None:
    _verify(ops(*rows), RegisterModel(), expected)


def _verify(history: list[Any], model: Model, expected: bool) -> None:
    assert brute_force(history, model) is expected  # the case itself is right
    result = check(history, model)
    want = Verdict.LINEARIZABLE if expected else Verdict.NOT_LINEARIZABLE
    assert result.verdict is want, result.report()
    if not expected:
        assert result.failing and result.failing_op is not None


def test_register_failed_write_does_not_explain_a_read() -> None:
    history = ops((0, 0, 5, "write", 1, None), (1, 6, 7, "read", None, 1))
    failed = replace(history[0], status=Status.FAIL)
    assert check([failed, history[1]], RegisterModel()).verdict is Verdict.NOT_LINEARIZABLE
    assert check(history, RegisterModel())


KV: list[tuple[str, bool, list[Row]]] = [
    ("appends in real-time order", YES, [
        (0, 0, 1, "append", ("a", "x"), None),
        (1, 2, 3, "append", ("a", "y"), None),
        (2, 4, 5, "get", ("a", None), "xy"),
        (3, 4, 5, "get", ("b", None), ""),
    ]),
    ("appends out of real-time order", NO, [
        (0, 0, 1, "append", ("a", "x"), None),
        (1, 2, 3, "append", ("a", "y"), None),
        (2, 4, 5, "get", ("a", None), "yx"),
    ]),
    ("keys are independent", NO, [
        (0, 0, 1, "put", ("a", "1"), None),
        (0, 2, 3, "get", ("b", None), "1"),
    ]),
    ("concurrent put and append", YES, [
        (0, 0, 10, "put", ("k", "p"), None),
        (1, 0, 10, "append", ("k", "q"), None),
        (2, 11, 12, "get", ("k", None), "p"),
    ]),
]


@pytest.mark.parametrize(("name", "expected", "rows"), KV, ids=[c[0] for c in KV])
def test_kv(name: str, expected: bool, rows: list[Row]) -> None:
    _verify(ops(*rows), KVModel(), expected)


ZNODE: list[tuple[str, bool, list[Row]]] = [
    ("create, set with version, get", YES, [
        (0, 0, 1, "create", ("/a", b"x"), "ok"),
        (0, 2, 3, "set", ("/a", b"y", 0), 1),
        (1, 4, 5, "get", ("/a",), (b"y", 1)),
        (1, 6, 7, "exists", ("/a",), 1),
    ]),
    ("lost update: two sets expecting the same version both win", NO, [
        (0, 0, 1, "create", ("/a", b""), "ok"),
        (1, 2, 10, "set", ("/a", b"1", 0), 1),
        (2, 2, 10, "set", ("/a", b"2", 0), 1),
    ]),
    ("concurrent sets expecting the same version: one loses", YES, [
        (0, 0, 1, "create", ("/a", b""), "ok"),
        (1, 2, 10, "set", ("/a", b"1", 0), 1),
        (2, 2, 10, "set", ("/a", b"2", 0), "badversion"),
        (3, 11, 12, "get", ("/a",), (b"1", 1)),
    ]),
    ("double create", NO, [
        (0, 0, 5, "create", ("/a", b""), "ok"),
        (1, 1, 6, "create", ("/a", b""), "ok"),
    ]),
    ("delete then re-create resets the version", YES, [
        (0, 0, 1, "create", ("/a", b"1"), "ok"),
        (0, 2, 3, "set", ("/a", b"2", -1), 1),
        (0, 4, 5, "delete", ("/a", 1), "ok"),
        (1, 6, 7, "get", ("/a",), "nonode"),
        (1, 8, 9, "create", ("/a", b"3"), "ok"),
        (1, 10, 11, "get", ("/a",), (b"3", 0)),
    ]),
    ("stale get after set", NO, [
        (0, 0, 1, "create", ("/a", b"1"), "ok"),
        (0, 2, 3, "set", ("/a", b"2", -1), 1),
        (1, 4, 5, "get", ("/a",), (b"1", 0)),
    ]),
    ("unknown delete explains nonode", YES, [
        (0, 0, 1, "create", ("/a", b""), "ok"),
        (0, 2, INFO, "delete", ("/a", -1), None),
        (1, 8, 9, "get", ("/a",), "nonode"),
        (2, 10, 11, "create", ("/a", b"z"), "ok"),
    ]),
    ("paths are independent", NO, [
        (0, 0, 1, "create", ("/a", b""), "ok"),
        (0, 2, 3, "get", ("/b",), (b"", 0)),
    ]),
]


@pytest.mark.parametrize(("name", "expected", "rows"), ZNODE, ids=[c[0] for c in ZNODE])
def test_znode(name: str, expected: bool, rows: list[Row]) -> None:
    _verify(ops(*rows), ZnodeModel(), expected)


def _seq(n: int) -> str:
    return f"lock-{n:010d}"


CHILDREN: list[tuple[str, bool, list[Row]]] = [
    ("concurrent sequential creates get distinct numbers", YES, [
        (0, 0, 10, "create", ("/l", "lock-", True, 1), _seq(1)),
        (1, 0, 10, "create", ("/l", "lock-", True, 2), _seq(0)),
        (2, 11, 12, "list", ("/l",), [_seq(0), _seq(1)]),
    ]),
    ("two creates get the same sequence number", NO, [
        (0, 0, 10, "create", ("/l", "lock-", True, 1), _seq(0)),
        (1, 0, 10, "create", ("/l", "lock-", True, 2), _seq(0)),
    ]),
    ("a gap in sequence numbers needs an unknown create", YES, [
        (0, 0, INFO, "create", ("/l", "lock-", True, 1), None),
        (1, 5, 6, "create", ("/l", "lock-", True, 2), _seq(1)),
    ]),
    ("a gap with nothing to explain it", NO, [
        (0, 0, 1, "create", ("/l", "lock-", True, 1), _seq(0)),
        (1, 5, 6, "create", ("/l", "lock-", True, 2), _seq(2)),
    ]),
    ("deletes do not reuse numbers", YES, [
        (0, 0, 1, "create", ("/l", "lock-", True, 1), _seq(0)),
        (0, 2, 3, "delete", ("/l", _seq(0)), "ok"),
        (1, 4, 5, "create", ("/l", "lock-", True, 2), _seq(1)),
        (1, 6, 7, "list", ("/l",), [_seq(1)]),
    ]),
    ("ephemerals vanish when their session expires", YES, [
        (0, 0, 1, "create", ("/l", "lock-", True, 7), _seq(0)),
        (1, 2, 3, "create", ("/l", "x", False, None), "x"),
        (9, 4, 5, "expire", ("/l", 7), None),
        (2, 6, 7, "list", ("/l",), ["x"]),
    ]),
    ("an expired session's ephemeral is still listed", NO, [
        (0, 0, 1, "create", ("/l", "lock-", True, 7), _seq(0)),
        (9, 4, 5, "expire", ("/l", 7), None),
        (2, 6, 7, "list", ("/l",), [_seq(0)]),
    ]),
    ("plain create of an existing child", YES, [
        (0, 0, 1, "create", ("/l", "x", False, None), "x"),
        (1, 2, 3, "create", ("/l", "x", False, None), "nodeexists"),
        (1, 4, 5, "delete", ("/l", "y"), "nonode"),
    ]),
]


@pytest.mark.parametrize(("name", "expected", "rows"), CHILDREN, ids=[c[0] for c in CHILDREN])
def test_children(name: str, expected: bool, rows: list[Row]) -> None:
    _verify(ops(*rows), ChildrenModel(), expected)


LOCK: list[tuple[str, bool, list[Row]]] = [
    ("acquire, release, acquire with a larger token", YES, [
        (0, 0, 1, "acquire", ("L", "a"), 5),
        (0, 2, 3, "release", ("L", "a"), "ok"),
        (1, 4, 5, "acquire", ("L", "b"), 6),
    ]),
    ("fencing token goes backwards", NO, [
        (0, 0, 1, "acquire", ("L", "a"), 5),
        (0, 2, 3, "release", ("L", "a"), "ok"),
        (1, 4, 5, "acquire", ("L", "b"), 4),
    ]),
    ("fencing token repeats", NO, [
        (0, 0, 1, "acquire", ("L", "a"), 5),
        (0, 2, 3, "release", ("L", "a"), "ok"),
        (1, 4, 5, "acquire", ("L", "b"), 5),
    ]),
    ("two holders at once", NO, [
        (0, 0, 1, "acquire", ("L", "a"), 1),
        (1, 2, 3, "acquire", ("L", "b"), 2),
    ]),
    ("concurrent acquires: one is refused", YES, [
        (0, 0, 10, "acquire", ("L", "a"), 1),
        (1, 0, 10, "acquire", ("L", "b"), "busy"),
    ]),
    ("a refused acquire while the lock is free", NO, [
        (1, 0, 1, "acquire", ("L", "b"), "busy"),
    ]),
    ("lease expiry lets another owner in", YES, [
        (0, 0, 1, "acquire", ("L", "a"), 1),
        (9, 2, 3, "expire", ("L", "a"), None),
        (1, 4, 5, "acquire", ("L", "b"), 2),
        (0, 6, 7, "release", ("L", "a"), "notheld"),
    ]),
    ("an unknown acquire explains a refusal", YES, [
        (0, 0, INFO, "acquire", ("L", "a"), None),
        (1, 4, 5, "acquire", ("L", "b"), "busy"),
    ]),
    ("locks are independent", YES, [
        (0, 0, 1, "acquire", ("L", "a"), 1),
        (1, 2, 3, "acquire", ("M", "b"), 1),
    ]),
]


@pytest.mark.parametrize(("name", "expected", "rows"), LOCK, ids=[c[0] for c in LOCK])
def test_lock(name: str, expected: bool, rows: list[Row]) -> None:
    _verify(ops(*rows), LockModel(), expected)


@pytest.mark.parametrize(
    "model", [RegisterModel(), KVModel(), ZnodeModel(), ChildrenModel(), LockModel()]
)
def test_unknown_operation_is_rejected(model: Model) -> None:
    with pytest.raises(ValueError, match="unknown operation"):
        model.step(model.init(), ("frobnicate", ("k", None)), None)


def test_descriptions() -> None:
    assert RegisterModel().describe(("cas", (1, 2)), True) == "cas(1, 2) -> ok"
    assert RegisterModel().describe(("read", None), None) == "read() -> nil"
    assert KVModel().describe(("append", ("k", "v")), None) == "append('k', 'v')"
    assert ZnodeModel().describe(("set", ("/a", b"x", 3)), 4) == "set('/a', b'x', 3) -> 4"
    seq = ChildrenModel().describe(("create", ("/l", "n-", True, 5)), "n-0000000000")
    assert seq == "create sequential ephemeral[5] 'n-' -> 'n-0000000000'"
    assert LockModel().describe(("acquire", ("L", "a")), 3) == "acquire('a') -> 3"
