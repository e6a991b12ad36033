"""Operation histories for linearizability checking.

A test harness records what its clients did with a :class:`History`::

    history = History()
    h = history.invoke(process=1, op="write", args=3)   # just before sending the request
    ...
    history.ok(h, None)          # the reply arrived and says the operation happened
    history.fail(h)              # the reply says it definitely did not happen
    history.info(h)              # unknown outcome (timeout, lost connection)

Timestamps come from ``time.monotonic_ns()`` (or an injected clock) and are taken under a
lock, so the event order equals the timestamp order even with many threads. Recording is
safe from threads and from asyncio tasks (the lock is never held across an await).

:meth:`History.operations` turns the events into :class:`Operation` values, the input of
``roost.testing.linearizability.check``. An operation still pending at that moment counts
as ``info``: it may or may not have taken effect.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Any, Final


class _Unknown:
    """The output of an operation whose outcome is unknown (an ``info`` operation)."""

    __slots__ = ()
    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()


class Status(Enum):
    """How an operation completed."""

    OK = "ok"  # took effect, with the recorded result
    FAIL = "fail"  # definitely did not take effect
    INFO = "info"  # unknown: may take effect at any time after its invocation, or never


class EventKind(Enum):
    INVOKE = "invoke"
    OK = "ok"
    FAIL = "fail"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Event:
    """One line of a history: an invocation or a completion."""

    kind: EventKind
    handle: int
    process: Hashable
    f: str
    value: Any
    time: int


@dataclass(frozen=True, slots=True)
class Operation:
    """A completed (or abandoned) operation.

    ``call`` and ``ret`` are timestamps (any monotonic integer unit); ``ret`` is None for
    ``info`` operations, whose return lies at +infinity. ``result`` is :data:`UNKNOWN` for
    ``info`` operations.
    """

    id: int
    process: Hashable
    f: str
    args: Any
    result: Any
    call: int
    ret: int | None
    status: Status = Status.OK

    @property
    def input(self) -> tuple[str, Any]:
        """What a model's ``step`` receives as its input."""
        return (self.f, self.args)

    def as_info(self) -> Operation:
        """The same invocation with an unknown outcome (return at +infinity)."""
        return replace(self, result=UNKNOWN, ret=None, status=Status.INFO)


class History:
    """A thread-safe and asyncio-safe recorder of invocations and completions."""

    def __init__(self, clock: Callable[[], int] = time.monotonic_ns) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._events: list[Event] = []
        self._pending: dict[int, Event] = {}
        self._next = 0

    def invoke(self, process: Hashable, op: str, args: Any = None) -> int:
        """Record the start of operation ``op(args)`` by ``process``; returns its handle.
        (The operation's name is kept as ``Event.f`` / ``Operation.f``, as Jepsen does.)"""
        with self._lock:
            handle = self._next
            self._next += 1
            ev = Event(EventKind.INVOKE, handle, process, op, args, self._clock())
            self._events.append(ev)
            self._pending[handle] = ev
            return handle

    def ok(self, handle: int, result: Any = None) -> None:
        """The operation took effect and returned ``result``."""
        self._complete(handle, EventKind.OK, result)

    def fail(self, handle: int) -> None:
        """The operation definitely did not take effect."""
        self._complete(handle, EventKind.FAIL, None)

    def info(self, handle: int) -> None:
        """The outcome is unknown (e.g. a timeout): it may take effect at any later time."""
        self._complete(handle, EventKind.INFO, None)

    def _complete(self, handle: int, kind: EventKind, value: Any) -> None:
        with self._lock:
            inv = self._pending.pop(handle, None)
            if inv is None:
                raise ValueError(f"handle {handle} is unknown or already completed")
            self._events.append(Event(kind, handle, inv.process, inv.f, value, self._clock()))

    @property
    def pending(self) -> int:
        """How many invoked operations have not completed yet."""
        with self._lock:
            return len(self._pending)

    def events(self) -> list[Event]:
        """A snapshot of the events so far, in time order."""
        with self._lock:
            return list(self._events)

    def operations(self) -> list[Operation]:
        """The history as operations, ordered by invocation (pending ones become info)."""
        return operations_from_events(self.events())

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)

    def save(self, path: str | Path) -> Path:
        """Write the events so far as JSON lines (see :func:`load_events`)."""
        out = Path(path)
        out.write_text("".join(dump_event(ev) + "\n" for ev in self.events()))
        return out


def operations_from_events(events: Iterable[Event]) -> list[Operation]:
    """Pair invocations with completions (by handle). Unpaired invocations become info."""
    invokes: dict[int, Event] = {}
    done: dict[int, Operation] = {}
    order: list[int] = []
    for ev in events:
        if ev.kind is EventKind.INVOKE:
            if ev.handle in invokes:
                raise ValueError(f"handle {ev.handle} invoked twice")
            invokes[ev.handle] = ev
            order.append(ev.handle)
            continue
        inv = invokes.get(ev.handle)
        if inv is None or ev.handle in done:
            raise ValueError(f"completion without a pending invocation: {ev}")
        done[ev.handle] = _operation(len(done), inv, ev)
    ops: list[Operation] = []
    for handle in order:
        op = done.get(handle)
        if op is None:
            inv = invokes[handle]
            op = Operation(0, inv.process, inv.f, inv.value, UNKNOWN, inv.time, None, Status.INFO)
        ops.append(replace(op, id=len(ops)))
    return ops


def _operation(op_id: int, inv: Event, end: Event) -> Operation:
    if end.kind is EventKind.OK:
        return Operation(op_id, inv.process, inv.f, inv.value, end.value, inv.time, end.time)
    if end.kind is EventKind.FAIL:
        return Operation(
            op_id, inv.process, inv.f, inv.value, None, inv.time, end.time, Status.FAIL
        )
    return Operation(op_id, inv.process, inv.f, inv.value, UNKNOWN, inv.time, None, Status.INFO)


# -- saving and loading ---------------------------------------------------------------
# One JSON object per event. JSON has no tuples, bytes or sets, so those (and UNKNOWN)
# are written as one-key objects: {"tuple": [...]}, {"bytes": "<base64>"},
# {"set": [...]}, {"unknown": true}; a dict is {"map": [[key, value], ...]}.


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if value is UNKNOWN:
        return {"unknown": True}
    if isinstance(value, bytes):
        return {"bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, tuple):
        return {"tuple": [_encode(v) for v in value]}
    if isinstance(value, frozenset | set):
        return {"set": sorted((_encode(v) for v in value), key=json.dumps)}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {"map": [[_encode(k), _encode(v)] for k, v in value.items()]}
    raise TypeError(f"cannot save a {type(value).__name__} in a history: {value!r}")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        raise ValueError(f"not a saved history value: {value!r}")
    (tag, body), = value.items()
    if tag == "unknown":
        return UNKNOWN
    if tag == "bytes":
        return base64.b64decode(body)
    if tag == "tuple":
        return tuple(_decode(v) for v in body)
    if tag == "set":
        return frozenset(_decode(v) for v in body)
    if tag == "map":
        return {_decode(k): _decode(v) for k, v in body}
    raise ValueError(f"unknown tag {tag!r} in a saved history")


def dump_event(ev: Event) -> str:
    """One event as a line of JSON."""
    return json.dumps({
        "kind": ev.kind.value, "handle": ev.handle, "process": _encode(ev.process),
        "f": ev.f, "value": _encode(ev.value), "time": ev.time,
    })


def load_events(path: str | Path) -> list[Event]:
    """Read events written by :meth:`History.save`."""
    events = []
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        d = json.loads(line)
        events.append(Event(EventKind(d["kind"]), d["handle"], _decode(d["process"]), d["f"],
                            _decode(d["value"]), d["time"]))
    return events
