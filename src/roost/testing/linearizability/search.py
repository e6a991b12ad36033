"""The search for a linearization of one independent part of a history.

This is the Wing & Gong algorithm with Lowe's memoisation, laid out as Porcupine does:

* every operation contributes a call entry and a return entry to one doubly linked list
  sorted by time (calls before returns at equal times; an unknown outcome returns at
  +infinity, i.e. at the end of the list);
* walking from the head, a call entry whose operation the model accepts in the current
  state is *lifted* (its call and return entries are unlinked) and pushed on a stack;
* reaching a return entry means the operation that returns there cannot be linearized
  any more, so the last lifted operation is popped, *unlifted* (relinked) and the walk
  continues after it;
* the set of linearized operations is a bitset (a Python int) and every (bitset, state)
  pair already explored is remembered (a dict from bitset to the set of states seen with
  it: faster and smaller than a set of pairs), so each configuration is expanded once.

The list lives in two int arrays (``nxt``/``prv``): entry ``i < n`` is the call of
operation ``i``, entry ``n + i`` its return, ``2n`` the head and ``2n + 1`` the tail.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence

from roost.testing.history import Operation
from roost.testing.linearizability.model import Model

_INF = float("inf")
_CHECK_EVERY = 1 << 10  # backtracks between two looks at the clock


def build_list(ops: Sequence[Operation]) -> tuple[list[int], list[int]]:
    """The time-ordered linked list of call/return entries (see the module docstring)."""
    n = len(ops)
    entries: list[tuple[float, int, int]] = []
    for i, op in enumerate(ops):
        entries.append((op.call, 0, i))
        entries.append((_INF if op.ret is None else op.ret, 1, n + i))
    entries.sort()
    head, tail = 2 * n, 2 * n + 1
    order = [head, *(e[2] for e in entries), tail]
    nxt = [0] * (2 * n + 2)
    prv = [0] * (2 * n + 2)
    for a, b in itertools.pairwise(order):
        nxt[a] = b
        prv[b] = a
    return nxt, prv


def search(
    ops: Sequence[Operation],
    model: Model,
    deadline: float | None = None,
    finals: set[object] | None = None,
) -> tuple[bool | None, list[int]]:
    """Try to linearize ``ops`` (all of one partition).

    Returns ``(True, order)`` with a full linearization (indices into ``ops``),
    ``(False, order)`` with the longest partial linearization found, or ``(None, order)``
    if ``time.monotonic()`` passed ``deadline`` first.

    With a ``finals`` set, the search does not stop at the first full linearization: it
    explores them all and adds every state they end in to ``finals`` (then the order
    returned is the longest partial one).
    """
    n = len(ops)
    nxt, prv = build_list(ops)
    head, tail = 2 * n, 2 * n + 1
    inputs = [op.input for op in ops]
    outputs = [op.result for op in ops]
    bits = [1 << i for i in range(n)]
    step = model.step
    state = model.init()
    linearized = 0
    seen: dict[int, set[object]] = {}
    stack: list[tuple[int, object]] = []
    push = stack.append
    pop = stack.pop
    best: list[int] = []  # the deepest stack seen (the longest partial linearization)
    low = 0  # best[:low] still equals the stack's bottom entries (not popped since)
    budget = _CHECK_EVERY
    entry = nxt[head]
    while True:
        if entry < n:
            accepted, new_state = step(state, inputs[entry], outputs[entry])
            if not accepted:
                entry = nxt[entry]
                continue
            grown = linearized | bits[entry]
            states = seen.get(grown)
            if states is None:
                seen[grown] = {new_state}
            elif new_state in states:  # this configuration was explored already
                entry = nxt[entry]
                continue
            else:
                states.add(new_state)
            push((entry, state))
            state = new_state
            linearized = grown
            # lift the call entry, then its return entry
            p = prv[entry]
            q = nxt[entry]
            nxt[p] = q
            prv[q] = p
            r = entry + n
            p = prv[r]
            q = nxt[r]
            nxt[p] = q
            prv[q] = p
            entry = nxt[head]
            continue
        if entry == tail:  # everything is linearized
            if finals is None:
                return True, [e for e, _ in stack]
            finals.add(state)  # note where it ends, then look for other orders
        # else a return entry: the operation returning there cannot be placed.
        # Either way, backtrack.
        depth = len(stack)
        if depth > len(best):  # update only what changed since the last snapshot
            del best[low:]
            best.extend([e for e, _ in stack[low:]])
            low = depth
        if not depth:
            return (bool(finals) if finals is not None else False), best
        budget -= 1
        if budget == 0:
            budget = _CHECK_EVERY
            if deadline is not None and time.monotonic() > deadline:
                return None, best
        entry, state = pop()
        if depth <= low:
            low = depth - 1
        linearized ^= bits[entry]
        # unlift in reverse order: the return entry, then the call entry
        r = entry + n
        nxt[prv[r]] = r
        prv[nxt[r]] = r
        nxt[prv[entry]] = entry
        prv[nxt[entry]] = entry
        entry = nxt[entry]
