"""Building hand-made histories and a brute-force reference checker for the tests."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from roost.testing.history import UNKNOWN, Operation, Status
from roost.testing.linearizability import Result, Verdict, check
from roost.testing.linearizability.model import Model, StartingAt

INFO = None  # as `ret`: the operation's outcome is unknown
Row = tuple[Any, int, int | None, str, Any, Any]


def ops(*rows: Row) -> list[Operation]:
    """Rows of (process, call, ret, f, args, result); ret None = unknown outcome."""
    out = []
    for i, (process, call, ret, f, args, result) in enumerate(rows):
        if ret is None:
            out.append(Operation(i, process, f, args, UNKNOWN, call, None, Status.INFO))
        else:
            out.append(Operation(i, process, f, args, result, call, ret))
    return out


def brute_force(history: Sequence[Operation], model: Model) -> bool:
    """Linearizable iff, in every independent part (``model.partition``), some order of
    the completed operations plus some subset of the unknown-outcome ones respects real
    time and is accepted by the model."""
    return all(_brute_force_part(part, model) for part in model.partition(history))


def _brute_force_part(history: Sequence[Operation], model: Model) -> bool:
    done = [op for op in history if op.status is Status.OK]
    maybe = [op for op in history if op.status is Status.INFO]
    for r in range(len(maybe) + 1):
        for chosen in itertools.combinations(maybe, r):
            for order in itertools.permutations(done + list(chosen)):
                if _respects_real_time(order) and _accepted(order, model):
                    return True
    return False


def _respects_real_time(order: Sequence[Operation]) -> bool:
    for i, later in enumerate(order):
        for earlier in order[i + 1 :]:
            # `earlier` is placed after `later` although it returned before `later` began
            if earlier.ret is not None and earlier.ret < later.call:
                return False
    return True


def _accepted(order: Sequence[Operation], model: Model) -> bool:
    state = model.init()
    for op in order:
        ok, state = model.step(state, op.input, op.result)
        if not ok:
            return False
    return True


def shared_data() -> Path:
    """The linearizability histories the repository carries (``tests/data/linearizability``)."""
    return Path(__file__).resolve().parents[1] / "data" / "linearizability"


def evidence_models(result: Result) -> list[Model]:
    """The model(s) the failing sub-history fails under: from the initial state, or from
    each state the trimmed-off front can leave."""
    if result.start_states is None:
        return [result.model]
    return [StartingAt(result.model, state) for state in result.start_states]


def assert_evidence_fails(result: Result) -> None:
    """The minimized evidence is non-linearizable on its own (from every start state)."""
    assert result.failing
    for model in evidence_models(result):
        again = check(result.failing, model, minimize=False)
        assert again.verdict is Verdict.NOT_LINEARIZABLE
        if len(result.failing) <= 6:  # small enough to confirm by trying every order
            assert brute_force(result.failing, model) is False
