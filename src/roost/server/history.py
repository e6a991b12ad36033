"""The event history behind resumable watch streams (docs/client.md, "Watch history").

Pure logic, no I/O: the server appends the events of every applied txn (one group per
zxid) and asks for the events after a zxid, filtered by path. The history is bounded by
event count, estimated bytes and age; trimming drops whole zxid groups, oldest first,
and moves `floor` up: the history holds every event with a zxid above `floor`, so a
request from a zxid below `floor` is answered with `Compacted(floor)`.

Age is measured in txn time (the proposer's clock stamped into each txn), so the
history is a function of the applied txns alone: every member holds the same one, and
a restart that replays the log rebuilds it.

Every snapshot carries the history as of its index (`encode`; the snapshot file holds it
next to the tree image, see roost.server.standalone and roost.server.raftstore), so a
restart loads it with the tree and replays the log after it, and a member that installs a
leader's snapshot gets the leader's history with it: every member serves the same history
whatever it restarted from. Image layout (msgpack, never pickle)::

    ["roost-history", 1, floor, last, last_time_ms, acls, groups]

``acls`` is the list of the events' distinct ACLs, each ``[[perms, scheme, id], ...]``,
numbered by position; ``groups`` is ``[[zxid, time_ms, [[type, path, data, acl], ...]], ...]``
oldest first, ``acl`` a number in ``acls``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import msgpack

from roost.wire.opcodes import EventType
from roost.wire.records import ACL, Id

#: estimated bytes one event costs beyond its path and data (the event object, the path
#: and data objects' headers), and one zxid group (the group, its tuple, index slots);
#: measured with tracemalloc by tests/server/test_history_memory.py (CPython 3.11, 64-bit)
EVENT_OVERHEAD = 176
GROUP_OVERHEAD = 224

_CHILDREN = int(EventType.NODE_CHILDREN_CHANGED)

IMAGE_MAGIC = "roost-history"
IMAGE_VERSION = 1


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


class HistoryImageError(ValueError):
    """Bytes that are not a history image this version can read."""


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
        #: the time of the last txn appended (what age is trimmed against)
        self.last_time_ms = 0
        self.events = 0
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._groups) - self._head

    def reset(self, floor: int) -> None:
        """Forget everything: the history starts at `floor` (it cannot go on from where it
        was: a txn arrived out of order)."""
        self._groups, self._zxids, self._head = [], [], 0
        self.floor = self.last = floor
        self.events = self.bytes = 0

    def append(self, zxid: int, time_ms: int, events: Sequence[HistoryEvent]) -> None:
        """Record the events of the txn at `zxid` (zxids must grow), then trim."""
        if zxid <= self.last:
            raise ValueError(f"zxid 0x{zxid:x} is not after 0x{self.last:x}")
        self.last = zxid
        self.last_time_ms = max(self.last_time_ms, time_ms)
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


# --- the image saved with each snapshot ---------------------------------------------------


def encode(history: EventHistory, last: int) -> bytes:
    """The image of `history` as of zxid `last` (the snapshot's index: every txn up to it
    was appended, the later ones are not)."""
    if last < history.last:
        raise ValueError(f"history reaches 0x{history.last:x}, past the image's 0x{last:x}")
    acl_numbers: dict[tuple[ACL, ...], int] = {}
    by_id: dict[int, int] = {}
    acls: list[list[list[Any]]] = []
    groups: list[list[Any]] = []
    for g in history.groups_after(history.floor):
        rows = []
        for e in g.events:
            n = by_id.get(id(e.acl))
            if n is None:
                n = acl_numbers.setdefault(e.acl, len(acls))
                if n == len(acls):
                    acls.append([[a.perms, a.id.scheme, a.id.id] for a in e.acl])
                by_id[id(e.acl)] = n
            rows.append([e.type, e.path, e.data, n])
        groups.append([g.zxid, g.time_ms, rows])
    head = [IMAGE_MAGIC, IMAGE_VERSION, history.floor, last, history.last_time_ms, acls]
    out: bytes = msgpack.packb([*head, groups], use_bin_type=True)
    return out


def decode(image: bytes, limits: Limits | None = None) -> EventHistory:
    """Load an `encode` image, trimmed to `limits`; HistoryImageError says what is wrong."""
    try:
        raw = msgpack.unpackb(image, raw=False, use_list=True)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise HistoryImageError(f"not a history image: {exc!r}") from None
    if not isinstance(raw, list) or len(raw) < 2 or raw[0] != IMAGE_MAGIC:
        raise HistoryImageError("not a history image")
    version = raw[1]
    if version != IMAGE_VERSION:
        newer = type(version) is int and version > IMAGE_VERSION
        raise HistoryImageError(
            f"history image format version {version!r} "
            + ("was written by a newer roost" if newer else "is not one this roost reads")
            + f" (this one reads version {IMAGE_VERSION})"
        )
    try:
        _, _, floor, last, last_time, acl_rows, groups = raw
        return _load(limits, floor, last, last_time, acl_rows, groups)
    except HistoryImageError:
        raise
    except (ValueError, TypeError, LookupError) as exc:
        raise HistoryImageError(f"bad history image: {exc!r}") from None


def _int(x: object, what: str) -> int:
    if type(x) is not int or x < 0:
        raise HistoryImageError(f"bad {what} {x!r}")
    return x


def _load(
    limits: Limits | None, floor: object, last: object, last_time: object, acl_rows: Any,
    groups: Any,
) -> EventHistory:
    h = EventHistory(limits, _int(floor, "floor"))
    acls = [
        tuple(ACL(_int(p, "ACL perms"), Id(str(s), str(i))) for p, s, i in row) for row in acl_rows
    ]
    prev = h.floor
    for zxid, time_ms, rows in groups:
        if _int(zxid, "zxid") <= prev:
            raise HistoryImageError(f"zxid 0x{zxid:x} is not after 0x{prev:x}")
        events = []
        for etype, path, data, acl in rows:
            if type(path) is not str or not (data is None or type(data) is bytes):
                raise HistoryImageError(f"bad event at zxid 0x{zxid:x}: {path!r}")
            acl = acls[_int(acl, "ACL number")]
            events.append(HistoryEvent(_int(etype, "event type"), path, data, acl))
        if not events:
            raise HistoryImageError(f"zxid 0x{zxid:x} has no events")
        h.append(zxid, _int(time_ms, "time"), events)
        prev = zxid
    upto = _int(last, "last zxid")
    if upto < h.last:
        raise HistoryImageError(f"last zxid 0x{upto:x} before its events' 0x{h.last:x}")
    h.last = upto
    h.last_time_ms = max(h.last_time_ms, _int(last_time, "last time"))
    h.trim(h.last_time_ms)
    return h
