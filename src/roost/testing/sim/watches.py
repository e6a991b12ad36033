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
- order on a connection: replies come in request (xid) order (`SimConnection`), and an
  event comes before any reply at its zxid or later (the event of a client's own write
  before that write's reply, and before the reply of any request sent after that
  write). Replies' zxids need not grow: a sync's reply names the zxid its barrier passed
  at, which may be below that of a write sent before it and answered first; and one
  session's writes forwarded over the simulated network (which loses and reorders, unlike
  production's TCP links) may apply out of the order they were sent in;
- nothing lost: when a member applies a watch's due zxid, the open connection holding the
  watch has its event queued (delivered, or held with the connection's output); a reply
  at a zxid at or after a pending watch's due one is a lost (or late) event;
- re-registration: setWatches fires exactly the watches ZooKeeper's rules fire, judged
  from the history (the node's existence and its changes since the client's zxid), and
  the others stay registered, due from the member's zxid;
- a watch whose session ended (expired, closed) is excused: the client drops its watches.

Persistent watches (addWatch, ZooKeeper 3.6+: PERSISTENT on a path, every event there;
PERSISTENT_RECURSIVE on a path and below, every event but NodeChildrenChanged), set with
the server's `WatchManager.add_persistent` and kept until the connection closes: on a
connection, from the zxid the member registered one at, every matching change in the
history reaches the client once and in zxid order (`PersistentWatch`: an event must be the
next matching change; when a member applies a zxid, the matching changes up to there are
queued on the connection; a reply at a zxid must come after every matching change up to
it). After a move, setWatches re-registers them at the new member's zxid, as ZooKeeper
does, without the changes made in between (counted, not checked: `persistent_missed`);
their session's end drops them.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from roost.tree import WatchEvent
from roost.wire.jute import Reader
from roost.wire.opcodes import EventType, KeeperState, WatcherType, Xid
from roost.wire.protocol import decode_reply_header, encode_reply
from roost.wire.records import ACL, WatcherEvent
from roost.wire.session import ReplyQueue, Slot

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


#: the client's maps removeWatches and checkWatches of each WatcherType look at (as
#: `roost.client`'s; ANY also the persistent and recursive watches on the path)
_ANY = int(WatcherType.ANY)
REMOVE_KINDS = {int(WatcherType.CHILDREN): (CHILD,), int(WatcherType.DATA): (DATA, EXIST),
                _ANY: (DATA, EXIST, CHILD)}


def _name(ev: int) -> str:
    return EventType(ev).name


@dataclass(eq=False)
class PersistentWatch:
    """A client's persistent watch on `path` (`recursive`: and below), registered on
    `conn` by a member whose tree was at `since`."""

    path: str
    recursive: bool
    conn: SimConnection
    since: int
    #: the next entry of `History.all` to deliver (entries before it: delivered, or not
    #: this watch's); the next one to count as applied; events queued since registered;
    #: matching changes applied up to the last `fired` check
    pos: int = 0
    applied_pos: int = 0
    queued: int = 0
    applied: int = 0
    #: the member removed it (removeWatches, at the request's turn); the client drops it
    #: when the reply comes: no event is owed meanwhile
    removing: bool = False

    def matches(self, path: str, ev: int) -> bool:
        if self.recursive:
            return ev != CHILDREN and (path == self.path or path.startswith(self.path + "/"))
        return path == self.path

    @property
    def mode(self) -> str:
        return "recursive" if self.recursive else "persistent"


@dataclass(eq=False)
class Watch:
    client: int
    path: str
    kind: str
    #: the zxid of the tree it was set (or last re-registered) on
    since: int
    #: the first change after `since` that fires it: (zxid, event type); None: none yet
    due: tuple[int, int] | None = None
    #: the member queued its event on the client's connection (not delivered yet if the
    #: connection's output is held)
    queued: bool = False
    #: the member removed it (removeWatches): no event is owed until the client drops it
    removing: bool = False


class History:
    """The changes to the namespace: path -> [(zxid, event type)] in zxid order."""

    def __init__(self) -> None:
        self.by_path: dict[str, list[tuple[int, int]]] = {}
        self.last = 0  # the last zxid recorded (the newest any member applied)
        #: every change in order: (zxid, path, event type)
        self.all: list[tuple[int, str, int]] = []

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
                self.all.append((zxid, ev.path, ev.type))
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

    def after(self, zxid: int) -> int:
        """The index in `all` of the first change after `zxid`."""
        return bisect.bisect_right(self.all, (zxid, "\U0010ffff", 1 << 30))

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


#: a client's request in flight on a connection: its xid, opcode, and what the client does
#: with the reply's (zxid, err)
OnReply = Callable[[int, int], None]


class SimRequest:
    __slots__ = ("on_reply", "op", "xid")

    def __init__(self, xid: int, op: int, on_reply: OnReply) -> None:
        self.xid = xid
        self.op = op
        self.on_reply = on_reply


class SimConnection:
    """A client's connection to one member (one start of it): what reaches the client,
    in order. The member's `WatchManager` calls `notify`.

    The member's side is the server's: its replies go through the production
    `ReplyQueue` (roost.wire.session: in request order; a write reserves its place, a
    read queued behind it is evaluated at its turn), its watch events skip that queue;
    both leave, in order, through the output gate (`gate`: a member answers a session
    only while a leader confirms it alive), which holds all output while it is closed
    (`flush` again when it may have opened: the member's ticks). The client's side is the
    production client's: its requests in flight by xid, oldest first; each reply must
    answer the oldest (`roost.client.inflight`), else the run fails."""

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
        #: the largest zxid of the replies on it (at first: the client's last zxid)
        self.last_reply = last_zxid
        #: the zxid of the last event on it
        self.last_event = 0
        #: the member's reply queue; its output (reply and event frames; an event's
        #: header names the zxid that fired it, where ZooKeeper's says -1) waiting to
        #: reach the client; the gate (None: open)
        self.queue = ReplyQueue(self._emit)
        self.out: deque[bytes] = deque()
        self.gate: Callable[[], bool] | None = None
        self._flushing = False
        #: asks for a `flush` once the member's current step is over (None: at once);
        #: True while one is asked for
        self.wake: Callable[[SimConnection], None] | None = None
        self.woken = False
        #: planted (`event_behind_replies`): events take their turn in the reply queue
        self.events_queued = False
        #: the member holds the handshake (a reattach waiting for a leader to confirm the
        #: session: roost.server.handshake); when the member closes the connection, on its
        #: own clock, if no grant came (a held handshake, or held output: the server's
        #: `hold`, L after it began); since when (true ms) the gate holds its output (-1:
        #: it does not), reset, as `give_up`, when output goes out
        self.handshake = False
        self.give_up: float | None = None
        self.held_at = -1
        #: the time (true ms) and when the client last received a frame (its read timeout)
        self.now: Callable[[], int] | None = None
        self.last_recv = 0
        #: the client's requests in flight, oldest first; its last xid
        self.inflight: deque[SimRequest] = deque()
        self.xid = 0
        #: the run's counts (replies delivered, reads that waited behind a write, ...)
        self.stats = watches.stats

    def __hash__(self) -> int:
        return self.seq

    # --- the client's side ------------------------------------------------------------
    def request(self, op: int, on_reply: OnReply) -> SimRequest:
        """The client sends a request of `op` (a ping with the ping's xid)."""
        if op == _PING_OP:
            xid = int(Xid.PING)
        else:
            self.xid += 1
            xid = self.xid
        req = SimRequest(xid, op, on_reply)
        self.inflight.append(req)
        return req

    def _deliver(self, frame: bytes) -> None:
        if self.now is not None:
            self.last_recv = self.now()
        xid, zxid, err = decode_reply_header(frame[4:])
        if xid == _NOTIFICATION:
            ev = WatcherEvent.read(Reader(frame[4:], 16))
            self.w.on_event(self, ev.type, ev.path, zxid)
            return
        head = self.inflight.popleft() if self.inflight else None
        if head is None or head.xid != xid:
            raise InvariantViolation(
                f"order: client {self.client} got a reply with xid {xid} (zxid {zxid}) from "
                f"node {self.member}; the oldest request in flight is "
                f"{head.xid if head else None}")
        self.stats.replies += 1
        head.on_reply(zxid, err)

    # --- the member's side ------------------------------------------------------------
    def reserve(self) -> Slot:
        """A write's place in the reply queue (`complete` fills it)."""
        return self.queue.reserve()

    def complete(self, slot: Slot, req: SimRequest, zxid: int, err: int) -> None:
        if not self.closed:
            self.queue.complete(slot, encode_reply(req.xid, zxid, err))

    def reply_later(self, req: SimRequest, answer: Callable[[], tuple[int, int]]) -> None:
        """A read (or a ping): `answer` runs at its turn, at the member, and gives the
        reply's (zxid, err)."""
        def frame() -> bytes:
            zxid, err = answer()
            return encode_reply(req.xid, zxid, err)
        if self.queue.slots:
            self.stats.waited += 1
        self.queue.reply_later(frame)

    def _emit(self, frame: bytes) -> None:
        self.out.append(frame)
        self._wake()

    def _wake(self) -> None:
        """Output is waiting: the client gets it after the member's step (a client that
        reacted at once would see the member halfway through applying a txn)."""
        if self.wake is None:
            self.flush()
        elif not self.woken:
            self.woken = True
            self.wake(self)

    def notify(self, ev_type: int, path: str, acl: tuple[ACL, ...]) -> None:
        if self.closed:
            return
        self.w.queued(self, ev_type, path)
        frame = encode_reply(_NOTIFICATION, self.w.firing, 0,
                             WatcherEvent(ev_type, _CONNECTED, path))
        if self.events_queued:
            self.queue.reply(frame)  # planted: behind the replies queued before it
            return
        self.out.append(frame)
        self._wake()

    def flush(self) -> None:
        """Deliver the output, in order, while the gate is open (and the connection)."""
        self.woken = False
        if self._flushing:
            return  # (a delivery's own requests: the loop below takes their output)
        self._flushing = True
        try:
            out, gate = self.out, self.gate
            while out and not self.closed:
                if gate is not None and not gate():
                    self.stats.held += 1
                    return
                self.held_at, self.give_up = -1, None
                self._deliver(out.popleft())
        finally:
            self._flushing = False


def _event_of(frame: bytes) -> WatcherEvent | None:
    """The watch event a frame of a connection's output carries (None: a reply)."""
    if decode_reply_header(frame[4:])[0] != _NOTIFICATION:
        return None
    return WatcherEvent.read(Reader(frame[4:], 16))


_PING_OP = 11  # (Op.PING)
_NOTIFICATION = int(Xid.NOTIFICATION)
_CONNECTED = int(KeeperState.SYNC_CONNECTED)


@dataclass
class WatchStats:
    set: int = 0  # watches set by reads
    events: int = 0  # events delivered (each checked)
    reregistered: int = 0  # watches re-registered by setWatches after a move
    fired_on_reregister: int = 0  # of which setWatches fired at once
    own_write_events: int = 0  # events for a client's own write, before its reply
    excused: int = 0  # watches dropped with their session
    persistent_set: int = 0  # persistent (and recursive) watches added by addWatch
    persistent_events: int = 0  # events they got (each checked to be the next change)
    persistent_missed: int = 0  # changes made while their client moved (not delivered)
    replies: int = 0  # replies the clients got (each in request order: checked)
    waited: int = 0  # reads and pings answered only after a write queued before them
    held: int = 0  # times a member's gate held a connection's output (no liveness grant)
    removes: int = 0  # removeWatches and checkWatches answered (each checked)
    removed: int = 0  # of which removeWatches answered Ok (no event for them after)
    no_watcher: int = 0  # of which answered NoWatcher


@dataclass
class ClientWatches:
    """The clients' watches and the checks on them (one per run)."""

    log: Callable[[str], None] | None = None
    history: History = field(default_factory=History)
    #: client -> its pending watches, (path, map) -> Watch
    pending: dict[int, dict[tuple[str, str], Watch]] = field(default_factory=dict)
    #: client -> its persistent watches, (path, recursive) -> PersistentWatch
    persistent: dict[int, dict[tuple[str, bool], PersistentWatch]] = field(
        default_factory=dict)
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
        if write and conn.last_event == zxid:
            self.stats.own_write_events += 1  # its own write fired its watch: event first
        conn.last_reply = max(conn.last_reply, zxid)
        for pw in self._persistent_on(conn):
            nxt = None if pw.removing else self._next(pw)
            if nxt is not None and nxt[0] <= zxid:
                self._fail(f"client {conn.client} got the reply of {what} at zxid {zxid} from "
                           f"node {conn.member}, but not the event {_name(nxt[2])} {nxt[1]} "
                           f"at {nxt[0]} of its {pw.mode} watch on {pw.path} (set at "
                           f"{pw.since})")
        for w in self.pending.get(conn.client, {}).values():
            if w.due is not None and w.due[0] <= zxid and not w.removing:
                self._fail(f"client {conn.client} got the reply of {what} at zxid {zxid} from "
                           f"node {conn.member}, but not the event {_name(w.due[1])} of its "
                           f"{w.kind} watch on {w.path} (set at {w.since}), due at {w.due[0]}")

    def add_persistent(self, conn: SimConnection, path: str, recursive: bool, zxid: int
                       ) -> None:
        """addWatch on `conn`, registered by the member at `zxid`, answered now: the
        events the member queued after the reply are this watch's already."""
        mine = self.persistent.setdefault(conn.client, {})
        if (path, recursive) in mine or conn.closed:
            return  # the member holds it already (the first one stays)
        pw = PersistentWatch(path, recursive, conn, zxid)
        pw.pos = pw.applied_pos = self.history.after(zxid)
        for frame in conn.out:
            ev = _event_of(frame)
            if ev is not None and pw.matches(ev.path, ev.type):
                pw.queued += 1
        mine[(path, recursive)] = pw
        self.stats.persistent_set += 1

    def _next(self, pw: PersistentWatch) -> tuple[int, str, int] | None:
        """The next change `pw` must deliver (None: none recorded yet)."""
        changes = self.history.all
        i = pw.pos
        while i < len(changes) and not pw.matches(changes[i][1], changes[i][2]):
            i += 1
        pw.pos = i
        return changes[i] if i < len(changes) else None

    def _persistent_on(self, conn: SimConnection) -> list[PersistentWatch]:
        mine = self.persistent.get(conn.client)
        return [pw for pw in mine.values() if pw.conn is conn] if mine else []

    def reregistered_persistent(self, conn: SimConnection, zxid: int) -> tuple[list[str],
                                                                               list[str]]:
        """The client moved to `conn`, whose member is at `zxid`: its persistent watches
        go there (setWatches2's two lists, returned); the changes it had not got are not
        delivered (ZooKeeper re-adds them without replaying)."""
        mine = self.persistent.get(conn.client, {})
        changes, upto = self.history.all, self.history.after(zxid)
        for pw in mine.values():
            self.stats.persistent_missed += sum(
                1 for z, p, t in changes[pw.pos:upto] if pw.matches(p, t))
            pw.conn, pw.since = conn, zxid
            pw.pos = pw.applied_pos = upto
            pw.queued = pw.applied = 0
            pw.removing = False  # (a remove whose reply was lost did not happen for it)
        return ([p for (p, r) in sorted(mine) if not r], [p for (p, r) in sorted(mine) if r])

    def session_ended(self, client: int) -> None:
        """The client's session expired or was closed: its watches are gone with it."""
        self.stats.excused += len(self.pending.pop(client, {}))
        self.stats.excused += len(self.persistent.pop(client, {}))
        conn = self.conns.pop(client, None)
        if conn is not None:
            conn.closed = True

    def removed(self, conn: SimConnection, path: str, wtype: int, err: int, dry_run: bool
                ) -> None:
        """removeWatches (checkWatches: `dry_run`) of `path` and `wtype` on `conn` was
        answered `err` by the member (`WatchManager.remove`, at the request's turn): Ok if
        and only if the client held such a watch there then (events and replies reach it
        in the member's order, so what it holds at the reply is what the member held at the
        turn); after an Ok removeWatches the client drops them (as `roost.client` does), and
        an event for them after the reply is refused (`on_event`: one it does not watch)."""
        if conn.closed:
            return
        kinds = REMOVE_KINDS[wtype]
        mine = self.pending.get(conn.client, {})
        held = [k for k in kinds if (path, k) in mine]
        lasting = [r for r in (False, True) if (path, r) in self.persistent.get(
            conn.client, {})] if wtype == _ANY else []
        what = (f"client {conn.client}'s {'checkWatches' if dry_run else 'removeWatches'}"
                f"({path}, {WatcherType(wtype).name}) on node {conn.member}")
        has = bool(held or lasting)
        if (err == 0) != has:
            hold = ", ".join([*held, *("recursive" if r else "persistent" for r in lasting)])
            self._fail(f"{what} was answered {'Ok' if err == 0 else 'NoWatcher'}, but the "
                       f"client held {hold or 'no such watch'} there")
        self.stats.removes += 1
        if err != 0:
            self.stats.no_watcher += 1
            return
        if dry_run:
            return
        self.stats.removed += 1
        for k in held:
            del mine[(path, k)]
        for r in lasting:
            del self.persistent[conn.client][(path, r)]

    def removing(self, conn: SimConnection, path: str, wtype: int) -> None:
        """The member runs removeWatches of `path` and `wtype` for `conn` (at its turn):
        the watches of the client it covers owe no event from now on."""
        mine = self.pending.get(conn.client, {})
        for k in REMOVE_KINDS[wtype]:
            w = mine.get((path, k))
            if w is not None:
                w.removing = True
        if wtype == _ANY:
            for r in (False, True):
                pw = self.persistent.get(conn.client, {}).get((path, r))
                if pw is not None:
                    pw.removing = True

    def holds(self, client: int) -> list[tuple[str, int]]:
        """The (path, WatcherType) of each watch the client holds (what removeWatches may
        name), in a fixed order."""
        out = [(p, int(WatcherType.CHILDREN if k == CHILD else WatcherType.DATA))
               for p, k in sorted(self.pending.get(client, {}))]
        out += [(p, _ANY) for p, _r in sorted(self.persistent.get(client, {}))]
        return out

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
            w.queued = False
            w.removing = False
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

    def queued(self, conn: SimConnection, ev: int, path: str) -> None:
        """The member queued event `ev` on `path` for `conn`'s client."""
        mine = self.pending.get(conn.client)
        if mine:
            for kind in TAKES.get(ev, ()):
                w = mine.get((path, kind))
                if w is not None:
                    w.queued = True
        if conn.client in self.persistent:
            for pw in self._persistent_on(conn):
                if pw.matches(path, ev):
                    pw.queued += 1

    def fired(self, member: int, incarnation: int, zxid: int) -> None:
        """The member fired its watches for `zxid`: every open connection to it holding a
        watch due there has its event (queued)."""
        changes = self.history.all
        for client, conn in self.conns.items():
            if (conn.member != member or conn.incarnation != incarnation or conn.closed
                    or conn.handshake):  # (its watches are registered when answered)
                continue
            for pw in self._persistent_on(conn) if client in self.persistent else ():
                if pw.removing:
                    continue
                i = pw.applied_pos
                while i < len(changes) and changes[i][0] <= zxid:
                    pw.applied += pw.matches(changes[i][1], changes[i][2])
                    i += 1
                pw.applied_pos = i
                if pw.applied > pw.queued:
                    self._fail(f"client {client}'s {pw.mode} watch on {pw.path} (set at "
                               f"{pw.since}) lost an event: node {member} applied zxid "
                               f"{zxid}, {pw.applied} matching changes since, "
                               f"{pw.queued} events queued")
            for w in self.pending.get(client, {}).values():
                if w.due is not None and w.due[0] <= zxid and not w.queued and not w.removing:
                    self._fail(f"client {client}'s {w.kind} watch on {w.path} (set at "
                               f"{w.since}) lost: node {member} applied zxid {zxid} without "
                               f"sending its event {_name(w.due[1])} (due at {w.due[0]})")

    def on_event(self, conn: SimConnection, ev: int, path: str, zxid: int) -> None:
        mine = self.pending.get(conn.client, {})
        taken = [w for kind in TAKES.get(ev, ()) if (w := mine.get((path, kind)))]
        where = (f"client {conn.client} got {_name(ev)} {path} at zxid {zxid} from node "
                 f"{conn.member}")
        lasting = [pw for pw in self._persistent_on(conn) if pw.matches(path, ev)] if (
            conn.client in self.persistent) else []
        if not taken and not lasting:
            self._fail(f"{where}, which it does not watch (a second event, or never set)")
        for pw in lasting:
            nxt = self._next(pw)
            if nxt != (zxid, path, ev):
                due = "nothing yet" if nxt is None else f"{_name(nxt[2])} {nxt[1]} at {nxt[0]}"
                self._fail(f"{where}; its {pw.mode} watch on {pw.path} (set at {pw.since}) "
                           f"was due {due}")
            pw.pos += 1
            self.stats.persistent_events += 1
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
