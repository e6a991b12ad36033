"""Server-local watch tables, fed by the events that DataTree.apply returns.

A watcher is a connection: one connection gets at most one notification per
trigger. Standard watches are one-shot; persistent and persistent-recursive
watches (addWatch) stay until removed or the connection closes.

Each table is indexed both ways: path -> watchers (what a trigger needs) and
watcher -> paths (what closing a connection needs), so forgetting a connection
costs what that connection owns, not what the whole server watches. Every
change to one direction is mirrored in the other, including the one-shot
watches a trigger consumes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Protocol

from roost.tree import DataTree, WatchEvent
from roost.wire.opcodes import EventType, WatcherType
from roost.wire.records import ACL, SetWatches, SetWatches2


class Watcher(Protocol):
    def notify(self, ev_type: int, path: str, acl: tuple[ACL, ...]) -> None: ...


Table = dict[str, set[Watcher]]
#: the reverse of a Table: watcher -> the paths it watches there. A watcher whose
#: one-shot watches all fired may keep an empty set here until it is dropped.
Owned = dict[Watcher, set[str]]

#: table numbers, the order of `WatchManager.tables` and `WatchManager.owned`
DATA, CHILD, PERSISTENT, RECURSIVE = range(4)

_CHILDREN_CHANGED = EventType.NODE_CHILDREN_CHANGED
_DELETED = EventType.NODE_DELETED


def ancestors(path: str) -> Iterable[str]:
    """path itself, then each ancestor up to "/"."""
    yield path
    while path != "/":
        path = path.rsplit("/", 1)[0] or "/"
        yield path


def _tables_for(wtype: int) -> tuple[int, ...]:
    """The tables removeWatches/checkWatches of this WatcherType look at, in order."""
    if wtype == WatcherType.ANY:
        return (CHILD, DATA, PERSISTENT, RECURSIVE)
    if wtype == WatcherType.CHILDREN:
        return (CHILD,)
    if wtype == WatcherType.DATA:
        return (DATA,)
    return ()


class WatchManager:
    def __init__(self) -> None:
        self.data: Table = {}
        self.child: Table = {}
        self.persistent: Table = {}
        self.recursive: Table = {}
        self.tables: tuple[Table, Table, Table, Table] = (
            self.data,
            self.child,
            self.persistent,
            self.recursive,
        )
        #: the reverse index, table by table: watcher -> the paths it watches there
        self.owned: tuple[Owned, Owned, Owned, Owned] = ({}, {}, {}, {})
        self._count = 0  # (path, watcher) pairs over all tables

    # --- registration -------------------------------------------------------------
    def add_data(self, path: str, w: Watcher) -> None:
        self._add(DATA, path, w)

    def add_child(self, path: str, w: Watcher) -> None:
        self._add(CHILD, path, w)

    def add_persistent(self, path: str, w: Watcher, recursive: bool) -> None:
        self._add(RECURSIVE if recursive else PERSISTENT, path, w)

    def set_watches(
        self, tree: DataTree, w: Watcher, req: SetWatches | SetWatches2
    ) -> list[tuple[int, str]]:
        """setWatches/setWatches2 after a reconnect: the watches a client held on another
        connection, set when its tree was at `relativeZxid` (the last zxid it saw), are
        registered here, except those a change since has fired: their events are returned
        (event type, path), for the connection to send before the reply. As ZooKeeper does:
        a data watch fires NodeDeleted (gone) or NodeDataChanged (mzxid later), an exists
        watch NodeCreated (the node exists), a child watch NodeDeleted or
        NodeChildrenChanged (pzxid later)."""
        rz = req.relativeZxid
        events: list[tuple[int, str]] = []
        for path in req.dataWatches:
            node = tree.get(path)
            if node is None:
                events.append((EventType.NODE_DELETED, path))
            elif node.mzxid > rz:
                events.append((EventType.NODE_DATA_CHANGED, path))
            else:
                self.add_data(path, w)
        for path in req.existWatches:
            if tree.get(path) is not None:
                events.append((EventType.NODE_CREATED, path))
            else:
                self.add_data(path, w)
        for path in req.childWatches:
            node = tree.get(path)
            if node is None:
                events.append((EventType.NODE_DELETED, path))
            elif node.pzxid > rz:
                events.append((EventType.NODE_CHILDREN_CHANGED, path))
            else:
                self.add_child(path, w)
        if isinstance(req, SetWatches2):
            for path in req.persistentWatches:
                self.add_persistent(path, w, False)
            for path in req.persistentRecursiveWatches:
                self.add_persistent(path, w, True)
        return events

    def remove(self, path: str, w: Watcher, wtype: int, dry_run: bool = False) -> bool:
        """removeWatches/checkWatches: True if this connection had such a watch."""
        if dry_run:
            return any(w in self.tables[k].get(path, ()) for k in _tables_for(wtype))
        found = False
        for kind in _tables_for(wtype):
            found = self._discard(kind, path, w) or found
        return found

    def drop(self, w: Watcher) -> None:
        """Forget every watch of a closed connection."""
        for kind in (DATA, CHILD, PERSISTENT, RECURSIVE):
            paths = self.owned[kind].pop(w, None)
            if not paths:
                continue
            table = self.tables[kind]
            for p in paths:
                s = table[p]
                s.discard(w)
                if not s:
                    del table[p]
            self._count -= len(paths)

    def _add(self, kind: int, path: str, w: Watcher) -> None:
        table = self.tables[kind]
        s = table.get(path)
        if s is None:
            table[path] = {w}
        elif w in s:
            return
        else:
            s.add(w)
        self._count += 1
        owned = self.owned[kind]
        paths = owned.get(w)
        if paths is None:
            owned[w] = {path}
        else:
            paths.add(path)

    def _discard(self, kind: int, path: str, w: Watcher) -> bool:
        table = self.tables[kind]
        s = table.get(path)
        if s is None or w not in s:
            return False
        s.discard(w)
        if not s:
            del table[path]
        self._count -= 1
        owned = self.owned[kind]
        paths = owned[w]
        paths.discard(path)
        if not paths:
            del owned[w]
        return True

    def _pop(self, kind: int, path: str) -> set[Watcher] | None:
        """Take the one-shot watches of a path out of both directions of a table."""
        popped = self.tables[kind].pop(path, None)
        if popped:
            self._count -= len(popped)
            owned = self.owned[kind]
            for w in popped:
                owned[w].discard(path)
        return popped

    # --- firing ---------------------------------------------------------------------
    def trigger(self, events: list[WatchEvent]) -> None:
        if not self._count:
            return  # nobody watches anything: the common case under write load
        for ev in events:
            for w in self._targets(ev.type, ev.path):
                w.notify(ev.type, ev.path, ev.acl)

    def _targets(self, ev_type: int, path: str) -> Collection[Watcher]:
        """Who hears this event; the indexes are already up to date when it returns.

        The returned set is never one the tables hold, so a watcher's notify may add
        or drop watches while the caller iterates over it.
        """
        if ev_type == _CHILDREN_CHANGED:
            out = self._pop(CHILD, path)
        else:
            out = self._pop(DATA, path)
            if ev_type == _DELETED:
                gone = self._pop(CHILD, path)
                if gone:
                    if out is None:
                        out = gone
                    else:
                        out |= gone
        live = self.persistent.get(path)
        if live:
            if out is None:
                out = set(live)
            else:
                out |= live
        if ev_type != _CHILDREN_CHANGED and self.recursive:
            rec = self.recursive
            for p in ancestors(path):
                live = rec.get(p)
                if live:
                    if out is None:
                        out = set(live)
                    else:
                        out |= live
        return out or ()

    # --- stats ------------------------------------------------------------------------
    def count(self) -> int:
        return self._count

    def by_path(self) -> dict[str, set[Watcher]]:
        out: dict[str, set[Watcher]] = {}
        for t in self.tables:
            for p, s in t.items():
                out.setdefault(p, set()).update(s)
        return out

    def paths_of(self, w: Watcher, pred: Callable[[str], bool] = lambda p: True) -> list[str]:
        paths: set[str] = set()
        for owned in self.owned:
            paths.update(owned.get(w, ()))
        return sorted(p for p in paths if pred(p))
