"""Simulated ZooKeeper clients with sessions: create a session through a member, ping it
every third of the timeout, move to another member when theirs goes down, start a new
session when theirs expires.

Each member runs the replica's `Sessions` on simulated time, the way `roost.server.core`
does: the member a client pings touches the session and reports it to the leader
(`ReplicaCore.touch`, forwarded at the next tick); every tick, the expired sessions of an
established leader become CLOSE_SESSION txns; a leader restarts every deadline once it is
established (an entry of its term applied).

Checked when a CLOSE_SESSION applies: no session is expired by a decision taken less than
its timeout after its client pinged the established leader of the newest term directly (a
leader answers pings only once established: roost.replica.sessions), measured in true time
and allowing for the run's clock drift bound (the leader measures the timeout on its own
clock, which may run fast by that much: `timeout / (1 + drift)`). A correct leader's
deadline is at least that far away; a later leader restarts deadlines when established; an
older leader's decision taken after that can never commit. A follower, which does not hear
the pings other members receive, would break it (`expire_on_follower`).

Also checked there, the lock lease (docs/client.md): each client keeps the production
client's `roost.client.lease.Lease` on its own clock, with the run's drift bound as its
assumed clock-rate bound, and feeds it what the production client does: the handshake that
created its session (`Lease.established`: a lease from the create's send time; the member
grants the new session from when it asked, as `roost.server.handshake` does) and every
reply (`Lease.answered`: only a ping a member answered renews it, never a read or a write;
a member answers a ping only while it holds a liveness grant for the session). No lease
may reach past the moment the expiry was decided.

A client's turns: at the compressed timing, its pings; at production timing, turns of their
own every 250-700 ms between the pings (`Timing.client_turn_ms`), pings only keeping the
session alive.

Watches (`watches.py`): on its turns a client with a session sets exists, data and child
watches in the clients' shared namespace at its member (the server's `WatchManager`, one
per member start, fired by the member's applied txns as `roost.server.core` does), writes
there (its own watched paths too), now and then closes its session (its ephemerals go); its
connection closes when its member goes down, installs a snapshot (the server aborts its
connections then), loses a write or fails a sync's barrier (the server aborts the
connection), applies the close of its session, holds its output for L without a liveness
grant (the server's `hold`: checked, no member holds it longer), receives nothing for
READ_TIMEOUT of the session timeout (the gate holds its output, or it waits behind a write
the member cannot commit: the client's read timeout) or at random; it then connects again
at once to a member whose tree has its last zxid (the handshake refuses one behind). A
reattach goes as `roost.server.handshake` takes it: refused while the member closes the
session, "session expired" when its tree lacks it, answered under a liveness grant, else
held until one comes (closed after L without one; the client gives up after its attempt
timeout). Checked: no reattach is answered after its session's committed expiry was
decided. A client suspended longer than its session timeout gives the session up
(`roost.client`'s lost timer). Once answered, it re-registers its watches with setWatches
(`WatchManager.set_watches`). Each event is checked (watches.py). Every request and its
reply go through the connection as the server and the production client order them
(`SimConnection`: the server's reply queue and output gate, the client's xid matching).
Now and then a client removes a watch (removeWatches or checkWatches, the server's
`WatchManager.remove`): the answer must say what it held, and no event may follow an Ok.

A turn with none of that may send a cas, a multi or a sync-then-read (requests.py); every
turn moves the client's lock and latch contenders on (recipes.py). Half the last client's
sessions only read and watch (READER).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from roost.client.lease import Lease
from roost.client.options import ConnectionOptions
from roost.raft import Role
from roost.replica.sessions import Sessions, lease_bound
from roost.server import watches as server_watches
from roost.server.watches import Watcher, WatchManager
from roost.tree import DataTree
from roost.tree.txn import Kind, Txn, TxnResult
from roost.wire.errors import Err
from roost.wire.opcodes import CreateMode, Op, WatcherType
from roost.wire.records import (
    ACL,
    CreateRequest,
    DeleteRequest,
    Id,
    Record,
    SetDataRequest,
    SetWatches,
    SetWatches2,
)
from roost.wire.session import ReplyQueue

from .checker import InvariantViolation
from .clocks import SimClock
from .recipes import Recipes
from .requests import ClientRequests
from .timing import PRODUCTION
from .watches import CHILD, DATA, EXIST, NAMES, ROOT, ClientWatches, SimConnection

if TYPE_CHECKING:
    from .node import SimNode
    from .world import SimWorld

#: simulated clients per run
CLIENTS = 4
#: a client's turn with a session (outside calm stretches): the chances that it sets a
#: watch, writes, sets a watch and writes that path, closes its session; and that its
#: connection is lost (it moves to another member and re-registers its watches)
WATCH_READ = 0.25
WRITE = 0.2
WATCH_WRITE = 0.1
CLOSE = 0.01
CONN_LOSS = 0.03
#: and that it adds a persistent (or recursive) watch (addWatch) first; that it removes a
#: watch (removeWatches, ZooKeeper 3.5+), mostly one it holds, or checks one (checkWatches)
ADD_WATCH = 0.1
REMOVE_WATCH = 0.08
CHECK_WATCH = 0.2
#: the last client's sessions only read and watch, half of them (as a configuration
#: watcher does: no writes, no lock), and a reader's turn reads: such a client's replies
#: wait behind no write of its own, so when its member loses the liveness grant, its output
#: waits in the gate (where the server closes the connection after L) rather than in the
#: reply queue; the last client is odd, so it stays with its member through a partition
READER = 0.5
READER_READ = 0.8
#: the client's read timeout, as a share of its session timeout (`roost.client`'s pinger):
#: nothing received for that long (the member's gate holds its output: no liveness grant;
#: or the replies wait behind a write it cannot commit) and it drops the connection (the
#: even clients then move; the odd ones are cut off with their member, and connect to it
#: again)
READ_TIMEOUT = 2 / 3
#: planted bugs of the members' watch tables: a fired one-shot watch stays (it fires again
#: at the next change); setWatches ignores the client's zxid (changes made while the
#: client was away fire nothing); a persistent watch is consumed when it fires
WATCH_BUGS = frozenset({"watch_fired_twice", "setwatches_ignores_zxid",
                        "persistent_fired_once", "remove_watches_kept"})
#: planted bugs of the clients and their connections: the lease leaves out the bound L for
#: which a member may answer after a leader last confirmed the session (a client that
#: trusts an answered ping for the whole timeout, less the clock-rate allowance); a member
#: answers a read (or a ping) at once, ahead of the replies queued before it on the
#: connection (no reply queue); a member queues a watch event behind the replies queued
#: before it on the connection, as a reply (ZooKeeper sends it at once)
CLIENT_BUGS = frozenset({"lease_without_answer_bound", "read_overtakes_write",
                         "event_behind_replies", "reattach_unconfirmed", "held_output_kept"})
#: the password the simulated sessions are created with (the handshake compares it)
_PASSWD = b"\0" * 16
_PING = int(Op.PING)


def _zxid(sn: SimNode) -> int:
    """The member's last zxid (a reply's header)."""
    return sn.replica.tree.last_zxid if sn.replica is not None else 0


class _Overtakes(ReplyQueue):
    """Planted: a read (or a ping) is answered at once, whatever is queued ahead of it."""

    def reply_later(self, thunk: Callable[[], bytes]) -> None:
        self.emit(thunk())
_OPEN = [ACL(31, Id("world", "anyone"))]


class _FiresTwice(WatchManager):
    """Planted: one-shot watches are not consumed when they fire."""

    def _pop(self, kind: int, path: str) -> set[Watcher] | None:
        s = self.tables[kind].get(path)
        return set(s) if s else None


class _PersistentOnce(WatchManager):
    """Planted: a persistent (or recursive) watch is consumed when it fires, as a one-shot
    watch is."""

    def _targets(self, ev_type: int, path: str) -> Collection[Watcher]:
        out = set(super()._targets(ev_type, path))
        for w in list(self.persistent.get(path, ())):
            self._discard(server_watches.PERSISTENT, path, w)
        if ev_type != server_watches._CHILDREN_CHANGED:
            for p in server_watches.ancestors(path):
                for w in list(self.recursive.get(p, ())):
                    self._discard(server_watches.RECURSIVE, p, w)
        return out


class _RemoveKeeps(WatchManager):
    """Planted: removeWatches answers Ok for a watch the connection holds, and keeps it."""

    def remove(self, path: str, w: Watcher, wtype: int, dry_run: bool = False) -> bool:
        return super().remove(path, w, wtype, dry_run=True)


class _IgnoresZxid(WatchManager):
    """Planted: setWatches compares with the member's zxid, not the client's."""

    def set_watches(self, tree: DataTree, w: Watcher, req: SetWatches | SetWatches2
                    ) -> list[tuple[int, str]]:
        return super().set_watches(tree, w, dataclasses.replace(req, relativeZxid=tree.last_zxid))


class _NoAnswerBound(Lease):
    """Planted: the lease's span leaves out the answer bound L."""

    def renew(self, sent_at: float, clock_drift: float) -> None:
        super().renew(sent_at, clock_drift)
        self.span = self.timeout * (1 - clock_drift) / (1 + clock_drift)
        self.deadline = sent_at + self.span


@dataclass
class SimClient:
    idx: int
    timeout_ms: int
    sid: int = 0  # 0: no session
    gen: int = 0
    member: int = 0  # the member it is connected to (0: none)
    incarnation: int = 0  # of that member when it connected
    connecting: bool = False
    #: the client's own clock (it pings every third of its timeout by it)
    clock: SimClock = field(default_factory=SimClock)
    conn: SimConnection | None = None
    #: the largest zxid of a reply it got in this session (setWatches and the handshake)
    last_zxid: int = 0
    #: the production client's session lease, on `clock` (seconds)
    lease: Lease = field(default_factory=Lease)
    #: the member it connects to again (0: any), after that member aborted its connection
    rejoin: int = 0
    #: since when (true ms) it has had no established connection while holding a session
    #: (SUSPENDED; -1: connected, or no session): past its timeout it gives the session up
    #: (LOST, as `roost.client`'s lost timer does, Curator's rule)
    suspended: int = -1
    #: its session only reads and watches (READER)
    reader: bool = False


@dataclass(frozen=True)
class Expiry:
    """A member's decision to expire a session."""

    at: int
    term: int
    leader: bool  # the member believed it led, established
    newest: bool  # it led the newest term there was


class SimSessions:
    def __init__(self, cluster: SimWorld, seed: int) -> None:
        self.c = cluster
        self.rng = random.Random(seed + 0xC11E)
        t = cluster.timing
        self.clients = [SimClient(k, t.session_timeout(self.rng)) for k in range(CLIENTS)]
        for cl in self.clients:
            cl.clock = SimClock.draw(cluster.clock_rng, cluster.drift)
            if "lease_without_answer_bound" in cluster.bugs:
                cl.lease = _NoAnswerBound()
        self.by_sid: dict[int, SimClient] = {}
        #: session -> the times its client pinged a member that led the newest term
        self.leader_pings: dict[int, list[int]] = {}
        #: (origin, boot, seq) of a CLOSE_SESSION an expiry proposed -> when
        self.expiries: dict[tuple[int, int, int], Expiry] = {}
        self.checked: set[tuple[int, int, int]] = set()
        #: session -> the zxid its first CLOSE_SESSION applied at
        self.closed: dict[int, int] = {}
        #: member -> role changes its core reported (the server's Server.role_changes)
        self.role_changes: dict[int, int] = {}
        self.expired = 0
        #: session -> the end of its client's lease (true ms), and how many renewals
        self.leases: dict[int, float] = {}
        self.renewals = 0
        #: the clients' watches and their checks
        self.w = ClientWatches(cluster.log if cluster.trace is not None else None)
        #: the watches' own randomness (the other draws of a seed stay as they were)
        self.watch_rng = random.Random(seed + 0x3A7C)
        #: sessions their clients closed; connections moved to another member
        self.closes = 0
        self.moves = 0
        #: expiries decided by a stale leader and committed from its log (not checked)
        self.stale = 0
        #: session -> when (true ms) a member last answered its client's reattach; the
        #: expiry decision of its first CLOSE_SESSION (checked against each other)
        self.reattached: dict[int, int] = {}
        #: sessions their clients closed (the others' closes are expiries)
        self.own_closes: set[int] = set()
        self.decided: dict[int, int] = {}
        #: reattaches held for a leader's confirmation; answered "session expired";
        #: connections a member closed after holding their output (or handshake) for L;
        #: handshakes the client gave up (its attempt timeout); sessions given up (LOST)
        self.reattach_held = 0
        self.told_expired = 0
        self.held_closes = 0
        self.attempts_timed_out = 0
        self.lost_sessions = 0
        #: the reconnections' own randomness; the readers'
        self.conn_rng = random.Random(seed + 0xC0EC)
        self.reader_rng = random.Random(seed + 0x2EAD)
        #: cas, multi and sync-then-read (requests.py); the lock and latch (recipes.py)
        self.requests = ClientRequests(self, random.Random(seed + 0x5EC5))
        self.recipes = Recipes(self, seed)
        #: when the clients' turns between pings come (their own randomness)
        self.turn_rng = random.Random(seed + 0x7124)
        #: the persistent watches' own randomness (added after the others' draws were set)
        self.persist_rng = random.Random(seed + 0x9E25)
        #: removeWatches' and checkWatches' own
        self.remove_rng = random.Random(seed + 0x4E3A)

    def start(self, event: int, turn: int, output: int, connect: int) -> None:
        """Schedule the clients' first pings (`event`) and, if the run's timing gives
        clients turns of their own between pings, their first turns (`turn`); `output`:
        the event that delivers a connection's output; `connect`: a client's attempt to
        connect again (after its connection closed), or the end of a handshake attempt."""
        self.event = event
        self.turn = turn
        self.output = output
        self.connect_event = connect
        ms = self.c.timing.ms
        for cl in self.clients:
            self.c.schedule(self.rng.randint(ms(20), ms(200)), event, cl.idx)
        if self.c.timing.client_turn_ms is not None:
            for cl in self.clients:
                self.c.schedule(self.turn_rng.randint(*self.c.timing.client_turn_ms), turn,
                                cl.idx)

    # ------------------------------------------------------------------ a member's host
    def watches(self) -> WatchManager:
        """A member's watch table, as the server makes one at start (empty)."""
        bugs = self.c.bugs
        if "watch_fired_twice" in bugs:
            return _FiresTwice()
        if "setwatches_ignores_zxid" in bugs:
            return _IgnoresZxid()
        if "persistent_fired_once" in bugs:
            return _PersistentOnce()
        if "remove_watches_kept" in bugs:
            return _RemoveKeeps()
        return WatchManager()

    def on_reset(self, sn: SimNode) -> None:
        """A member installed a snapshot: as the server does, it closes its clients'
        connections (their watches may have missed changes); they move."""
        for cl in self.clients:
            if cl.conn is not None and cl.conn.member == sn.id and not cl.conn.closed:
                self._disconnect(cl)
                self._reconnect_soon(cl)

    def tracker(self, sn: SimNode) -> Sessions:
        """A member's session table, as the server makes one at start (every session of
        its tree gets a fresh deadline), on the member's own clock."""
        assert sn.replica is not None
        tr = Sessions(sn.id, bugs=self.c.bugs & {"expire_on_follower"})
        tr.restart({sid: info.timeout_ms for sid, info in sn.replica.tree.sessions.items()},
                   sn.now(self.c.now))
        return tr

    def on_role(self, sn: SimNode, role: Role) -> None:
        self.role_changes[sn.id] = self.role_changes.get(sn.id, 0) + 1

    def on_applied(self, sn: SimNode, zxid: int, txn: Txn) -> None:
        tr = sn.sessions
        if txn.kind is Kind.CREATE_SESSION:
            if tr is not None:
                tr.track(txn.session_id, txn.timeout_ms, sn.now(self.c.now))
        elif txn.kind is Kind.CLOSE_SESSION:
            if tr is not None:
                tr.forget(txn.session_id)
            self._check_close(zxid, txn)
            # as the server does (`close_after_flush`: the session's output is held, no
            # grant comes for it again, so the connection is aborted); the client sees the
            # connection close and connects again: a member that applied the close tells
            # it its session expired
            for cl in self.clients:
                conn = cl.conn
                if (conn is not None and cl.sid == txn.session_id and conn.member == sn.id
                        and conn.incarnation == sn.incarnation and not conn.closed
                        and not conn.handshake):
                    self._disconnect(cl)
                    self._reconnect_soon(cl)

    def expire(self, sn: SimNode) -> None:
        """The tracker's periodic expiry on a member (at each of its ticks); then the
        output its gate held goes out if it may now (`flush`)."""
        if sn.sessions is None or sn.core is None:
            return
        self.flush(sn)
        core = sn.core
        for sid in sn.sessions.expired(sn.now(self.c.now), core.may_expire):
            txn = Txn(Kind.CLOSE_SESSION, sid, sn.clock.wall_ms(self.c.now))
            # as the server does: the decision is dropped once this leadership ends
            abandoned = None if self.c.bugs & {"resend_expiry"} else self._deposed(sn)
            self.c.propose(sn, txn, None, abandoned)
            self.expiries[(txn.origin, txn.boot, txn.seq)] = Expiry(
                self.c.now, core.node.term, core.may_expire, self._leads_newest(sn))
            self.c.log(f"node {sn.id} expires session {sid:#x}")

    def _deposed(self, sn: SimNode) -> Callable[[], bool]:
        core, changes, nid = sn.core, self.role_changes.get(sn.id, 0), sn.id
        assert core is not None
        return lambda: not core.is_leader or self.role_changes.get(nid, 0) != changes

    def _check_close(self, zxid: int, txn: Txn) -> None:
        key = (txn.origin, txn.boot, txn.seq)
        if key in self.checked:
            return
        self.checked.add(key)
        sid = txn.session_id
        if sid in self.closed:
            # a no-op: the session was closed before (a member whose tree got the first
            # close through a snapshot still tracked it, and expired it when it led)
            return
        self.closed[sid] = zxid
        cl = self.by_sid.get(sid)
        if cl is not None and sid not in self.own_closes:  # (its client learns it later)
            self.c.log(f"client {cl.idx}: session {sid:#x} expired at zxid {zxid}")
            self.expired += 1
        ex = self.expiries.get(key)
        if cl is None or ex is None:
            return
        # no member answers a reattach of the session once its expiry was decided (it
        # answers only once a leader confirmed the session: roost.server.handshake)
        self.decided[sid] = ex.at
        answered = self.reattached.get(sid, -1)
        if answered >= ex.at:
            raise InvariantViolation(
                f"session {sid:#x} expired (decided by node {txn.origin} at {ex.at} ms, "
                f"applied at zxid {zxid}) though a member answered its client's reattach at "
                f"{answered} ms")
        if not ex.leader:
            raise InvariantViolation(
                f"session {txn.session_id:#x} expired by a decision of node {txn.origin} at "
                f"{ex.at} ms, which was not leading (applied at zxid {zxid})")
        # every decision must respect the pings, a stale leader's too (one committed from
        # its own log by a later leader: that leader was not established before it applied)
        lease_end = self.leases.get(txn.session_id, 0.0)
        if lease_end > ex.at:
            raise InvariantViolation(
                f"session {txn.session_id:#x} expired (decided by node {txn.origin} at "
                f"{ex.at} ms, applied at zxid {zxid}) while its client's lease ran to "
                f"{lease_end:.1f} ms")
        pings = [t for t in self.leader_pings.get(txn.session_id, ()) if t <= ex.at]
        bound = cl.timeout_ms / (1 + self.c.drift)  # the leader's clock may run fast
        if pings and ex.at - pings[-1] < bound:
            raise InvariantViolation(
                f"session {txn.session_id:#x} expired (decided by node {txn.origin} at "
                f"{ex.at} ms in term {ex.term}, applied at zxid {zxid}) though its client "
                f"pinged the leader at {pings[-1]} ms, less than its {cl.timeout_ms} ms "
                f"timeout before (at most {bound:.1f} ms with clock drift "
                f"{self.c.drift:g})")

    # ------------------------------------------------------------------ the clients
    def on_event(self, idx: int) -> None:
        cl = self.clients[idx]
        c = self.c
        sn = c.nodes.get(cl.member)
        up = (sn is not None and sn.core is not None and not sn.dropped
              and sn.incarnation == cl.incarnation
              and cl.conn is not None and not cl.conn.closed)
        self._check_held(cl)
        if not up:
            cl.connecting = False  # a create sent through a member that went down is lost
            self._lost_by_timer(cl)
            sn = self._connect(cl)
        ms = c.timing.ms
        conn = cl.conn
        if sn is None or sn.core is None or conn is None or conn.closed:
            c.schedule(self.rng.randint(ms(20), ms(60)), self.event, idx)
            return
        if not cl.sid:
            if not cl.connecting:
                self._create(cl, sn)
            c.schedule(self.rng.randint(ms(20), ms(60)), self.event, idx)
            return
        if conn.handshake:  # no pings before the handshake is answered
            c.schedule(cl.clock.after(cl.timeout_ms // 3), self.event, idx)
            return
        # a ping: the member touches the session and reports it to the leader, and answers
        # it in turn (the gate holds the answer while the member has no liveness grant)
        if not self._read_timeout(cl):
            self._touch(cl, sn)
            self._ping(cl, sn, conn)
            if c.timing.client_turn_ms is None:
                self._work(cl, sn)  # (this timing's clients work on their pings' turns)
        c.schedule(cl.clock.after(cl.timeout_ms // 3), self.event, idx)

    def _read_timeout(self, cl: SimClient) -> bool:
        """Nothing reached the client on its connection for READ_TIMEOUT of its session
        timeout, by its clock (checked at its pings and turns; `roost.client` checks at a
        timer): it drops the connection. An even client moves, an odd one sits on its
        member's side of any partition (it reaches no other) and connects to the same
        member again. Whether it dropped it."""
        conn = cl.conn
        if conn is None or conn.closed or conn.handshake or not cl.sid:
            return False
        clock = cl.clock
        quiet = clock.seconds(self.c.now) - clock.seconds(conn.last_recv)
        if quiet <= READ_TIMEOUT * cl.timeout_ms / 1000:
            return False
        self.c.log(f"client {cl.idx}: nothing from node {conn.member} for {quiet:.2f} s; "
                   f"drops the connection")
        self._disconnect(cl)
        cl.rejoin = conn.member if cl.idx % 2 else 0
        self._reconnect_soon(cl)
        return True

    def _touch(self, cl: SimClient, sn: SimNode) -> None:
        """The member heard the session (a ping, a reattach): it touches it and reports it
        to the leader (`Server.touch`)."""
        assert sn.core is not None
        c = self.c
        if sn.sessions is not None:
            sn.sessions.touch(cl.sid, sn.now(c.now))
        sn.core.touch(cl.sid)
        if self._leads_newest(sn) and sn.core.may_expire:  # an established leader answers
            self.leader_pings.setdefault(cl.sid, []).append(c.now)

    def on_connect(self, arg: int | tuple[int, int]) -> None:
        """A client connects again at once after its connection closed (`roost.client`
        tries the next server), or (`arg` a (client, connection) pair) its handshake
        attempt ran out of time (`ConnectionOptions.attempt_timeout`): it gives it up and
        tries again."""
        if isinstance(arg, tuple):
            idx, seq = arg
            cl = self.clients[idx]
            conn = cl.conn
            if conn is None or conn.seq != seq or conn.closed or not conn.handshake:
                return
            self.c.log(f"client {idx}: handshake with node {conn.member} timed out")
            self.attempts_timed_out += 1
            self._disconnect(cl)
            cl.rejoin = conn.member if idx % 2 else 0
        else:
            cl = self.clients[arg]
        if not cl.sid or (cl.conn is not None and not cl.conn.closed):
            return  # (a new session is asked for at the client's next ping turn)
        self._lost_by_timer(cl)
        if cl.sid:
            self._connect(cl)

    def _reconnect_soon(self, cl: SimClient) -> None:
        """The client's connection closed: it connects again at once (a connect's time)."""
        if cl.sid:
            ms = self.c.timing.ms
            self.c.schedule(self.conn_rng.randint(ms(1), ms(4)), self.connect_event, cl.idx)

    def _lost_by_timer(self, cl: SimClient) -> None:
        """SUSPENDED for longer than the session's timeout (by the client's clock): the
        session is LOST (`roost.client`'s lost timer): the client gives it up."""
        if not cl.sid or cl.suspended < 0:
            return
        clock = cl.clock
        if clock.seconds(self.c.now) - clock.seconds(cl.suspended) < cl.timeout_ms / 1000:
            return
        self.c.log(f"client {cl.idx}: session {cl.sid:#x} lost (suspended since "
                   f"{cl.suspended} ms)")
        self.lost_sessions += 1
        self._end_session(cl)

    def _check_held(self, cl: SimClient) -> None:
        """A member holds a connection's output (no liveness grant) for at most L by its
        clock, then closes it (the server's `hold`), checked at its ticks: the client
        never waits longer than that on a member that is up."""
        conn = cl.conn
        if conn is None or conn.closed or conn.held_at < 0 or not conn.out:
            return
        sn = self.c.nodes.get(conn.member)
        if (sn is None or sn.core is None or sn.dropped
                or sn.incarnation != conn.incarnation):
            return
        slack = 1 - self.c.drift
        bound = (1000 * lease_bound(cl.timeout_ms) + 2 * sn.tick_period) / slack + 1
        if self.c.now - conn.held_at > bound:
            raise InvariantViolation(
                f"connection: node {sn.id} has held client {cl.idx}'s output since "
                f"{conn.held_at} ms, {self.c.now - conn.held_at} ms (more than L = "
                f"{1000 * lease_bound(cl.timeout_ms):.0f} ms and a tick), without a "
                f"liveness grant and without closing the connection")

    def staying_members(self) -> list[int]:
        """The members that the clients who stay with their member through a partition
        (the odd ones, see READ_TIMEOUT) hold sessions on."""
        return [cl.member for cl in self.clients if cl.idx % 2 and cl.sid and cl.member]

    def _work(self, cl: SimClient, sn: SimNode) -> None:
        """A client's work on its turn: its lock and latch contenders move on (in calm
        stretches too: they release, but contend anew only outside them), then, outside
        calm stretches, `_act`."""
        calm = self._calm()
        if cl.reader:
            if not calm:
                self._read(cl, sn)
            return
        self.recipes.turn(cl, sn, calm)
        if not calm and sn.core is not None:  # (its member may have stopped meanwhile)
            self._act(cl, sn)

    def _calm(self) -> bool:
        """Between epochs: the clients only ping."""
        return self.c.healed_at >= 0 and not self.c.probing

    def on_turn(self, idx: int) -> None:
        """A client's turn between its pings: if connected with a session, it works
        (`_work`)."""
        cl = self.clients[idx]
        c = self.c
        sn = c.nodes.get(cl.member)
        self._check_held(cl)
        if (cl.sid and sn is not None and sn.core is not None and not sn.dropped
                and sn.incarnation == cl.incarnation and cl.conn is not None
                and not cl.conn.closed and not cl.conn.handshake
                and not self._read_timeout(cl)):
            self._work(cl, sn)
        turn = c.timing.client_turn_ms
        assert turn is not None
        c.schedule(cl.clock.after(self.turn_rng.randint(*turn)), self.turn, idx)

    def _ping(self, cl: SimClient, sn: SimNode, conn: SimConnection) -> None:
        """A ping, answered in turn with the member's zxid; its answer (when the gate lets
        it out) goes to the client's lease (`Lease.answered`)."""
        sid, sent = cl.sid, self.c.now

        def pong(zxid: int, err: int) -> None:
            self.replied(cl, sid, _PING, err, sent)
            self._reply(cl, conn, zxid, "ping")

        req = conn.request(_PING, pong)
        conn.reply_later(req, lambda: (_zxid(sn), 0))

    def _gate(self, cl: SimClient, sn: SimNode, conn: SimConnection) -> Callable[[], bool]:
        """The member's output gate for a client's connection (the server's `may_send`):
        open before the session exists, then only while the member holds a liveness grant
        for it (`ping_without_grant`: always)."""
        c = self.c

        def gate() -> bool:
            sid = cl.sid
            if not sid or cl.conn is not conn or "ping_without_grant" in c.bugs:
                return True
            tr = sn.sessions
            now = sn.now(c.now)
            if tr is None or tr.may_answer(sid, now):
                return True
            if conn.give_up is None:  # the server's `hold`: closed after L without a grant
                conn.give_up = now + lease_bound(cl.timeout_ms)
                conn.held_at = c.now
            return False
        return gate

    def _wake(self, conn: SimConnection) -> None:
        self.c.schedule(0, self.output, conn)

    def on_output(self, conn: SimConnection) -> None:
        """A connection's output reaches its client (after the member's step)."""
        conn.flush()

    def flush(self, sn: SimNode) -> None:
        """At each of a member's ticks: the output its gate held goes out if the member
        got a grant meanwhile (the server drains a connection when its gate opens), and a
        held handshake is answered; a connection whose output (or handshake) waited L
        without a grant is closed (the server's `hold` and `_drop_ungranted`)."""
        c = self.c
        for cl in self.clients:
            conn = cl.conn
            if (conn is None or conn.member != sn.id or conn.closed
                    or conn.incarnation != sn.incarnation):
                continue
            if conn.handshake:
                self._handshake_turn(cl, sn, conn)
                continue
            if not conn.out:
                continue
            conn.flush()
            if (conn.give_up is not None and conn.out and not conn.closed
                    and sn.now(c.now) >= conn.give_up and "held_output_kept" not in c.bugs):
                c.log(f"node {sn.id}: no liveness grant for session {cl.sid:#x} in time; "
                      f"closes client {cl.idx}'s connection (output held since "
                      f"{conn.held_at} ms)")
                self.held_closes += 1
                self._lost(cl, conn)
            self._check_held(cl)

    def _lost(self, cl: SimClient, conn: SimConnection) -> None:
        """A request the member could not complete (a LOST write, a failed barrier): the
        server aborts the connection. An odd client connects to the same member again
        (it sits on its member's side of any partition: see READ_TIMEOUT)."""
        if cl.conn is conn:
            self._disconnect(cl)
            cl.rejoin = conn.member if cl.idx % 2 else 0
            self._reconnect_soon(cl)
        else:
            conn.closed = True

    def replied(self, cl: SimClient, sid: int, op: int, err: int, sent: int) -> None:
        """A reply to session `sid`'s request of `op`, sent at true time `sent`, reached
        the client: its lease decides whether it renews (only an answered ping does)."""
        if cl.sid == sid and cl.lease.answered(op, err, False, cl.clock.seconds(sent),
                                               self.c.drift):
            self._renewed(cl, sid)

    def _renewed(self, cl: SimClient, sid: int) -> None:
        """The client's lease was renewed: its end in true time."""
        end = cl.clock.true_ms(1000 * cl.lease.deadline)
        self.leases[sid] = max(self.leases.get(sid, 0.0), end)
        self.renewals += 1
        self.recipes.renewed(sid)

    def _act(self, cl: SimClient, sn: SimNode) -> None:
        """A client's work on its turn: watches, writes, a close, a lost connection."""
        if self.persist_rng.random() < ADD_WATCH:  # (its own draws: the others stay)
            p = self.persist_rng
            self._add_watch(cl, sn, p.choice((ROOT, *NAMES)), p.random() < 0.5)
        if self.remove_rng.random() < REMOVE_WATCH:
            self._remove_watch(cl, sn)
        r = self.watch_rng.random()
        if r < WATCH_READ:
            self._watch(cl, sn, self.watch_rng.choice(NAMES), self.watch_rng.randrange(3))
        elif r < WATCH_READ + WRITE:
            self._write(cl, sn, self.watch_rng.choice(NAMES))
        elif r < WATCH_READ + WRITE + WATCH_WRITE:
            path = self.watch_rng.choice(NAMES)
            self._watch(cl, sn, path, 0)
            self._write(cl, sn, path)
        elif r < WATCH_READ + WRITE + WATCH_WRITE + CLOSE:
            self._close(cl, sn)
            return
        else:
            self.requests.act(cl, sn)
        if self.watch_rng.random() < CONN_LOSS:
            self._disconnect(cl)
            self._reconnect_soon(cl)

    def _read(self, cl: SimClient, sn: SimNode) -> None:
        """A reader's turn: maybe an addWatch or a removeWatches, then a read that sets a
        watch; now and then its connection is lost."""
        rng = self.reader_rng
        if rng.random() < ADD_WATCH:
            self._add_watch(cl, sn, rng.choice((ROOT, *NAMES)), rng.random() < 0.5)
        if rng.random() < REMOVE_WATCH:
            self._remove_watch(cl, sn)
        if rng.random() < READER_READ:
            self._watch(cl, sn, rng.choice(NAMES), rng.randrange(3))
        if rng.random() < CONN_LOSS:
            self._disconnect(cl)
            self._reconnect_soon(cl)

    def _watch(self, cl: SimClient, sn: SimNode, path: str, how: int) -> None:
        """exists(path, watch) (how 0), getData(path, watch) (1) or getChildren(ROOT,
        watch) (2), answered from the member's tree; a read of a missing node leaves no
        data or child watch."""
        conn = cl.conn
        assert conn is not None
        if how == 2:
            path = ROOT
        what = ("exists", "getData", "getChildren")[how] + f" {path}"
        got: list[tuple[int, str]] = []  # (the zxid it read at, the map its watch is in)

        def answer() -> tuple[int, int]:  # at the member, in turn (the server's handler)
            assert sn.replica is not None and sn.watches is not None
            tree = sn.replica.tree
            zxid = tree.last_zxid
            node = tree.get(path)
            if how == 0:
                sn.watches.add_data(path, conn)
                got.append((zxid, DATA if node is not None else EXIST))
            elif node is not None:
                if how == 1:
                    sn.watches.add_data(path, conn)
                else:
                    sn.watches.add_child(path, conn)
                got.append((zxid, DATA if how == 1 else CHILD))
            return zxid, 0

        def on_reply(zxid: int, err: int) -> None:  # the client registers its watch
            if got:
                self.w.set(conn, path, got[0][1], got[0][0])
            self._reply(cl, conn, zxid, what)

        req = conn.request(int((Op.EXISTS, Op.GET_DATA, Op.GET_CHILDREN)[how]), on_reply)
        conn.reply_later(req, answer)

    def _add_watch(self, cl: SimClient, sn: SimNode, path: str, recursive: bool) -> None:
        """addWatch(path, PERSISTENT or PERSISTENT_RECURSIVE): the member adds it to its
        table at its turn (the server's handler); the client holds it once answered."""
        conn = cl.conn
        assert conn is not None
        at: list[int] = []

        def answer() -> tuple[int, int]:
            assert sn.replica is not None and sn.watches is not None
            sn.watches.add_persistent(path, conn, recursive)
            at.append(sn.replica.tree.last_zxid)
            return at[0], 0

        def on_reply(zxid: int, err: int) -> None:
            self.w.add_persistent(conn, path, recursive, at[0])
            self._reply(cl, conn, zxid, f"addWatch {path}")

        conn.reply_later(conn.request(int(Op.ADD_WATCH), on_reply), answer)

    def _remove_watch(self, cl: SimClient, sn: SimNode) -> None:
        """removeWatches(path, type) (or, now and then, checkWatches): mostly of a watch the
        client holds, else of any path and type. The member answers at the request's turn
        from its table (`WatchManager.remove`, the server's handler: Ok, or NoWatcher); the
        client then drops what it removed (`ClientWatches.removed`, which checks the
        answer)."""
        conn = cl.conn
        assert conn is not None
        rng = self.remove_rng
        holds = self.w.holds(cl.idx)
        if holds and rng.random() < 0.75:
            path, wtype = rng.choice(holds)
            if rng.random() < 0.3:
                wtype = int(WatcherType.ANY)
        else:
            path = rng.choice((ROOT, *NAMES))
            wtype = int(rng.choice(tuple(WatcherType)))
        dry = rng.random() < CHECK_WATCH
        op = Op.CHECK_WATCHES if dry else Op.REMOVE_WATCHES

        def answer() -> tuple[int, int]:
            assert sn.replica is not None and sn.watches is not None
            found = sn.watches.remove(path, conn, wtype, dry_run=dry)
            if not dry:
                self.w.removing(conn, path, wtype)
            return sn.replica.tree.last_zxid, 0 if found else int(Err.NO_WATCHER)

        def on_reply(zxid: int, err: int) -> None:
            if self.c.trace is not None:
                self.c.log(f"client {cl.idx}: {op.name}({path}, {WatcherType(wtype).name}) "
                           f"on node {conn.member}: {'Ok' if err == 0 else 'NoWatcher'}")
            self.w.removed(conn, path, wtype, err, dry)
            self._reply(cl, conn, zxid, f"{op.name} {path}")

        conn.reply_later(conn.request(int(op), on_reply), answer)

    def _reply(self, cl: SimClient, conn: SimConnection, zxid: int, what: str,
               write: bool = False) -> None:
        if conn.closed or zxid <= 0:
            return
        self.w.reply(conn, zxid, what, write)
        cl.last_zxid = max(cl.last_zxid, zxid)

    def _write(self, cl: SimClient, sn: SimNode, path: str) -> None:
        """create (half of them ephemeral), setData or delete `path` through the member,
        as its tree suggests (ROOT first if it is missing)."""
        assert sn.replica is not None and sn.core is not None
        conn = cl.conn
        assert conn is not None
        tree = sn.replica.tree
        req: Record
        if tree.get(ROOT) is None:
            op, req = Op.CREATE, CreateRequest(ROOT, b"", _OPEN, 0)
        elif tree.get(path) is None:
            mode = CreateMode.EPHEMERAL if self.watch_rng.random() < 0.5 else 0
            op, req = Op.CREATE, CreateRequest(path, b"", _OPEN, int(mode))
        elif self.watch_rng.random() < 0.6:
            op, req = Op.SET_DATA, SetDataRequest(path, b"x", -1)
        else:
            op, req = Op.DELETE, DeleteRequest(path, -1)
        what = f"{op.name} {req.path}"
        txn = Txn(Kind.REQUEST, cl.sid, sn.clock.wall_ms(self.c.now), (), int(op),
                  req.to_bytes(), request=req)

        sid, sent = cl.sid, self.c.now

        def on_reply(zxid: int, err: int) -> None:
            self.replied(cl, sid, int(op), err, sent)  # (a write renews nothing)
            self._reply(cl, conn, zxid, what, write=True)

        sim_req = conn.request(int(op), on_reply)
        slot = conn.reserve()

        def done(zxid: int, result: TxnResult) -> None:
            if conn.closed:
                return  # lost with its connection
            if zxid <= 0:
                self._lost(cl, conn)
                return
            conn.complete(slot, sim_req, zxid, result.err)

        if self.c.trace is not None:
            self.c.log(f"client {cl.idx}: {what} through node {sn.id}")
        self.c.propose(sn, txn, done)
        self.c.process(sn)

    def _close(self, cl: SimClient, sn: SimNode) -> None:
        """close(): the session ends (its ephemerals go when the close applies)."""
        assert sn.core is not None
        txn = Txn(Kind.CLOSE_SESSION, cl.sid, sn.clock.wall_ms(self.c.now))
        self.c.log(f"client {cl.idx}: closes session {cl.sid:#x} through node {sn.id}")
        self.closes += 1
        self.own_closes.add(cl.sid)
        self.recipes.session_ended(cl, closed=True)  # (its beliefs end now)
        self._end_session(cl)
        self.c.propose(sn, txn, None)
        self.c.process(sn)

    def _end_session(self, cl: SimClient) -> None:
        """The client's session ended: its watches and connection go with it."""
        self.recipes.session_ended(cl, closed=False)
        self._disconnect(cl)
        self.w.session_ended(cl.idx)
        cl.sid = 0
        cl.member = 0
        cl.last_zxid = 0  # a new session is a new client
        cl.lease.clear()
        cl.suspended = -1
        cl.reader = False

    def _disconnect(self, cl: SimClient) -> None:
        """The client's connection closes: its member drops the connection's watches."""
        old = cl.conn
        if old is None or old.closed:
            return
        old.closed = True
        gone = self.c.nodes.get(old.member)
        if gone is not None and gone.watches is not None and gone.incarnation == old.incarnation:
            gone.watches.drop(old)
        if cl.sid and not old.handshake and cl.suspended < 0:
            cl.suspended = self.c.now  # SUSPENDED: the lost timer runs

    def _leads_newest(self, sn: SimNode) -> bool:
        node, leaders = sn.node, self.c.checker.leaders
        newest = max(leaders, default=0)
        return (node is not None and node.role is Role.LEADER and node.term == newest
                and leaders.get(newest) == sn.id)

    def _connect(self, cl: SimClient) -> SimNode | None:
        """Connect to a member (one whose tree has the client's last zxid: the handshake
        refuses the others) and re-register the client's watches there."""
        c = self.c
        alive = [x for x in c.alive() if not x.dropped and not x.removed and x.core
                 and x.replica is not None and x.replica.last_index >= cl.last_zxid]
        if not alive:
            return None
        again = [x for x in alive if x.id == cl.rejoin]
        cl.rejoin = 0
        if again:
            sn = again[0]
        else:
            leaders = [x for x in alive if x.node is not None and x.node.role is Role.LEADER]
            sn = self.rng.choice(leaders if leaders and self.rng.random() < 0.5 else alive)
        if cl.conn is not None:
            self._disconnect(cl)
            self.moves += 1
        cl.member, cl.incarnation = sn.id, sn.incarnation
        conn = cl.conn = self.w.connect(cl.idx, sn.id, sn.incarnation, cl.last_zxid)
        conn.gate = self._gate(cl, sn, conn)
        conn.now = lambda: c.now
        conn.last_recv = c.now
        conn.wake = self._wake
        if "read_overtakes_write" in c.bugs:
            conn.queue = _Overtakes(conn.queue.emit)
        conn.events_queued = "event_behind_replies" in c.bugs
        if cl.sid:
            self._reattach(cl, sn, conn)
        return sn

    def _reattach(self, cl: SimClient, sn: SimNode, conn: SimConnection) -> None:
        """The handshake of a client that holds a session, at the member, as
        `roost.server.handshake.handle_connect` does it: refused while a close of the
        session is under way there ("wait": the connection is aborted, the client tries
        again); "session expired" if the member's tree lacks it (the client learns its
        session ended); answered at once if the member holds a liveness grant for it; else
        held (the member touches the session, which reports it to the leader) until a
        grant comes, and the connection closed if none came within L (`flush`). The
        client gives the attempt up after `ConnectionOptions.attempt_timeout`."""
        c = self.c
        assert sn.replica is not None and sn.sessions is not None and sn.core is not None
        sid = cl.sid
        info = sn.replica.tree.sessions.get(sid)
        verdict = sn.sessions.reattach(sid, info, _PASSWD)
        if verdict == "wait":
            c.log(f"node {sn.id}: closing session {sid:#x} here; refuses client {cl.idx}")
            self._lost(cl, conn)
            return
        if info is None or verdict == "expired":
            c.log(f"client {cl.idx}: node {sn.id} answers session {sid:#x} expired")
            self.told_expired += 1
            self._end_session(cl)
            return
        now = sn.now(c.now)
        # (the grant itself, as the gate: not `ReplicaCore.may_answer`, which answers
        # everything once the member takes its leader for a version without grants)
        if c.bugs & {"reattach_unconfirmed", "ping_without_grant"} or sn.sessions.may_answer(
                sid, now):
            self._bind(cl, sn, conn)
            return
        self.reattach_held += 1
        c.log(f"node {sn.id}: holds client {cl.idx}'s reattach of session {sid:#x} until a "
              f"leader confirms it")
        self._touch(cl, sn)
        conn.handshake = True
        conn.give_up = now + lease_bound(cl.timeout_ms)
        # (production's rule, at the production equivalent of a compressed run's timeout)
        k = PRODUCTION.scale / c.timing.scale
        attempt = ConnectionOptions().attempt_timeout(k * cl.timeout_ms / 1000, len(c.nodes))
        c.schedule(cl.clock.after(1000 * attempt / k), self.connect_event, (cl.idx, conn.seq))

    def _handshake_turn(self, cl: SimClient, sn: SimNode, conn: SimConnection) -> None:
        """At the member's tick: a held reattach is answered once a grant came, or its
        connection closed when L ran out without one."""
        assert sn.sessions is not None and conn.give_up is not None
        now = sn.now(self.c.now)
        if sn.sessions.may_answer(cl.sid, now):
            conn.handshake, conn.give_up = False, None
            self._bind(cl, sn, conn)
        elif now >= conn.give_up:
            self.c.log(f"node {sn.id}: no liveness grant for session {cl.sid:#x} in time; "
                       f"closes client {cl.idx}'s held reattach")
            self.held_closes += 1
            conn.handshake = False
            self._lost(cl, conn)

    def _bind(self, cl: SimClient, sn: SimNode, conn: SimConnection) -> None:
        """The member answers the reattach (the session is the client's again on this
        connection); the client re-registers its watches (setWatches). Checked: the
        session's expiry was not decided before (the answer means a leader confirmed the
        session since)."""
        c = self.c
        sid = cl.sid
        decided = self.decided.get(sid)
        if decided is not None and c.now >= decided:
            raise InvariantViolation(
                f"session {sid:#x}: node {sn.id} answered its client's reattach at {c.now} "
                f"ms, after its expiry was decided at {decided} ms")
        self.reattached[sid] = c.now
        cl.suspended = -1
        conn.last_recv = c.now  # (the handshake's answer)
        cl.lease.established(False, cl.timeout_ms / 1000, False, cl.clock.seconds(c.now),
                             c.drift)  # (a reattach renews nothing)
        held = self.w.held(cl.idx)
        if any(held.values()) or self.w.persistent.get(cl.idx):
            assert sn.replica is not None and sn.watches is not None
            tree = sn.replica.tree
            lasting, recursive = self.w.reregistered_persistent(conn, tree.last_zxid)
            req = SetWatches2(cl.last_zxid, held[DATA], held[EXIST], held[CHILD], lasting,
                              recursive)
            events = sn.watches.set_watches(tree, conn, req)
            self.w.reregistered(conn, cl.last_zxid, tree.last_zxid, events)
            self._reply(cl, conn, tree.last_zxid, "setWatches")
            if c.trace is not None:
                c.log(f"client {cl.idx}: setWatches at {req.relativeZxid} on node {sn.id} "
                      f"(at {tree.last_zxid}) fired {events}")

    def _create(self, cl: SimClient, sn: SimNode) -> None:
        assert sn.core is not None
        cl.gen += 1
        sid = (cl.idx + 1) << 32 | cl.gen
        cl.connecting = True

        conn = cl.conn
        assert conn is not None
        sent, asked = self.c.now, sn.now(self.c.now)

        gen = cl.gen

        def done(zxid: int, result: TxnResult, cl: SimClient = cl, sid: int = sid) -> None:
            if cl.gen != gen:
                return  # superseded by a later create (this session expires unused)
            cl.connecting = False
            if zxid > 0 and not result.err and not conn.closed:
                # the member grants the new session from when it asked (the leader started
                # its deadline when it applied the creation, after that)
                if sn.sessions is not None and sn.incarnation == conn.incarnation:
                    sn.sessions.grant((sid,), asked)
                cl.sid = sid
                cl.suspended = -1
                conn.last_recv = self.c.now  # (the handshake's answer)
                cl.reader = (cl.idx == CLIENTS - 1
                             and self.reader_rng.random() < READER)
                cl.lease.established(True, cl.timeout_ms / 1000, False,
                                     cl.clock.seconds(sent), self.c.drift)
                self._renewed(cl, sid)
                self._reply(cl, conn, zxid, "createSession")
                self.by_sid[sid] = cl
                self.c.log(f"client {cl.idx}: session {sid:#x} created at zxid {zxid}")

        txn = Txn(Kind.CREATE_SESSION, sid, sn.clock.wall_ms(self.c.now), body=b"\0" * 16,
                  timeout_ms=cl.timeout_ms)
        self.c.propose(sn, txn, done)
        self.c.process(sn)
