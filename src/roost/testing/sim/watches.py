"""What the simulated clients' watches must see, and the checks on what they do see.

The clients share a small namespace (`ROOT` and its children `NAMES`): they set exists,
data and child watches there (through the member they are connected to, in its
`WatchManager`, as the server's reads do), write there (create, ephemeral or not,
setData, delete) and their ephemerals go when their session ends. A client keeps its
watches as ZooKeeper's client does (three maps: data, exist, child; an event takes the
watches of its path that it fires); after a move to another member it re-registers them
with setWatches at the last zxid it saw (`WatchManager.set_watches`, the server's own).

`History` records every change to the namespace in zxid order, as the first member to
apply each zxid saw it. From it, each watch's due event is known: the first change after
the zxid of the tree it was set on that fires it (`Watch.due`). Checked:

- at an event: the client holds a watch it fires, and the event is that watch's due one
  (its type and its zxid): never an unwatched, repeated or wrong event;
- order on a connection: replies come in zxid order, and an event comes before any reply
  at its zxid or later (the event of a client's own write before that write's reply);
- nothing lost: when a member applies a watch's due zxid, the open connection holding the
  watch has its event; a reply at a zxid at or after a pending watch's due one is a lost
  (or late) event;
- re-registration: setWatches fires exactly the watches ZooKeeper's rules fire, judged
  from the history (the node's existence and its changes since the client's zxid), and
  the others stay registered, due from the member's zxid;
- a watch whose session ended (expired, closed) is excused: the client drops its watches.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from roost.tree import WatchEvent
from roost.wire.opcodes import EventType
from roost.wire.records import ACL

from .checker import InvariantViolation

#: the clients' shared namespace: a parent and the names its children take
ROOT = "/s"
NAMES = tuple(f"{ROOT}/{c}" for c in "abcd")
_PREFIX = ROOT  # (paths recorded: ROOT and below)

CREATED = int(EventType.NODE_CREATED)
DELETED = int(EventType.NODE_DELETED)
CHANGED = int(EventType.NODE_DATA_CHANGED)
CHILDREN = int(EventType.NODE_CHILDREN_CHANGED)

#: a client's watch maps (ZooKeeper's client: existWatches holds exists() watches on a
#: node that did not exist; dataWatches those of getData and exists() on one that did)
DATA, EXIST, CHILD = "data", "exist", "child"
#: the events that fire a watch of each map
_DATA_EVENTS = frozenset({CREATED, DELETED, CHANGED})
FIRES = {DATA: _DATA_EVENTS, EXIST: _DATA_EVENTS, CHILD: frozenset({CHILDREN, DELETED})}
#: the maps an event takes its path's watches from
TAKES = {CREATED: (DATA, EXIST), CHANGED: (DATA, EXIST), DELETED: (DATA, EXIST, CHILD),
         CHILDREN: (CHILD,)}


def _name(ev: int) -> str:
    return EventType(ev).name


@dataclass(eq=False)
class Watch:
    client: int
    path: str
    kind: str
    #: the zxid of the tree it was set (or last re-registered) on
    since: int
    #: the first change after `since` that fires it: (zxid, event type); None: none yet
    due: tuple[int, int] | None = None


class History:
    """The changes to the namespace: path -> [(zxid, event type)] in zxid order."""

    def __init__(self) -> None:
        self.by_path: dict[str, list[tuple[int, int]]] = {}
        self.last = 0  # the last zxid recorded (the newest any member applied)

    def record(self, zxid: int, events: Iterable[WatchEvent]) -> list[tuple[str, int]]:
        """The events a member applied at `zxid` (recorded once: by the first member to
        apply it); returns the (path, type) recorded."""
        if zxid <= self.last:
            return []
        self.last = zxid
        out = []
        for ev in events:
            if ev.path.startswith(_PREFIX):
                self.by_path.setdefault(ev.path, []).append((zxid, ev.type))
                out.append((ev.path, ev.type))
        return out

    def first_after(self, path: str, kind: str, since: int) -> tuple[int, int] | None:
        """The first change after zxid `since` that fires a watch of `kind` on `path`."""
        changes = self.by_path.get(path)
        if not changes:
            return None
        fires = FIRES[kind]
        for i in range(bisect.bisect_right(changes, (since, 1 << 30)), len(changes)):
            if changes[i][1] in fires:
                return changes[i]
        return None

    def exists_at(self, path: str, zxid: int) -> bool:
        """Whether `path` existed in the tree at `zxid` (its last create or delete)."""
        changes = self.by_path.get(path, ())
        for i in range(bisect.bisect_right(changes, (zxid, 1 << 30)) - 1, -1, -1):
            t = changes[i][1]
            if t == CREATED:
                return True
            if t == DELETED:
                return False
        return False


class SimConnection:
    """A client's connection to one member (one start of it): what reaches the client,
    in order. The member's `WatchManager` calls `notify`."""

    def __init__(self, watches: ClientWatches, client: int, member: int, incarnation: int,
                 last_zxid: int, seq: int) -> None:
        self.w = watches
        #: the run's count of connections when this one was made: its hash, so that the
        #: member's watcher sets iterate in the same order in every process (an id()-based
        #: hash made the order of events at one instant, and so the run, differ between
        #: processes: a seed must replay exactly anywhere)
        self.seq = seq
        self.client = client
        self.member = member
        self.incarnation = incarnation
        self.closed = False
        self.events = 0
        #: the largest zxid of a reply on it (the client's last zxid when it connected)
        self.last_reply = last_zxid
        #: the zxid of the last event on it
        self.last_event = 0

    def __hash__(self) -> int:
        return self.seq

    def notify(self, ev_type: int, path: str, acl: tuple[ACL, ...]) -> None:
        if not self.closed:
            self.w.on_event(self, ev_type, path, self.w.firing)


@dataclass
class WatchStats:
    set: int = 0  # watches set by reads
    events: int = 0  # events delivered (each checked)
    reregistered: int = 0  # watches re-registered by setWatches after a move
    fired_on_reregister: int = 0  # of which setWatches fired at once
    own_write_events: int = 0  # events for a client's own write, before its reply
    excused: int = 0  # watches dropped with their session


@dataclass
class ClientWatches:
    """The clients' watches and the checks on them (one per run)."""

    log: Callable[[str], None] | None = None
    history: History = field(default_factory=History)
    #: client -> its pending watches, (path, map) -> Watch
    pending: dict[int, dict[tuple[str, str], Watch]] = field(default_factory=dict)
    #: client -> its open connection
    conns: dict[int, SimConnection] = field(default_factory=dict)
    #: the zxid being applied while a member fires its watches
    firing: int = 0
    stats: WatchStats = field(default_factory=WatchStats)
    #: connections made so far (each one's hash)
    made: int = 0

    def _fail(self, text: str) -> None:
        raise InvariantViolation(f"watch: {text}")

    # --- the client's side ------------------------------------------------------------
    def connect(self, client: int, member: int, incarnation: int, last_zxid: int
                ) -> SimConnection:
        self.made += 1
        conn = SimConnection(self, client, member, incarnation, last_zxid, self.made)
        old = self.conns.get(client)
        if old is not None:
            old.closed = True
        self.conns[client] = conn
        return conn

    def set(self, conn: SimConnection, path: str, kind: str, zxid: int) -> None:
        """A read on `conn` at `zxid` left a watch of `kind` on `path` (the member holds it
        in its WatchManager); its reply follows (`reply`)."""
        mine = self.pending.setdefault(conn.client, {})
        if (path, kind) in mine:
            return  # the member holds one already: the first stays due
        mine[(path, kind)] = Watch(conn.client, path, kind, zxid,
                                   self.history.first_after(path, kind, zxid))
        self.stats.set += 1

    def reply(self, conn: SimConnection, zxid: int, what: str, write: bool = False) -> None:
        """A reply at `zxid` reaches the client on `conn` (`write`: of its write)."""
        if conn.closed or zxid <= 0:
            return
        if zxid < conn.last_reply or zxid < conn.last_event:
            self._fail(f"client {conn.client} got the reply of {what} at zxid {zxid} from "
                       f"node {conn.member} after a reply at {conn.last_reply} or an event at "
                       f"{conn.last_event}")
        if write and conn.last_event == zxid:
            self.stats.own_write_events += 1  # its own write fired its watch: event first
        conn.last_reply = zxid
        for w in self.pending.get(conn.client, {}).values():
            if w.due is not None and w.due[0] <= zxid:
                self._fail(f"client {conn.client} got the reply of {what} at zxid {zxid} from "
                           f"node {conn.member}, but not the event {_name(w.due[1])} of its "
                           f"{w.kind} watch on {w.path} (set at {w.since}), due at {w.due[0]}")

    def session_ended(self, client: int) -> None:
        """The client's session expired or was closed: its watches are gone with it."""
        self.stats.excused += len(self.pending.pop(client, {}))
        conn = self.conns.pop(client, None)
        if conn is not None:
            conn.closed = True

    def held(self, client: int) -> dict[str, list[str]]:
        """The paths of the client's pending watches, by map (what setWatches sends)."""
        out: dict[str, list[str]] = {DATA: [], EXIST: [], CHILD: []}
        for path, kind in sorted(self.pending.get(client, {})):
            out[kind].append(path)
        return out

    def reregistered(self, conn: SimConnection, rz: int, zxid: int,
                     events: list[tuple[int, str]]) -> None:
        """setWatches at the client's last zxid `rz` reached a member at `zxid`, which
        returned `events`: they must be what ZooKeeper's rules give, judged from the
        history; the watches it kept are due from `zxid` on."""
        mine = self.pending.get(conn.client, {})
        expect: list[tuple[int, str]] = []
        for (path, _kind), w in sorted(mine.items()):
            self.stats.reregistered += 1
            ev = self._on_reregister(w, zxid)
            if ev is not None:
                expect.append((ev, path))
        if sorted(expect) != sorted(events):
            self._fail(
                f"client {conn.client} re-registered its watches at zxid {rz} on node "
                f"{conn.member} (at {zxid}), which fired "
                f"{sorted((_name(t), p) for t, p in events)}; expected "
                f"{sorted((_name(t), p) for t, p in expect)}")
        fired = {p for _, p in events}
        for key in [k for k in mine if k[0] in fired]:
            del mine[key]
        for w in mine.values():  # registered there: due from the member's zxid
            w.since = zxid
            w.due = self.history.first_after(w.path, w.kind, zxid)
        self.stats.fired_on_reregister += len(events)
        self.stats.events += len(events)
        conn.events += len(events)

    def _on_reregister(self, w: Watch, zxid: int) -> int | None:
        """The event setWatches must fire for `w` on a tree at `zxid` (ZooKeeper's rules):
        none if nothing fired it since it was set; else NodeDeleted if the node is gone,
        NodeCreated for an exists watch (which misses a node created and deleted while the
        client was away), NodeDataChanged or NodeChildrenChanged."""
        first = self.history.first_after(w.path, w.kind, w.since)
        if first is None or first[0] > zxid:
            return None
        exists = self.history.exists_at(w.path, zxid)
        if w.kind == EXIST:
            return CREATED if exists else None
        if not exists:
            return DELETED
        return CHANGED if w.kind == DATA else CHILDREN

    # --- the member's side ------------------------------------------------------------
    def applied(self, zxid: int, events: list[WatchEvent]) -> None:
        """A member applies `zxid` (before it fires its watches): record the changes and
        make the pending watches they fire due."""
        self.firing = zxid
        for path, ev in self.history.record(zxid, events):
            for mine in self.pending.values():
                for kind in TAKES[ev]:
                    w = mine.get((path, kind))
                    if w is not None and w.due is None and ev in FIRES[kind]:
                        w.due = (zxid, ev)

    def fired(self, member: int, incarnation: int, zxid: int) -> None:
        """The member fired its watches for `zxid`: every open connection to it holding a
        watch due there has its event."""
        for client, conn in self.conns.items():
            if conn.member != member or conn.incarnation != incarnation or conn.closed:
                continue
            for w in self.pending.get(client, {}).values():
                if w.due is not None and w.due[0] <= zxid:
                    self._fail(f"client {client}'s {w.kind} watch on {w.path} (set at "
                               f"{w.since}) lost: node {member} applied zxid {zxid} without "
                               f"sending its event {_name(w.due[1])} (due at {w.due[0]})")

    def on_event(self, conn: SimConnection, ev: int, path: str, zxid: int) -> None:
        mine = self.pending.get(conn.client, {})
        taken = [w for kind in TAKES.get(ev, ()) if (w := mine.get((path, kind)))]
        where = (f"client {conn.client} got {_name(ev)} {path} at zxid {zxid} from node "
                 f"{conn.member}")
        if not taken:
            self._fail(f"{where}, which it does not watch (a second event, or never set)")
        for w in taken:
            if w.due != (zxid, ev):
                due = "no change yet" if w.due is None else f"{_name(w.due[1])} at {w.due[0]}"
                self._fail(f"{where}; its {w.kind} watch (set at {w.since}) was due {due}")
            del mine[(w.path, w.kind)]
        if zxid <= conn.last_reply:
            self._fail(f"{where} after a reply at zxid {conn.last_reply}")
        conn.last_event = zxid
        conn.events += 1
        self.stats.events += 1
        if self.log is not None:
            self.log(f"{where}")
