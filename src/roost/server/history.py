"""The event history behind resumable watch streams (docs/client.md, "Watch history").

Pure logic, no I/O: the server appends the events of every applied txn (one group per
zxid) and asks for the events after a zxid, filtered by path. The history is bounded by
event count, estimated bytes and age; trimming drops whole zxid groups, oldest first,
and moves `floor` up: the history holds every event with a zxid above `floor`, so a
request from a zxid below `floor` is answered with `Compacted(floor)`.

Age is measured in txn time (the proposer's clock stamped into each txn), so the
history is a function of the applied txns alone: every member holds the same one, and
a restart that replays the log rebuilds it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from roost.wire.opcodes import EventType
from roost.wire.records import ACL

#: estimated bytes one event costs beyond its path and data (the event object, the path
#: and data objects' headers), and one zxid group (the group, its tuple, index slots);
#: measured with tracemalloc by tests/server/test_history_memory.py (CPython 3.11, 64-bit)
EVENT_OVERHEAD = 176
GROUP_OVERHEAD = 224

_CHILDREN = int(EventType.NODE_CHILDREN_CHANGED)


@dataclass(slots=True)  # not frozen (6x slower to build; one per applied change): a value
class HistoryEvent:
    """One change as a watch stream reports it."""

    type: int  # EventType: created, deleted, data changed, children changed, ACL changed
    path: str
    data: bytes | None  # the node's data as of this zxid (created / data changed), else None
    acl: tuple[ACL, ...]  # the node's ACL, so delivery can be filtered by READ

    @property
    def size(self) -> int:
        return EVENT_OVERHEAD + len(self.path) + (len(self.data) if self.data else 0)


@dataclass(slots=True)  # a value, never changed; not frozen (see HistoryEvent)
class Group:
    """The events of one zxid, in the order the txn made them."""

    zxid: int
    time_ms: int
    events: tuple[HistoryEvent, ...]
    size: int


@dataclass(frozen=True, slots=True)
class Limits:
    max_events: int = 100_000
    max_bytes: int = 64 * 1024 * 1024
    max_age_ms: int = 3_600_000


class Compacted(Exception):
    """The history no longer reaches back to the requested zxid."""

    def __init__(self, floor: int) -> None:
        super().__init__(f"compacted at zxid 0x{floor:x}")
        self.floor = floor


def matches(event: HistoryEvent, path: str, recursive: bool) -> bool:
    """Whether a stream on `path` reports `event`.

    Non-recursive: every event on the node itself, children changes included (like a
    persistent watch). Recursive: every event on the node and its descendants except
    children changes, which the descendants' own create/delete events already say
    (like a persistent recursive watch).
    """
    p = event.path
    if not recursive:
        return p == path
    if event.type == _CHILDREN:
        return False
    return p == path or path == "/" or p.startswith(path + "/")


def select(events: Iterable[HistoryEvent], path: str, recursive: bool) -> list[HistoryEvent]:
    return [e for e in events if matches(e, path, recursive)]


class EventHistory:
    def __init__(self, limits: Limits | None = None, floor: int = 0) -> None:
        self.limits = limits or Limits()
        self._groups: list[Group] = []
        self._zxids: list[int] = []
        self._head = 0  # groups before this index were trimmed (list compacted lazily)
        self.floor = floor
        self.last = floor
        self.events = 0
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._groups) - self._head

    def reset(self, floor: int) -> None:
        """Forget everything: the history starts at `floor` (a snapshot was installed)."""
        self._groups, self._zxids, self._head = [], [], 0
        self.floor = self.last = floor
        self.events = self.bytes = 0

    def append(self, zxid: int, time_ms: int, events: Sequence[HistoryEvent]) -> None:
        """Record the events of the txn at `zxid` (zxids must grow), then trim."""
        if zxid <= self.last:
            raise ValueError(f"zxid 0x{zxid:x} is not after 0x{self.last:x}")
        self.last = zxid
        if events:
            size = GROUP_OVERHEAD
            for e in events:
                size += EVENT_OVERHEAD + len(e.path) + (len(e.data) if e.data else 0)
            self._groups.append(Group(zxid, time_ms, tuple(events), size))
            self._zxids.append(zxid)
            self.events += len(events)
            self.bytes += size
        self.trim(time_ms)

    def trim(self, now_ms: int) -> None:
        lim = self.limits
        oldest = now_ms - lim.max_age_ms
        groups = self._groups
        while self._head < len(groups):
            g = groups[self._head]
            if (
                self.events <= lim.max_events
                and self.bytes <= lim.max_bytes
                and g.time_ms >= oldest
            ):
                break
            self._head += 1
            self.events -= len(g.events)
            self.bytes -= g.size
            self.floor = g.zxid
        if self._head == len(groups):
            groups.clear()
            self._zxids.clear()
            self._head = 0
        elif self._head > 64 and self._head * 2 > len(groups):
            del groups[: self._head]
            del self._zxids[: self._head]
            self._head = 0

    def groups_after(self, zxid: int) -> Iterator[Group]:
        """Every group after `zxid`, oldest first; `Compacted` if events after `zxid` were
        dropped (nothing is dropped when `zxid` >= `floor`)."""
        if zxid < self.floor:
            raise Compacted(self.floor)
        start = bisect_right(self._zxids, zxid, self._head)
        return iter(self._groups[start:])

    def after(self, zxid: int, path: str, recursive: bool) -> list[tuple[int, list[HistoryEvent]]]:
        """(zxid, matching events) for every zxid after `zxid` with a matching event."""
        out: list[tuple[int, list[HistoryEvent]]] = []
        for g in self.groups_after(zxid):
            sel = select(g.events, path, recursive)
            if sel:
                out.append((g.zxid, sel))
        return out
