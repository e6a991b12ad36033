"""Histories produced by running the sequential model under random interleavings are
linearizable; corrupting one read so that nothing could explain it makes them not."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from roost.testing.history import UNKNOWN, Operation, Status
from roost.testing.linearizability import KVModel, RegisterModel, Verdict, check

from .helpers import assert_evidence_fails

NEVER_WRITTEN = -1


@dataclass
class _Sim:
    """Concurrent clients whose operations take effect at a random point between their
    invocation and their return (or, for unknown outcomes, maybe never)."""

    rng: random.Random
    kv: bool
    info_rate: float
    state: dict[Any, Any] = field(default_factory=dict)
    clock: int = 0
    fresh: int = 0
    ops: list[Operation] = field(default_factory=list)

    def new_input(self) -> tuple[str, Any]:
        self.fresh += 1
        rng, v = self.rng, self.fresh
        if self.kv:
            key = rng.choice("ab")
            return rng.choice([("get", (key, None)), ("append", (key, f"{v};")),
                               ("put", (key, f"{v};"))])
        seen = self.state.get("r")
        old = seen if rng.random() < 0.5 else rng.randrange(self.fresh)
        return rng.choice([("read", None), ("write", v), ("cas", (old, v))])

    def apply(self, f: str, args: Any) -> Any:
        if self.kv:
            key, value = args
            current = self.state.get(key, "")
            if f == "get":
                return current
            self.state[key] = value if f == "put" else current + value
            return None
        current = self.state.get("r")
        if f == "read":
            return current
        if f == "write":
            self.state["r"] = args
            return None
        if current == args[0]:
            self.state["r"] = args[1]
            return True
        return False

    def run(self, processes: int, count: int) -> list[Operation]:
        # per process: None (idle) or [input, call time, phase, output, unknown outcome?]
        busy: dict[int, list[Any] | None] = {p: None for p in range(processes)}
        next_pid = processes
        while count > 0 or any(busy.values()):
            p = self.rng.choice(list(busy))
            cur = busy[p]
            self.clock += 1
            if cur is None:
                if count > 0:
                    count -= 1
                    busy[p] = [self.new_input(), self.clock, "called", None,
                               self.rng.random() < self.info_rate]
            elif cur[2] == "called" and cur[4]:
                if self.rng.random() < 0.5:
                    self.apply(*cur[0])  # took effect, but the client never learns
                self._record(p, cur, None)
                del busy[p]
                busy[next_pid] = None  # Jepsen-style: a fresh process replaces it
                next_pid += 1
            elif cur[2] == "called":
                cur[3], cur[2] = self.apply(*cur[0]), "applied"
            else:
                self._record(p, cur, self.clock)
                busy[p] = None
        return self.ops

    def _record(self, process: int, cur: list[Any], ret: int | None) -> None:
        (f, args), call = cur[0], cur[1]
        if ret is None:
            op = Operation(len(self.ops), process, f, args, UNKNOWN, call, None, Status.INFO)
        else:
            op = Operation(len(self.ops), process, f, args, cur[3], call, ret)
        self.ops.append(op)


SIM = dict(
    seed=st.integers(0, 2**32 - 1),
    processes=st.integers(1, 5),
    count=st.integers(1, 28),
    info_rate=st.sampled_from([0.0, 0.1, 0.3]),
    kv=st.booleans(),
)


def _model(kv: bool) -> RegisterModel | KVModel:
    return KVModel() if kv else RegisterModel()


@settings(max_examples=150, deadline=None, derandomize=True)
@given(**SIM)
def test_simulated_histories_are_linearizable(
    seed: int, processes: int, count: int, info_rate: float, kv: bool
) -> None:
    history = _Sim(random.Random(seed), kv, info_rate).run(processes, count)
    result = check(history, _model(kv))
    assert result.verdict is Verdict.LINEARIZABLE, result.report()


def _reads(history: list[Operation]) -> list[Operation]:
    return [op for op in history if op.status is Status.OK and op.f in ("read", "get")]


def _future_value(history: list[Operation], read: Operation, kv: bool) -> Any:
    """A value only ever produced by an operation invoked after `read` returned, or None.
    Values are unique per operation, so nothing else can explain reading it."""
    assert read.ret is not None
    for op in history:
        if op.call <= read.ret:
            continue
        if not kv and op.f in ("write", "cas"):
            return op.args if op.f == "write" else op.args[1]
        if kv and op.f == "put" and op.args[0] == read.args[0]:
            return op.args[1]
    return None


@settings(max_examples=150, deadline=None, derandomize=True)
@given(**SIM, pick=st.integers(0, 1000), future=st.booleans())
def test_a_corrupted_read_is_caught(
    seed: int, processes: int, count: int, info_rate: float, kv: bool, pick: int,
    future: bool,
) -> None:
    history = _Sim(random.Random(seed), kv, info_rate).run(processes, count)
    reads = _reads(history)
    assume(reads)
    read = reads[pick % len(reads)]
    value = _future_value(history, read, kv) if future else None
    if value is None:  # a value nobody ever wrote
        value = "never;" if kv else NEVER_WRITTEN
    corrupted = [replace(op, result=value) if op is read else op for op in history]
    result = check(corrupted, _model(kv))
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    # the minimized evidence still fails on its own and points at the corrupted read
    assert_evidence_fails(result)
    assert result.failing_op is not None and result.failing_op.id == read.id
