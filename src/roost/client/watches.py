"""The client's own table of watches: who to call for which event, and what to re-register.

Paths here are the client's (chroot removed). The server keeps watches per
connection, so after a reconnect the connection sends these paths back with
setWatches/setWatches2 (see `Connection`), and after a session loss they are
cleared and every watcher is told with an EXPIRED event.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator

from roost.client.events import Callback
from roost.wire.opcodes import EventType, Op
from roost.wire.records import Record, SetWatches, SetWatches2

#: setWatches requests are split so that each carries at most this many path bytes
SET_WATCHES_CHUNK = 128 * 1024


class WatchKind(enum.Enum):
    DATA = "data"  # getData / exists on an existing node
    EXIST = "exist"  # exists on a missing node
    CHILD = "child"  # getChildren
    PERSISTENT = "persistent"  # addWatch mode 0
    RECURSIVE = "recursive"  # addWatch mode 1

    @property
    def one_shot(self) -> bool:
        return self in (WatchKind.DATA, WatchKind.EXIST, WatchKind.CHILD)


#: one-shot tables an event type consumes
_FIRES: dict[int, tuple[WatchKind, ...]] = {
    EventType.NODE_CREATED: (WatchKind.DATA, WatchKind.EXIST),
    EventType.NODE_DATA_CHANGED: (WatchKind.DATA, WatchKind.EXIST),
    EventType.NODE_DELETED: (WatchKind.DATA, WatchKind.EXIST, WatchKind.CHILD),
    EventType.NODE_CHILDREN_CHANGED: (WatchKind.CHILD,),
}


def ancestors(path: str) -> list[str]:
    """``/a/b`` -> ``['/a/b', '/a', '/']``."""
    out = [path]
    while path != "/":
        path = path.rsplit("/", 1)[0] or "/"
        out.append(path)
    return out


class WatchRegistry:
    """path -> callbacks, one table per `WatchKind`. One callback is called once per event."""

    def __init__(self) -> None:
        self._tables: dict[WatchKind, dict[str, list[Callback]]] = {k: {} for k in WatchKind}

    def add(self, kind: WatchKind, path: str, callback: Callback) -> None:
        cbs = self._tables[kind].setdefault(path, [])
        if not any(c is callback for c in cbs):
            cbs.append(callback)

    def paths(self, kind: WatchKind) -> list[str]:
        return list(self._tables[kind])

    def __bool__(self) -> bool:
        return any(self._tables.values())

    def watching(self, path: str) -> bool:
        """True if any watch of any kind is registered on exactly ``path``."""
        return any(path in table for table in self._tables.values())

    def has_persistent(self) -> bool:
        return bool(self._tables[WatchKind.PERSISTENT] or self._tables[WatchKind.RECURSIVE])

    def triggered(self, event_type: int, path: str) -> list[Callback]:
        """The callbacks an event reaches; one-shot watches it fires are removed."""
        found: list[Callback] = []
        for kind in _FIRES.get(event_type, ()):
            found.extend(self._tables[kind].pop(path, ()))
        found.extend(self._tables[WatchKind.PERSISTENT].get(path, ()))
        if event_type != EventType.NODE_CHILDREN_CHANGED:
            rec = self._tables[WatchKind.RECURSIVE]
            for p in ancestors(path):
                found.extend(rec.get(p, ()))
        return _unique(found)

    def remove(
        self, path: str, kinds: Iterable[WatchKind], callback: Callback | None = None
    ) -> list[tuple[WatchKind, Callback]]:
        """Drop the path's watches of those kinds (only ``callback``'s, if given)."""
        removed: list[tuple[WatchKind, Callback]] = []
        for kind in kinds:
            table = self._tables[kind]
            cbs = table.get(path, [])
            keep = [c for c in cbs if callback is not None and c is not callback]
            removed.extend((kind, c) for c in cbs if not any(c is k for k in keep))
            if keep:
                table[path] = keep
            else:
                table.pop(path, None)
        return removed

    def clear(self) -> list[tuple[str, Callback]]:
        """Forget every watch; returns each (path, callback) once, to notify them."""
        seen: list[tuple[str, Callback]] = []
        keys: set[tuple[str, int]] = set()
        for table in self._tables.values():
            for path, cbs in table.items():
                for cb in cbs:
                    if (path, id(cb)) not in keys:
                        keys.add((path, id(cb)))
                        seen.append((path, cb))
            table.clear()
        return seen


def _unique(cbs: list[Callback]) -> list[Callback]:
    out: list[Callback] = []
    for cb in cbs:
        if not any(c is cb for c in out):
            out.append(cb)
    return out


def set_watches_requests(
    reg: WatchRegistry, server_path: Callable[[str], str], last_zxid: int
) -> Iterator[tuple[int, Record]]:
    """The (opcode, record) of each setWatches (setWatches2 once a persistent or recursive
    watch exists) request that re-registers `reg`'s watches, at most `SET_WATCHES_CHUNK`
    path bytes each, with relativeZxid `last_zxid`; paths made the server's by
    `server_path`."""
    if not reg:
        return
    kinds = [WatchKind.DATA, WatchKind.EXIST, WatchKind.CHILD]
    v2 = reg.has_persistent()
    if v2:
        kinds += [WatchKind.PERSISTENT, WatchKind.RECURSIVE]
    lists: list[list[str]] = [[] for _ in kinds]
    size = 0
    for i, kind in enumerate(kinds):
        for path in reg.paths(kind):
            sp = server_path(path)
            lists[i].append(sp)
            size += len(sp) + 4
            if size >= SET_WATCHES_CHUNK:
                yield _set_watches(v2, last_zxid, lists)
                lists, size = [[] for _ in kinds], 0
    if size:
        yield _set_watches(v2, last_zxid, lists)


def _set_watches(v2: bool, zxid: int, lists: list[list[str]]) -> tuple[int, Record]:
    rec: Record = SetWatches2(zxid, *lists) if v2 else SetWatches(zxid, *lists)
    return (Op.SET_WATCHES2 if v2 else Op.SET_WATCHES), rec


__all__ = ["WatchKind", "WatchRegistry", "ancestors", "set_watches_requests"]
