"""A deterministic raft cluster simulation driven by one integer seed.

Time is simulated milliseconds; every node ticks on its own period; messages travel
through `SimNetwork`; "disks" are `SimDisk` objects (writes lost unless synced before a
crash, torn last writes, ENOSPC/EIO, failed fsyncs); a member stops at a disk error and
restarts from what its disk kept. Each node is the production replica
(`roost.replica.core.ReplicaCore` over `ReplicaState` and the real `DataTree`),
driven as the server drives it (ready, persist, fsync, persisted, advance, settle, its
effects performed after each input: `SimHost.perform`, host.py): clients' txns
are stamped by the member they reach, forwarded to the leader over the simulated network
and resent after leader changes; membership changes are reconfig txns that the leader's
core turns into raft steps; every member must apply each txn once, at one zxid, into
identical trees, and keep every create a client got a reply for. A run has a safety phase
with faults, then a liveness phase with every fault healed: a leader must be elected and
a fresh proposal applied by every member within `LIVENESS_BOUND_MS`. Every duration is
the compressed timing's, scaled to the run's timing (`timing.py`: production's by default).

`SimCluster` is the run: its draws, its event loop and its phases (storms, liveness
probes, calm), over its parts, each a class below it: `SimLoad` (load.py, the background
creates and reads) over `SimHost` (host.py, each member's process) over `SimChecks`
(checks.py, the run's own checks) over `SimWorld` (world.py, the interface the chaos and
the clients see). A run's figures are stats.py's.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from math import ceil
from typing import Any

from roost.raft import ConfState, Message, Role

from .chaos import Chaos
from .checker import Checker
from .clients import SimSessions
from .clocks import DRIFTS, SimClock
from .disk import DiskFaults, SimDisk
from .events import (
    CAMPAIGN,
    CLIENT,
    CLIENT_CONNECT,
    CLIENT_OUTPUT,
    CLIENT_TURN,
    CRASH_NOW,
    DELIVER,
    DISK,
    FAULT,
    HEAL,
    LINK,
    MEMBER,
    PHASE,
    PROPOSE,
    READ,
    RESTART,
    STORM,
    STREAM,
    TICK,
)
from .host import DISK_DELAYS, DISK_FAULT_RATE, DISK_STALL_MS
from .load import SimLoad
from .network import DEFAULT_NETWORK, NETWORKS, LinkFaults, SimNetwork, StreamNetwork
from .node import SimNode
from .profile import Profile
from .stats import SimFailure, SimStats, replay_command
from .timing import DEFAULT as DEFAULT_TIMING
from .timing import timing as timing_named

__all__ = ["LIVENESS_BOUND_MS", "SimCluster", "SimFailure", "SimNode", "SimStats",
           "replay_command"]

#: the liveness bound at the compressed timing (`Timing.ms` scales it: 20 s at production's)
LIVENESS_BOUND_MS = 4000
_LEADER = Role.LEADER  # (an enum member read per tick, as a global)


class SimCluster(SimLoad):
    """One run. `minutes`: its simulated length; 0 for one epoch (a storm of faults, then
    the liveness phase), else epochs follow each other, each liveness phase followed by a
    calm stretch (no faults, no new proposals; the clients keep their sessions), until
    that much simulated time has passed. `timing`: the name of the run's time scale
    (timing.py)."""

    def __init__(self, nodes: int, seed: int, bugs: frozenset[str] = frozenset(),
                 trace: bool = False, minutes: float = 0,
                 timing: str = DEFAULT_TIMING, network: str = DEFAULT_NETWORK) -> None:
        if network not in NETWORKS:
            raise ValueError(f"unknown network {network!r} (one of {', '.join(NETWORKS)})")
        self.n = nodes
        self.network = network
        self.timing = timing_named(timing)
        t = self.timing
        self.minutes = minutes
        self.end_ms = int(minutes * 60000)
        self.seed = seed
        self.bugs = bugs
        self.rng = random.Random(seed)
        self.profile = Profile.from_rng(nodes, self.rng, t,
                                        "joiner_copies_whole_log" in bugs)
        self.net = SimNetwork(self.rng, self._link_faults()) if network == "datagram" else \
            StreamNetwork(self.rng, self._link_faults(), self, STREAM, LINK,
                          stable=t.ms(200), backoff=(t.ms(10), t.ms(400)))
        self.checker = Checker()
        self.stats = SimStats(seed, nodes)
        self.trace: list[str] | None = [] if trace else None
        self.now = 0
        self._seq = 0
        self._events: list[tuple[int, int, int, Any]] = []
        self.nodes: dict[int, SimNode] = {}
        self.next_id = nodes + 1
        #: when the faults of this epoch were healed (-1: a storm is on)
        self.healed_at = -1
        #: in a liveness phase (a leader must get a fresh proposal applied in time)
        self.probing = False
        self.probe: tuple[int, int, bytes] | None = None  # (leader, index, data)
        self.done = False
        self._proposal_seq = 0
        #: the clocks' own randomness; this run's drift bound (clocks.py)
        self.clock_rng = random.Random(seed + 0xC10C)
        self.drift = self.clock_rng.choice(DRIFTS)
        self.chaos = Chaos(self)
        self.clients = SimSessions(self, seed)
        #: (origin, boot, seq) -> the zxid it applied at (on any member)
        self.txn_zxids: dict[tuple[int, int, int], int] = {}
        #: zxid -> the tree digest the first member to apply it had
        self.tree_digests: dict[int, int] = {}
        self.sent_order: dict[tuple[int, int, int], tuple[int, int]] = {}
        self.session_sent: dict[int, int] = {}
        self.session_applied: dict[tuple[int, int, int],
                                   tuple[int, int, tuple[int, int, int]]] = {}
        self.session_last: dict[int, tuple[int, int]] = {}
        #: the disks' own randomness (so the other draws of a seed stay as they were)
        self.disk_rng = random.Random(seed + 0x5EED_D15C)
        faulty = "lost_fsync_error" in bugs or self.disk_rng.random() < 0.5
        rate = DISK_FAULT_RATE if faulty else 0.0
        self.disk_faults = DiskFaults(rate, rate)
        self.disk_fault_rate = rate
        #: how long a disk write takes (its own randomness)
        self.disk_time_rng = random.Random(seed + 0xD15C_7135)
        self.disk_delay = t.ms(self.disk_time_rng.choice(DISK_DELAYS))
        self.disk_stall_ms = t.ms(DISK_STALL_MS)
        self.liveness_bound_ms = t.ms(LIVENESS_BOUND_MS)
        #: created paths whose client got its reply -> the zxid the reply named
        self.acked: dict[str, int] = {}
        conf = ConfState(frozenset(range(1, nodes + 1)))
        for i in range(1, nodes + 1):
            st = self.new_disk()
            st.bootstrap(conf)
            self._add_node(i, st)

    # ------------------------------------------------------------------ plumbing
    def _link_faults(self) -> LinkFaults:
        p, t = self.profile, self.timing
        return LinkFaults(p.loss, p.dup, p.max_delay, p.slow, t.ms(20), t.ms(200))

    def log(self, text: str) -> None:
        if self.trace is not None:
            self.trace.append(f"{self.now:6d} {text}")

    def schedule(self, delay: int, kind: int, arg: Any = None) -> None:
        self._seq += 1
        heapq.heappush(self._events, (self.now + delay, self._seq, kind, arg))

    def schedule_at(self, at: int, kind: int, arg: Any = None) -> None:
        self._seq += 1
        heapq.heappush(self._events, (max(at, self.now + 1), self._seq, kind, arg))

    def new_disk(self) -> SimDisk:
        return SimDisk(random.Random(self.disk_rng.getrandbits(64)), self.disk_faults)

    def _add_node(self, nid: int, storage: SimDisk) -> SimNode:
        p = self.profile
        t = self.timing
        period = t.ms(10) if not p.skew else self.rng.randint(t.ms(7), t.ms(14))
        sn = SimNode(nid, storage, tick_period=period,
                     clock=SimClock.draw(self.clock_rng, self.drift))
        self.nodes[nid] = sn
        self._start(sn)
        return sn

    # ------------------------------------------------------------------ events
    def run(self) -> SimStats:
        self.storm()
        self.clients.start(CLIENT, CLIENT_TURN, CLIENT_OUTPUT, CLIENT_CONNECT)
        c = self.chaos
        handlers: dict[int, Callable[[Any], None]] = {
            TICK: self._on_tick, DELIVER: self._on_deliver, DISK: self._persisted,
            FAULT: c.on_fault,
            PROPOSE: self._on_propose, READ: self._on_read, MEMBER: c.on_member,
            RESTART: c.on_restart, HEAL: c.on_heal, CRASH_NOW: c.on_crash_now,
            PHASE: c.on_phase, CLIENT: self.clients.on_event, STORM: lambda _: self.storm(),
            CLIENT_TURN: self.clients.on_turn, CLIENT_OUTPUT: self.clients.on_output,
            STREAM: self._on_stream, LINK: self.net.on_link, CAMPAIGN: self._on_campaign,
            CLIENT_CONNECT: self.clients.on_connect,
        }
        events = self._events
        pop = heapq.heappop
        stats = self.stats
        bound = self.liveness_bound_ms
        while events and not self.done:
            t, _, kind, arg = pop(events)
            self.now = t
            stats.events += 1
            handlers[kind](arg)
            if self.probing and t - self.healed_at > bound:
                c.liveness_failure()
        if self.done:
            self.check_acked()
        self.stats.acked = len(self.acked)
        self.stats.sessions = len(self.clients.by_sid)
        self.stats.expired = self.clients.expired
        ws = self.clients.w.stats
        self.stats.watch_events = ws.events
        self.stats.watched_replies = ws.own_write_events
        self.stats.watches_set = ws.set
        self.stats.reregistered = ws.reregistered
        self.stats.replies, self.stats.replies_waited = ws.replies, ws.waited
        self.stats.output_held = ws.held
        self.stats.watch_removes, self.stats.watches_removed = ws.removes, ws.removed
        cs = self.clients
        self.stats.reattach_held, self.stats.told_expired = cs.reattach_held, cs.told_expired
        self.stats.held_closes, self.stats.sessions_lost = cs.held_closes, cs.lost_sessions
        self.stats.persistent_set, self.stats.persistent_events = (
            ws.persistent_set, ws.persistent_events)
        self.stats.client_moves = self.clients.moves
        self.stats.lease_renewals = self.clients.renewals
        rs = self.clients.requests.stats
        self.stats.cas, self.stats.bad_versions = rs.cas, rs.bad_versions
        self.stats.multis, self.stats.failed_multis = rs.multis, rs.failed_multis
        self.stats.sync_reads = rs.sync_reads
        lock, latch = self.clients.recipes.all
        self.stats.lock_grants, self.stats.latch_grants = lock.grants, latch.grants
        self.stats.elapsed_ms = self.now
        self.stats.checks = self.checker.checks
        return self.stats

    def storm(self) -> None:
        """An epoch begins: faults, proposals, reads and membership changes until the
        liveness phase `profile.safety_ms` later."""
        p, ms = self.profile, self.timing.ms
        self.stats.epochs += 1
        if self.stats.epochs > 1:
            self.healed_at = -1
            self.net.faults = self._link_faults()
            self.disk_faults.write_error = self.disk_faults.fsync_error = self.disk_fault_rate
            self.log(f"epoch {self.stats.epochs}: faults on")
        self.schedule(self.rng.randint(ms(20), ms(120)), FAULT)
        self.schedule(self.rng.randint(ms(50), ms(150)), PROPOSE)
        if p.reads:
            self.schedule(self.rng.randint(ms(50), ms(150)), READ)
        if p.membership:
            self.schedule(self.rng.randint(ms(200), ms(500)), MEMBER)
        self.schedule(p.safety_ms, PHASE)

    def epoch_done(self) -> None:
        """The liveness phase passed: end the run, or check the epoch's acknowledged
        writes and trees and stay calm until the next storm."""
        self.probing = False
        for sn in self.nodes.values():
            if sn.replica is not None and sn.node is not None:
                self._check_tree(sn)
        if self.now >= self.end_ms:
            self.done = True
            return
        self.check_acked()
        calm = self.rng.randint(self.timing.ms(2000), self.timing.ms(8000))
        self.log(f"calm for {calm} ms")
        self.schedule(calm, STORM)

    def _on_tick(self, arg: tuple[int, int]) -> None:
        nid, inc = arg
        sn = self.nodes[nid]
        if sn.node is None or sn.core is None or sn.incarnation != inc:
            return
        if sn.persisting is None and sn.storage.journal and not self._sync(sn, deferred=True):
            return  # (a journal: writes not synced)
        c, core, now = sn.clock, sn.core, self.now
        core.tick((c.offset_ms + c.rate * now) / 1000)  # sn.now(self.now), inline
        if core.effects:  # (self._perform, inline: at every tick of every member)
            self.perform(sn, core.take_effects())
        self.clients.expire(sn)
        self.process(sn)
        sn.next_tick += sn.tick_period  # by its own clock
        # self.schedule_at(c.true_at(sn.next_tick), TICK, arg), inline
        self._seq += 1
        heapq.heappush(self._events, (max(ceil((sn.next_tick - c.offset_ms) / c.rate - 1e-9),
                                          now + 1), self._seq, TICK, arg))
        if self.probing and sn.node is not None and sn.node.role is _LEADER:
            self.chaos.liveness_step(sn)

    def _on_deliver(self, m: Message | tuple[int, int, int, bytes]) -> None:
        if isinstance(m, tuple):  # a forwarded txn or a batch of session pings
            frm, to, channel, payload = m
            dest = self.nodes.get(to)
            if dest is not None and dest.core is not None and not dest.dropped:
                dest.core.receive(frm, channel, payload, dest.now(self.now))
                self._perform(dest, dest.core)
                self.process(dest)
            return
        sn = self.nodes.get(m.to)
        if sn is None or sn.node is None or sn.dropped:
            return
        if self.profile.encode:
            m = Message.from_bytes(m.to_bytes())
        sn.node.step(m)
        self.process(sn)

    def _on_stream(self, arg: tuple[int, int, int, Message | tuple[int, int, int, bytes]]
                   ) -> None:
        """A message on a stream network's connection (lost if that connection broke)."""
        if self.net.deliverable(arg[0], arg[1], arg[2]):
            self._on_deliver(arg[3])

    def alive(self) -> list[SimNode]:
        return [sn for sn in self.nodes.values() if sn.node is not None]

    def leaders(self) -> list[SimNode]:
        return [sn for sn in self.alive() if sn.node is not None and sn.node.role is Role.LEADER]
