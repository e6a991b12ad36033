"""Server-local watch tables, fed by the events that DataTree.apply returns.

A watcher is a connection: one connection gets at most one notification per
trigger. Standard watches are one-shot; persistent and persistent-recursive
watches (addWatch) stay until removed or the connection closes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from roost.tree import WatchEvent
from roost.wire.opcodes import EventType, WatcherType
from roost.wire.records import ACL


class Watcher(Protocol):
    def notify(self, ev_type: int, path: str, acl: tuple[ACL, ...]) -> None: ...


Table = dict[str, set[Watcher]]


def _add(table: Table, path: str, w: Watcher) -> None:
    s = table.get(path)
    if s is None:
        table[path] = {w}
    else:
        s.add(w)


def _pop(table: Table, path: str) -> set[Watcher]:
    return table.pop(path, None) or set()


def _discard(table: Table, path: str, w: Watcher) -> bool:
    s = table.get(path)
    if s is None or w not in s:
        return False
    s.discard(w)
    if not s:
        del table[path]
    return True


def ancestors(path: str) -> Iterable[str]:
    """path itself, then each ancestor up to "/"."""
    yield path
    while path != "/":
        path = path.rsplit("/", 1)[0] or "/"
        yield path


class WatchManager:
    def __init__(self) -> None:
        self.data: Table = {}
        self.child: Table = {}
        self.persistent: Table = {}
        self.recursive: Table = {}

    # --- registration -------------------------------------------------------------
    def add_data(self, path: str, w: Watcher) -> None:
        _add(self.data, path, w)

    def add_child(self, path: str, w: Watcher) -> None:
        _add(self.child, path, w)

    def add_persistent(self, path: str, w: Watcher, recursive: bool) -> None:
        _add(self.recursive if recursive else self.persistent, path, w)

    def remove(self, path: str, w: Watcher, wtype: int, dry_run: bool = False) -> bool:
        """removeWatches/checkWatches: True if this connection had such a watch."""
        tables: list[Table] = []
        if wtype in (WatcherType.CHILDREN, WatcherType.ANY):
            tables.append(self.child)
        if wtype in (WatcherType.DATA, WatcherType.ANY):
            tables.append(self.data)
        if wtype == WatcherType.ANY:
            tables += [self.persistent, self.recursive]
        found = False
        for t in tables:
            found = found or w in t.get(path, ()) if dry_run else _discard(t, path, w) or found
        return found

    def drop(self, w: Watcher) -> None:
        """Forget every watch of a closed connection."""
        for table in (self.data, self.child, self.persistent, self.recursive):
            for path in [p for p, s in table.items() if w in s]:
                _discard(table, path, w)

    # --- firing ---------------------------------------------------------------------
    def trigger(self, events: list[WatchEvent]) -> None:
        if not (self.data or self.child or self.persistent or self.recursive):
            return  # nobody watches anything: the common case under write load
        for ev in events:
            for w in self._targets(ev.type, ev.path):
                w.notify(ev.type, ev.path, ev.acl)

    def _targets(self, ev_type: int, path: str) -> set[Watcher]:
        if ev_type == EventType.NODE_CHILDREN_CHANGED:
            targets = _pop(self.child, path)
            targets |= self.persistent.get(path, set())
            return targets
        targets = _pop(self.data, path)
        if ev_type == EventType.NODE_DELETED:
            targets |= _pop(self.child, path)
        targets |= self.persistent.get(path, set())
        if self.recursive:
            for p in ancestors(path):
                targets |= self.recursive.get(p, set())
        return targets

    # --- stats ------------------------------------------------------------------------
    def count(self) -> int:
        return sum(
            len(s)
            for t in (self.data, self.child, self.persistent, self.recursive)
            for s in t.values()
        )

    def by_path(self) -> dict[str, set[Watcher]]:
        out: dict[str, set[Watcher]] = {}
        for t in (self.data, self.child, self.persistent, self.recursive):
            for p, s in t.items():
                out.setdefault(p, set()).update(s)
        return out

    def paths_of(self, w: Watcher, pred: Callable[[str], bool] = lambda p: True) -> list[str]:
        return sorted({p for p, s in self.by_path().items() if w in s and pred(p)})
