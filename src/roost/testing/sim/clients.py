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

Also checked there, the lock lease (docs/client.md): a ping or a write a member answers (it
holds a liveness grant for the session; the server holds every answer otherwise) gives its
client a lease of `lease_span` from the request's send time, measured on the client's own
clock with the run's drift bound as the client's assumed clock-rate bound; no lease may
reach past the moment the expiry was decided.

Watches: now and then a client sets an exists watch on a new path at its member (the
server's `WatchManager`, one per member start, fired by the member's applied txns as
`roost.server.core` does) and creates that path through the same member. Its connection
receives events and replies in the order the member emits them; checked: the watch's
event arrives once, and before the reply of the create that fired it
(`roost.replica.order`; the planted bug `reply_before_watch` breaks it).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from roost.client.connection import lease_span
from roost.raft import Role
from roost.replica.sessions import Sessions
from roost.server.watches import WatchManager
from roost.tree.txn import Kind, Txn, TxnResult
from roost.wire.opcodes import EventType, Op
from roost.wire.records import ACL, CreateRequest, Id

from .checker import InvariantViolation
from .clocks import SimClock

if TYPE_CHECKING:
    from .cluster import SimCluster, SimNode

#: simulated clients per run
CLIENTS = 4
#: the chance that a client's turn, with a session, sets a watch and creates its path
WATCH_WRITE = 0.2
_OPEN = [ACL(31, Id("world", "anyone"))]


class SimConnection:
    """A client's connection to one member: what reaches the client, in order."""

    def __init__(self, client: int, member: int,
                 log: Callable[[str], None] | None = None) -> None:
        self.log = log  # the run's trace, if kept
        self.client = client
        self.member = member
        self.closed = False
        #: watched path -> whether its event arrived
        self.watched: dict[str, bool] = {}
        self.events = 0

    def notify(self, ev_type: int, path: str, acl: tuple[ACL, ...]) -> None:
        """The member queues a watch event to this connection (the Watcher protocol)."""
        if self.closed:
            return
        if self.watched.get(path) is not False:
            raise InvariantViolation(
                f"watch: client {self.client} got event {EventType(ev_type).name} for "
                f"{path} from node {self.member}, "
                + ("a second time" if path in self.watched else "which it does not watch"))
        self.watched[path] = True
        self.events += 1
        if self.log is not None:
            self.log(f"client {self.client}: event {EventType(ev_type).name} {path} from "
                     f"node {self.member}")


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
    writes: int = 0


@dataclass(frozen=True)
class Expiry:
    """A member's decision to expire a session."""

    at: int
    term: int
    leader: bool  # the member believed it led, established
    newest: bool  # it led the newest term there was


class SimSessions:
    def __init__(self, cluster: SimCluster, seed: int) -> None:
        self.c = cluster
        self.rng = random.Random(seed + 0xC11E)
        self.clients = [SimClient(k, self.rng.randint(150, 400)) for k in range(CLIENTS)]
        for cl in self.clients:
            cl.clock = SimClock.draw(cluster.clock_rng, cluster.drift)
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
        #: session -> the end of its client's lease (answered pings), and how many renewed it
        self.leases: dict[int, float] = {}
        self.renewals = 0
        #: watch events delivered, creates a watcher got the reply for after its event
        self.watch_events = 0
        self.watched_replies = 0
        #: the watches' own randomness (the other draws of a seed stay as they were)
        self.watch_rng = random.Random(seed + 0x3A7C)
        #: expiries decided by a stale leader and committed from its log (not checked)
        self.stale = 0

    def start(self, event: int) -> None:
        self.event = event
        for cl in self.clients:
            self.c.schedule(self.rng.randint(20, 200), event, cl.idx)

    # ------------------------------------------------------------------ a member's host
    def watches(self) -> WatchManager:
        """A member's watch table, as the server makes one at start (empty)."""
        return WatchManager()

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

    def expire(self, sn: SimNode) -> None:
        """The tracker's periodic expiry on a member (at each of its ticks)."""
        if sn.sessions is None or sn.core is None:
            return
        core = sn.core
        for sid in sn.sessions.expired(sn.now(self.c.now), core.may_expire):
            txn = Txn(Kind.CLOSE_SESSION, sid, sn.clock.wall_ms(self.c.now))
            # as the server does: the decision is dropped once this leadership ends
            abandoned = None if self.c.bugs & {"resend_expiry"} else self._deposed(sn)
            core.propose(txn, None, abandoned, sn.now(self.c.now))
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
        if cl is not None and cl.sid == sid:  # the client learns its session expired
            self.c.log(f"client {cl.idx}: session {cl.sid:#x} expired at zxid {zxid}")
            self.expired += 1
            cl.sid = 0
            cl.member = 0
        ex = self.expiries.get(key)
        if cl is None or ex is None:
            return
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
              and sn.incarnation == cl.incarnation)
        if not up:
            cl.connecting = False  # a create sent through a member that went down is lost
            sn = self._connect(cl)
        if sn is None or sn.core is None:
            c.schedule(self.rng.randint(20, 60), self.event, idx)
            return
        if not cl.sid:
            if not cl.connecting:
                self._create(cl, sn)
            c.schedule(self.rng.randint(20, 60), self.event, idx)
            return
        # a ping: the member touches the session and reports it to the leader
        if sn.sessions is not None:
            self._answered(cl, sn, cl.sid, c.now)
            sn.sessions.touch(cl.sid, sn.now(c.now))
        sn.core.touch(cl.sid)
        if self._leads_newest(sn) and sn.core.may_expire:  # an established leader answers
            self.leader_pings.setdefault(cl.sid, []).append(c.now)
        calm = c.healed_at >= 0 and not c.probing  # between epochs: pings only
        if self.watch_rng.random() < WATCH_WRITE and not calm:
            self._watch_and_create(cl, sn)
        c.schedule(cl.clock.after(cl.timeout_ms // 3), self.event, idx)

    def _answered(self, cl: SimClient, sn: SimNode, sid: int, sent: float) -> None:
        """`sn` answers now a request of session `sid` sent at `sent` (true time), if it
        holds a liveness grant (a member holds the answer otherwise); an answer renews the
        client's lease from the send time, counted on the client's clock. Pings, and the
        replies of writes (the server gates every answer alike)."""
        assert sn.sessions is not None
        c = self.c
        if "ping_without_grant" in c.bugs or sn.sessions.may_answer(sid, sn.now(c.now)):
            span = lease_span(cl.timeout_ms / 1000, c.drift)
            end = sent + cl.clock.after(1000 * span)
            self.leases[sid] = max(self.leases.get(sid, 0.0), end)
            self.renewals += 1

    def _watch_and_create(self, cl: SimClient, sn: SimNode) -> None:
        """exists(path, watch=True) on the member, then create(path) through it."""
        assert sn.core is not None and sn.watches is not None
        conn = cl.conn
        if conn is None or conn.member != sn.id:
            return
        cl.writes += 1
        path = f"/w{cl.idx}-{cl.writes}"
        sn.watches.add_data(path, conn)
        conn.watched[path] = False
        req = CreateRequest(path, b"", _OPEN, 0)
        txn = Txn(Kind.REQUEST, cl.sid, sn.clock.wall_ms(self.c.now), (), int(Op.CREATE),
                  req.to_bytes(), request=req)

        sid, sent = cl.sid, self.c.now

        def done(zxid: int, result: TxnResult) -> None:
            if conn.closed or zxid <= 0:
                return  # lost with its connection
            if sn.sessions is not None and sid in sn.sessions.timeouts:
                self._answered(cl, sn, sid, sent)
            if result.err:
                return  # failed: no event to expect
            if not conn.watched.get(path):
                raise InvariantViolation(
                    f"watch: client {cl.idx} got the reply of its create of {path} (zxid "
                    f"{zxid}) from node {sn.id} before the event of its watch on {path}")
            self.watched_replies += 1
            if self.c.trace is not None:
                self.c.log(f"client {cl.idx}: {path} created at zxid {zxid}, after its event")

        if self.c.trace is not None:
            self.c.log(f"client {cl.idx} watches {path} and creates it through node {sn.id}")
        sn.core.propose(txn, done, None, sn.now(self.c.now))
        self.c.process(sn)

    def _leads_newest(self, sn: SimNode) -> bool:
        node, leaders = sn.node, self.c.checker.leaders
        newest = max(leaders, default=0)
        return (node is not None and node.role is Role.LEADER and node.term == newest
                and leaders.get(newest) == sn.id)

    def _connect(self, cl: SimClient) -> SimNode | None:
        c = self.c
        alive = [x for x in c.alive() if not x.dropped and not x.removed and x.core]
        if not alive:
            return None
        leaders = [x for x in alive if x.node is not None and x.node.role is Role.LEADER]
        sn = self.rng.choice(leaders if leaders and self.rng.random() < 0.5 else alive)
        old = cl.conn
        if old is not None:  # the old connection closes: its member drops its watches
            old.closed = True
            self.watch_events += old.events
            gone = c.nodes.get(old.member)
            if gone is not None and gone.watches is not None:
                gone.watches.drop(old)
        cl.member, cl.incarnation = sn.id, sn.incarnation
        cl.conn = SimConnection(cl.idx, sn.id, c.log if c.trace is not None else None)
        return sn

    def _create(self, cl: SimClient, sn: SimNode) -> None:
        assert sn.core is not None
        cl.gen += 1
        sid = (cl.idx + 1) << 32 | cl.gen
        cl.connecting = True

        def done(zxid: int, result: TxnResult, cl: SimClient = cl, sid: int = sid) -> None:
            cl.connecting = False
            if zxid > 0 and not result.err:
                cl.sid = sid
                self.by_sid[sid] = cl
                self.c.log(f"client {cl.idx}: session {sid:#x} created at zxid {zxid}")

        txn = Txn(Kind.CREATE_SESSION, sid, sn.clock.wall_ms(self.c.now), body=b"\0" * 16,
                  timeout_ms=cl.timeout_ms)
        sn.core.propose(txn, done, None, sn.now(self.c.now))
        self.c.process(sn)
