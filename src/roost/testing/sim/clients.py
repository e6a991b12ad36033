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
leader answers pings only once established: roost.replica.sessions). A correct leader's
deadline is at least that far away; a later leader restarts deadlines when established; an
older leader's decision taken after that can never commit. A follower, which does not hear
the pings other members receive, would break it (`expire_on_follower`).

Also checked there, the lock lease (docs/client.md): a ping a member answers (it holds a
liveness grant for the session) gives its client a lease of `lease_span` from the ping;
no lease may reach past the moment the expiry was decided.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roost.client.connection import lease_span
from roost.raft import Role
from roost.replica.sessions import Sessions
from roost.tree.txn import Kind, Txn, TxnResult

from .checker import InvariantViolation

if TYPE_CHECKING:
    from .cluster import SimCluster, SimNode

#: simulated clients per run
CLIENTS = 4
#: the clients' assumed clock-rate bound (the simulated clocks do not drift)
CLOCK_DRIFT = 0.02


@dataclass
class SimClient:
    idx: int
    timeout_ms: int
    sid: int = 0  # 0: no session
    gen: int = 0
    member: int = 0  # the member it is connected to (0: none)
    incarnation: int = 0  # of that member when it connected
    connecting: bool = False


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
        self.by_sid: dict[int, SimClient] = {}
        #: session -> the times its client pinged a member that led the newest term
        self.leader_pings: dict[int, list[int]] = {}
        #: (origin, boot, seq) of a CLOSE_SESSION an expiry proposed -> when
        self.expiries: dict[tuple[int, int, int], Expiry] = {}
        self.checked: set[tuple[int, int, int]] = set()
        #: member -> role changes its core reported (the server's Server.role_changes)
        self.role_changes: dict[int, int] = {}
        self.expired = 0
        #: session -> the end of its client's lease (answered pings), and how many renewed it
        self.leases: dict[int, float] = {}
        self.renewals = 0

    def start(self, event: int) -> None:
        self.event = event
        for cl in self.clients:
            self.c.schedule(self.rng.randint(20, 200), event, cl.idx)

    # ------------------------------------------------------------------ a member's host
    def tracker(self, sn: SimNode) -> Sessions:
        """A member's session table, as the server makes one at start (every session of
        its tree gets a fresh deadline)."""
        assert sn.replica is not None
        tr = Sessions(sn.id, bugs=self.c.bugs & {"expire_on_follower"})
        tr.restart({sid: info.timeout_ms for sid, info in sn.replica.tree.sessions.items()},
                   self.c.now / 1000)
        return tr

    def on_role(self, sn: SimNode, role: Role) -> None:
        self.role_changes[sn.id] = self.role_changes.get(sn.id, 0) + 1

    def on_applied(self, sn: SimNode, zxid: int, txn: Txn) -> None:
        tr = sn.sessions
        if txn.kind is Kind.CREATE_SESSION:
            if tr is not None:
                tr.track(txn.session_id, txn.timeout_ms, self.c.now / 1000)
        elif txn.kind is Kind.CLOSE_SESSION:
            if tr is not None:
                tr.forget(txn.session_id)
            self._check_close(zxid, txn)

    def expire(self, sn: SimNode) -> None:
        """The tracker's periodic expiry on a member (at each of its ticks)."""
        if sn.sessions is None or sn.core is None:
            return
        core = sn.core
        for sid in sn.sessions.expired(self.c.now / 1000, core.may_expire):
            txn = Txn(Kind.CLOSE_SESSION, sid, self.c.now)
            # as the server does: the decision is dropped once this leadership ends
            abandoned = None if self.c.bugs & {"resend_expiry"} else self._deposed(sn)
            core.propose(txn, None, abandoned, self.c.now / 1000)
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
        cl = self.by_sid.get(txn.session_id)
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
        if pings and ex.at - pings[-1] < cl.timeout_ms:
            raise InvariantViolation(
                f"session {txn.session_id:#x} expired (decided by node {txn.origin} at "
                f"{ex.at} ms in term {ex.term}, applied at zxid {zxid}) though its client "
                f"pinged the leader at {pings[-1]} ms, less than its {cl.timeout_ms} ms "
                "timeout before")
        if cl.sid == txn.session_id:  # the client learns its session expired
            self.c.log(f"client {cl.idx}: session {cl.sid:#x} expired at zxid {zxid}")
            self.expired += 1
            cl.sid = 0
            cl.member = 0

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
            answered = ("ping_without_grant" in c.bugs
                        or sn.sessions.may_answer(cl.sid, c.now / 1000))
            if answered:  # the lease renews
                end = c.now + 1000 * lease_span(cl.timeout_ms / 1000, CLOCK_DRIFT)
                self.leases[cl.sid] = max(self.leases.get(cl.sid, 0.0), end)
                self.renewals += 1
            sn.sessions.touch(cl.sid, c.now / 1000)
        sn.core.touch(cl.sid)
        if self._leads_newest(sn) and sn.core.may_expire:  # an established leader answers
            self.leader_pings.setdefault(cl.sid, []).append(c.now)
        c.schedule(max(1, cl.timeout_ms // 3), self.event, idx)

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
        cl.member, cl.incarnation = sn.id, sn.incarnation
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

        txn = Txn(Kind.CREATE_SESSION, sid, self.c.now, body=b"\0" * 16, timeout_ms=cl.timeout_ms)
        sn.core.propose(txn, done, None, self.c.now / 1000)
        self.c.process(sn)
