"""Shrinking a non-linearizable history to a small sub-history that still fails.

Only reductions that keep the evidence valid are used, i.e. if the reduced history is not
linearizable then neither is the original:

1. *Prefixes.* Cut the history after its first k events; operations still pending at the
   cut become unknown-outcome operations. If the history is linearizable, so is every
   such prefix, and prefixes of a failing history fail monotonically in k, so a binary
   search finds the shortest failing prefix. Its last event is the return of the
   operation that can no longer be linearized.
2. *Removing pure operations* (reads and other operations that changed nothing, per
   ``model.pure``): deleting one from a valid linearization leaves a valid one. They are
   removed while the rest still fails: all at once if possible, else in ever smaller
   groups down to one at a time. (Removing a write is not sound in general:
   the rest could fail only because a read lost its explanation.)

3. *Trimming the front at a quiet moment* (no operation in progress, before the culprit
   starts): every earlier operation precedes every later one in any linearization, so
   the history fails iff the later part fails from each state the earlier part can end
   in. All those end states are computed (a search that does not stop at the first
   linearization); the earlier part is replaced by them if there are few.

The result is small, not necessarily the smallest possible.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from roost.testing.history import Operation
from roost.testing.linearizability.model import Model, StartingAt
from roost.testing.linearizability.prepare import prepare
from roost.testing.linearizability.search import search

MAX_START_STATES = 16  # more possible states at a cut than this are not worth showing


@dataclass(frozen=True, slots=True)
class Shrunk:
    ops: tuple[Operation, ...]
    culprit: Operation | None
    # the longest partial linearization of ``ops`` (from the first start state by repr)
    partial: tuple[Operation, ...]
    start_states: frozenset[Any] | None = None  # None: the model's initial state
    omitted: int = 0  # operations cut off the front


def _fails(ops: Sequence[Operation], model: Model, deadline: float) -> bool:
    found, _ = search(prepare(ops, model), model, deadline)
    return found is False


def _events(ops: Sequence[Operation]) -> list[tuple[int, int, int]]:
    """(time, 0 = call / 1 = return, index) in the checker's order; no return if unknown."""
    evs = [(op.call, 0, i) for i, op in enumerate(ops)]
    evs += [(op.ret, 1, i) for i, op in enumerate(ops) if op.ret is not None]
    evs.sort()
    return evs


def prefix(ops: Sequence[Operation], k: int) -> tuple[list[Operation], Operation | None]:
    """The history cut after its first ``k`` events, and the operation of event ``k``-1."""
    evs = _events(ops)[:k]
    called = {i for _, kind, i in evs if kind == 0}
    returned = {i for _, kind, i in evs if kind == 1}
    cut = [op if i in returned or op.ret is None else op.as_info()
           for i, op in enumerate(ops) if i in called]
    return cut, (ops[evs[-1][2]] if evs else None)


def shortest_failing_prefix(
    ops: Sequence[Operation], model: Model, deadline: float
) -> tuple[list[Operation], Operation | None]:
    """Binary search over k for the shortest failing prefix (``ops`` must fail)."""
    lo, hi = 0, len(_events(ops))
    cut, culprit = prefix(ops, hi)
    best = prepare(cut, model), culprit
    while hi - lo > 1 and time.monotonic() < deadline:
        mid = (lo + hi) // 2
        cut, culprit = prefix(ops, mid)
        cut = prepare(cut, model)  # reads pending at the cut are dropped
        if _fails(cut, model, deadline):
            hi, best = mid, (cut, culprit)
        else:
            lo = mid
    return best


def remove_pure(
    ops: list[Operation], keep: Operation | None, model: Model, deadline: float
) -> list[Operation]:
    """Drop pure operations (never ``keep``) while the history still fails: first all of
    them at once, then halves, quarters, ... down to one at a time."""
    current = list(ops)
    candidates = [op for op in ops if op is not keep and model.pure(op.input, op.result)]
    chunk = len(candidates)
    while chunk >= 1:
        i = 0
        while i < len(candidates):
            if time.monotonic() >= deadline:
                return current
            group = {id(op) for op in candidates[i : i + chunk]}
            trial = [op for op in current if id(op) not in group]
            if _fails(trial, model, deadline):
                current = trial
                del candidates[i : i + chunk]
            else:
                i += chunk
        chunk //= 2
    return current


def latest_quiet_cut(ops: Sequence[Operation], culprit: Operation | None) -> int:
    """The number of operations (in call order) before the latest quiet moment (nothing
    in progress) that comes no later than the culprit's invocation; 0 if there is none."""
    in_call_order = sorted(ops, key=lambda op: (op.call, op.id))
    latest_ret = float("-inf")
    best = 0
    for k, op in enumerate(in_call_order):
        if k and latest_ret < op.call:  # everything before op returned before it began
            best = k
        if op is culprit:
            break
        latest_ret = max(latest_ret, float("inf") if op.ret is None else op.ret)
    return best


def trim_front(
    ops: Sequence[Operation], culprit: Operation | None, model: Model, deadline: float
) -> tuple[list[Operation], frozenset[Any] | None]:
    """Cut off everything before a quiet moment (nothing in progress). The earlier
    operations all precede the later ones in any linearization, so the history fails iff
    the rest fails from every state the earlier part can end in; those states replace it.
    Returns the rest and those states, or the history unchanged and None."""
    k = latest_quiet_cut(ops, culprit)
    if k == 0:
        return list(ops), None
    in_call_order = sorted(ops, key=lambda op: (op.call, op.id))
    before, after = in_call_order[:k], in_call_order[k:]
    finals: set[Any] = set()
    found, _ = search(before, model, deadline, finals)
    if found is not True or len(finals) > MAX_START_STATES:
        return list(ops), None
    for state in finals:
        if not _fails(after, StartingAt(model, state), deadline):
            return list(ops), None  # only when time ran out: it must fail from each
    kept = {id(op) for op in after}
    return [op for op in ops if id(op) in kept], frozenset(finals)


def shrink(ops: Sequence[Operation], model: Model, deadline: float) -> Shrunk:
    """Prefix, then pure-operation removal, then prefix again, then front trimming;
    returns the sub-history, the operation that cannot be linearized in it, its longest
    partial linearization and the states it starts from."""
    cut, culprit = shortest_failing_prefix(ops, model, deadline)
    cut = remove_pure(cut, culprit, model, deadline)
    cut, culprit = shortest_failing_prefix(cut, model, deadline)
    trimmed, states = trim_front(cut, culprit, model, deadline)
    omitted = len(cut) - len(trimmed)
    start = model if states is None else StartingAt(model, min(states, key=repr))
    found, order = search(trimmed, start, deadline)
    partial = tuple(trimmed[i] for i in order) if found is not True else ()
    return Shrunk(tuple(trimmed), culprit, partial, states, omitted)
