"""A deterministic raft cluster simulation driven by one integer seed.

Time is simulated milliseconds; every node ticks on its own period; messages travel
through `SimNetwork`; "disks" are `SimDisk` objects (writes lost unless synced before a
crash, torn last writes, ENOSPC/EIO, failed fsyncs); a member stops at a disk error and
restarts from what its disk kept. Each node is the production replica
(`roost.replica.core.ReplicaCore` over `ReplicaState` and the real `DataTree`),
driven as the server drives it (ready, persist, fsync, persisted, advance, settle, its
effects performed after each input: `SimCluster.perform`): clients' txns
are stamped by the member they reach, forwarded to the leader over the simulated network
and resent after leader changes; membership changes are reconfig txns that the leader's
core turns into raft steps; every member must apply each txn once, at one zxid, into
identical trees, and keep every create a client got a reply for. A run has a safety phase
with faults, then a liveness phase with every fault healed: a leader must be elected and
a fresh proposal applied by every member within `LIVENESS_BOUND_MS`. Every duration is
the compressed timing's, scaled to the run's timing (`timing.py`: production's by default).
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgpack

from roost.raft import (
    ConfChange,
    ConfChangeType,
    Config,
    ConfState,
    Entry,
    EntryKind,
    Message,
    RaftNode,
    Ready,
    Role,
    Snapshot,
)
from roost.replica.core import CoreConfig, ReplicaCore
from roost.replica.effects import (
    DropPeers,
    Effect,
    Messages,
    ReadReady,
    ReadTimedOut,
    Reply,
    Reset,
    RoleChanged,
    Send,
)
from roost.replica.log import Done
from roost.replica.sessions import KNOWN_BUGS as SESSION_BUGS
from roost.replica.sessions import Sessions
from roost.replica.state import KNOWN_BUGS as REPLICA_BUGS
from roost.replica.state import ReplicaState, founders_of
from roost.server.watches import WatchManager
from roost.tree import TreeConfig
from roost.tree.context import KNOWN_BUGS as TREE_BUGS
from roost.tree.txn import Kind, Txn, TxnResult
from roost.wire.opcodes import EventType, Op
from roost.wire.records import ACL, CreateRequest, Id

from .chaos import Chaos
from .checker import Checker, InvariantViolation
from .clients import CLIENT_BUGS, WATCH_BUGS, SimSessions
from .clocks import DRIFTS, MAX_OFFSET_MS, SimClock
from .disk import DiskFaults, SimDisk
from .events import (
    CLIENT,
    CLIENT_OUTPUT,
    CLIENT_TURN,
    CRASH_NOW,
    DELIVER,
    DISK,
    FAULT,
    HEAL,
    MEMBER,
    PHASE,
    PROPOSE,
    READ,
    RESTART,
    STORM,
    TICK,
)
from .members import SIM_MEMBERS
from .network import LinkFaults, SimNetwork
from .profile import Profile
from .recipes import RECIPE_BUGS
from .requests import REQUEST_BUGS
from .timing import DEFAULT as DEFAULT_TIMING
from .timing import timing as timing_named

#: the liveness bound at the compressed timing (`Timing.ms` scales it: 20 s at production's)
LIVENESS_BOUND_MS = 4000
MAX_BACKLOG = 50  # proposals wait while a leader has this many uncommitted entries
#: planted bugs of the replica core: serve a linearizable read without its barrier (the
#: server's unsafe_skip_read_barrier)
CORE_BUGS = frozenset({"read_before_barrier"})
#: planted bugs of the simulated host: acknowledge before the fsync (it runs at the next
#: tick); ignore a failed fsync and carry on (the lost writes are then never retried); let
#: a deposed leader resend its session expiries to its successor (the bug the simulator
#: found in the server's expiry; tests/raft/test_raft_sim.py names the seeds)
#: a member answering a session's pings without a leader's liveness grant (the lease's
#: server side, roost.replica.sessions)
HOST_BUGS = frozenset({"ack_before_fsync", "lost_fsync_error", "resend_expiry",
                       "ping_without_grant"})
#: planted flaws of the simulator's own draws: runs with membership changes and no
#: compaction (joiners copy the whole log; Profile.from_rng)
PROFILE_BUGS = frozenset({"joiner_copies_whole_log"})
#: per write and per fsync, in runs with disk faults (half the runs; all with
#: lost_fsync_error, whose fault is a failed fsync)
DISK_FAULT_RATE = 0.002
#: compare the members' trees (a full digest, O(tree)) after a batch ending at a multiple
#: of this, and every member's at the end of each epoch (the hash chain of applied entries
#: is compared at every apply)
TREE_CHECK_EVERY = 512
#: a disk write completes 1..this many ms after it starts (drawn per run), or with
#: DISK_STALL_RATE after a stall of up to DISK_STALL_MS (compressed timing's ms)
DISK_DELAYS = (1, 3, 8)
DISK_STALL_RATE = 0.02
DISK_STALL_MS = 60
#: after a client's txn, its member sends all its pending ones again (as when its link to
#: the leader comes back) with this probability
RESEND = 0.15
_OPEN = [ACL(31, Id("world", "anyone"))]
_CREATED, _CHANGED = int(EventType.NODE_CREATED), int(EventType.NODE_DATA_CHANGED)
#: (enum members read per event, as globals: an enum class's attribute costs several times
#: as much to read)
_LEADER, _CONF_CHANGE = Role.LEADER, EntryKind.CONF_CHANGE


def replay_command(nodes: int, seed: int, bugs: frozenset[str], minutes: float = 0,
                   timing: str = DEFAULT_TIMING) -> str:
    cmd = f"python -m roost.testing.sim --nodes {nodes} --seed {seed}"
    if minutes:
        cmd += f" --minutes {minutes:g}"
    if timing != DEFAULT_TIMING:
        cmd += f" --timing {timing}"
    return cmd + "".join(f" --bug {b}" for b in sorted(bugs))


class SimFailure(AssertionError):
    """A seed failed; the message ends with the command that replays it."""


@dataclass
class SimStats:
    seed: int
    nodes: int
    elapsed_ms: int = 0
    liveness_ms: int = 0
    events: int = 0
    applied: int = 0
    terms: int = 0
    crashes: int = 0
    partitions: int = 0
    conf_changes: int = 0
    snapshots_sent: int = 0
    reads_served: int = 0
    messages: int = 0
    checks: int = 0
    disk_errors: int = 0  # failed writes and fsyncs (each stopped its member)
    acked: int = 0  # creates whose client got a reply (all checked durable at the end)
    sessions: int = 0  # sessions created by the simulated clients
    expired: int = 0  # of which expired
    lease_renewals: int = 0  # pings answered under a liveness grant (the client's lease)
    watch_events: int = 0  # watch events the clients received (each checked)
    watched_replies: int = 0  # writes whose reply came after the event they fired for their client
    watches_set: int = 0  # watches the clients' reads set
    reregistered: int = 0  # watches re-registered by setWatches after a client moved
    client_moves: int = 0  # connections the clients moved to another member
    epochs: int = 0  # storm, heal and calm rounds (one unless the run is long)
    cas: int = 0  # the clients' setData/delete with a version, answered (each checked)
    bad_versions: int = 0  # of which answered BadVersion
    multis: int = 0  # multis answered (each checked)
    failed_multis: int = 0  # of which none applied
    sync_reads: int = 0  # sync-then-reads (each checked)
    lock_grants: int = 0  # the lock recipe's grants (each checked against the others)
    replies: int = 0  # replies the clients got, each checked to be in request order
    persistent_set: int = 0  # persistent and recursive watches the clients added
    persistent_events: int = 0  # events they got (each checked: the next change, in order)
    replies_waited: int = 0  # reads and pings answered after a write queued before them
    output_held: int = 0  # times a member's gate held a connection's output
    latch_grants: int = 0  # the leader latch's


@dataclass
class SimNode:
    id: int
    storage: SimDisk
    node: RaftNode | None = None
    incarnation: int = 0
    tick_period: int = 10
    sm_index: int = 0
    sm_digest: bytes = b""
    crash_armed: bool = False
    commit_seen: int = 0
    led_term: int = 0
    removed: bool = False
    waiting_reads: dict[bytes, int] = field(default_factory=dict)
    #: the linearizable reads under way: ctx -> what runs when its barrier passed
    read_served: dict[bytes, Callable[[], None]] = field(default_factory=dict)
    #: and what to do if it fails (the server aborts the client's connection)
    read_failed: dict[bytes, Callable[[], None]] = field(default_factory=dict)
    replica: ReplicaState | None = None
    core: ReplicaCore | None = None
    #: a removed member dropped its peers: nothing leaves it or reaches it
    dropped: bool = False
    sessions: Sessions | None = None
    watches: WatchManager | None = None
    #: this member's clock (its rate is fixed, its offset drawn again at each start)
    clock: SimClock = field(default_factory=SimClock)
    #: its clock's reading at its next tick
    next_tick: float = 0.0
    #: the Ready whose disk write is in flight (advanced when the DISK event completes it)
    persisting: Ready | None = None
    #: the newest time a txn it applied stamped on a node (ctime, mtime): never goes back
    stamp: int = 0

    def now(self, true_ms: int) -> float:
        """The core's `now` (seconds, this member's clock) at true time `true_ms`
        (`SimClock.seconds`, inline: the simulator asks at every event)."""
        c = self.clock
        return (c.offset_ms + c.rate * true_ms) / 1000


def _digest(prev: bytes, e: Entry) -> bytes:
    h = hashlib.blake2b(prev, digest_size=8)
    h.update(e.index.to_bytes(8, "big") + e.term.to_bytes(8, "big") + e.data)
    return h.digest()


class SimCluster:
    """One run. `minutes`: its simulated length; 0 for one epoch (a storm of faults, then
    the liveness phase), else epochs follow each other, each liveness phase followed by a
    calm stretch (no faults, no new proposals; the clients keep their sessions), until
    that much simulated time has passed. `timing`: the name of the run's time scale
    (timing.py)."""

    def __init__(self, nodes: int, seed: int, bugs: frozenset[str] = frozenset(),
                 trace: bool = False, minutes: float = 0,
                 timing: str = DEFAULT_TIMING) -> None:
        self.n = nodes
        self.timing = timing_named(timing)
        t = self.timing
        self.minutes = minutes
        self.end_ms = int(minutes * 60000)
        self.seed = seed
        self.bugs = bugs
        self.rng = random.Random(seed)
        self.profile = Profile.from_rng(nodes, self.rng, t,
                                        "joiner_copies_whole_log" in bugs)
        self.net = SimNetwork(self.rng, self._link_faults())
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

    def _config(self, sn: SimNode) -> Config:
        p = self.profile
        return Config(
            id=sn.id, election_tick=10, heartbeat_tick=p.heartbeat_tick,
            applied=sn.storage.snapshot().meta.index,
            max_size_per_msg=p.max_size_per_msg, max_inflight_msgs=p.max_inflight,
            pre_vote=p.pre_vote, check_quorum=p.check_quorum, lease_reads=p.lease_reads,
            snapshot_chunk_size=p.snapshot_chunk,
            _bugs=(self.bugs - REPLICA_BUGS - CORE_BUGS - HOST_BUGS - SESSION_BUGS - WATCH_BUGS
                   - TREE_BUGS - REQUEST_BUGS - RECIPE_BUGS - PROFILE_BUGS - CLIENT_BUGS),
        )

    def _start(self, sn: SimNode) -> None:
        sn.incarnation += 1
        # a new process: its monotonic clock reads anything (the rate is the hardware's)
        sn.clock = SimClock(self.clock_rng.uniform(0, MAX_OFFSET_MS), sn.clock.rate)
        sn.crash_armed = False
        sn.persisting = None
        snap = sn.storage.snapshot()
        sn.sm_index, sn.sm_digest, image = self._restore_sm(snap)
        sn.replica = ReplicaState(
            sn.id, sn.incarnation, TreeConfig(_bugs=self.bugs & TREE_BUGS), {},
            self._applied_sink(sn),
            _bugs=self.bugs & REPLICA_BUGS,
        )
        # a joiner (empty disk) is no member until its addition applies
        sn.replica.install(image, sn.sm_index, founders_of(SIM_MEMBERS, snap.meta.conf))
        sn.stamp = sn.replica.tree.last_time_ms
        sn.node = RaftNode(self._config(sn), sn.storage, random.Random(self.rng.getrandbits(64)))
        sn.dropped = False
        sn.sessions = self.clients.tracker(sn)
        sn.watches = self.clients.watches()
        sn.core = ReplicaCore(
            sn.replica, sn.node,
            CoreConfig(election_ticks=10, tick_s=sn.tick_period / 1000,
                       request_timeout_s=self.timing.request_timeout_s,
                       max_waiting=1000, members=SIM_MEMBERS,
                       skip_read_barrier="read_before_barrier" in self.bugs),
            sn.now(self.now),
            sessions=sn.sessions,
        )
        sn.commit_seen = sn.node.committed
        sn.led_term = 0
        sn.waiting_reads.clear()
        sn.read_served.clear()
        sn.read_failed.clear()
        first = self.rng.randint(1, sn.tick_period)
        sn.next_tick = sn.clock.ms(self.now) + first
        self.schedule_at(sn.clock.true_at(sn.next_tick), TICK, (sn.id, sn.incarnation))

    def _restore_sm(self, snap: Snapshot) -> tuple[int, bytes, bytes]:
        """(applied index, digest chain, replica image) of a snapshot."""
        if not snap.data:
            return snap.meta.index, b"", b""  # empty (the bootstrap snapshot)
        index, digest, image = msgpack.unpackb(snap.data)
        return int(index), bytes(digest), bytes(image)

    def _applied_sink(self, sn: SimNode) -> Callable[[int, Txn, TxnResult], None]:
        def applied(zxid: int, txn: Txn, result: TxnResult) -> None:
            key = (txn.origin, txn.boot, txn.seq)
            at = self.txn_zxids.setdefault(key, zxid)
            if at != zxid:
                raise InvariantViolation(
                    f"txn {key} applied at zxid {zxid} on node {sn.id}, and at {at} before "
                    "(a resent txn applied twice)")
            self.clients.requests.applied(sn, zxid, txn, result)
            if result.events:
                self._check_stamps(sn, zxid, result)
                watches = self.clients.w
                watches.applied(zxid, result.events)
                if sn.watches is not None:
                    sn.watches.trigger(result.events)  # as the server's on_applied does
                watches.fired(sn.id, sn.incarnation, zxid)
            if txn.kind is Kind.CREATE_SESSION or txn.kind is Kind.CLOSE_SESSION:
                self.clients.on_applied(sn, zxid, txn)
        return applied

    def _check_stamps(self, sn: SimNode, zxid: int, result: TxnResult) -> None:
        """The times txns stamp on nodes never go back along zxids (whichever member's
        clock stamped each txn: the clocks are offset by up to MAX_OFFSET_MS)."""
        assert sn.replica is not None
        tree = sn.replica.tree
        for ev in result.events:
            if ev.type == _CREATED or ev.type == _CHANGED:
                node = tree.get(ev.path)
                if node is None:
                    continue
                if node.mtime < sn.stamp:
                    raise InvariantViolation(
                        f"time: node {sn.id} applied zxid {zxid} with mtime {node.mtime} on "
                        f"{ev.path}, before the time {sn.stamp} of an earlier txn")
                sn.stamp = node.mtime

    def _on_reset(self, sn: SimNode) -> None:
        """The member installed a snapshot (the server aborts its connections)."""
        assert sn.replica is not None
        sn.stamp = sn.replica.tree.last_time_ms
        self.clients.on_reset(sn)

    def _check_tree(self, sn: SimNode) -> None:
        assert sn.replica is not None
        digest = sn.replica.tree.digest()
        zxid = sn.replica.last_index
        first = self.tree_digests.setdefault(zxid, digest)
        if first != digest:
            raise InvariantViolation(f"node {sn.id}'s tree differs at zxid {zxid}")

    def propose(self, sn: SimNode, txn: Txn, done: Done | None,
                abandoned: Callable[[], bool] | None = None) -> None:
        """A client's (or the chaos') txn through member `sn`, as `RaftLog.propose` does:
        the core takes it, then its effects are performed (a forward to the leader, a
        reply if it failed at once)."""
        core = sn.core
        assert core is not None
        core.propose(txn, done, abandoned, sn.now(self.now))
        self._perform(sn, core)

    def _perform(self, sn: SimNode, core: ReplicaCore) -> None:
        """Perform the effects of the input `core` (`sn`'s, even if it stopped meanwhile)
        just took."""
        if core.effects:
            self.perform(sn, core.take_effects())

    def perform(self, sn: SimNode, effects: list[Effect]) -> None:
        """Carry out a core's effects, in order, as the server's host does
        (`RaftLog._perform`) after each input it gives its core: raft's messages and the
        other peer channels (forwarded txns, session pings) through the simulated network,
        replies, read barriers, resets."""
        for e in effects:
            if isinstance(e, Messages):
                for m in e.messages:
                    self.send(sn, m)
            elif isinstance(e, Send):
                if sn.dropped:
                    continue  # (the core sends nothing once it dropped its peers)
                self.stats.messages += 1
                for d in self.net.delays(sn.id, e.to):
                    self.schedule(d, DELIVER, (sn.id, e.to, e.channel, e.payload))
            elif isinstance(e, Reply):
                e.done(e.zxid, e.result)
            elif isinstance(e, ReadReady):
                served = sn.read_served.pop(e.ctx, None)
                sn.read_failed.pop(e.ctx, None)
                if served is not None:
                    served()
            elif isinstance(e, ReadTimedOut):
                sn.read_served.pop(e.ctx, None)
                failed = sn.read_failed.pop(e.ctx, None)
                if failed is not None:
                    failed()
            elif isinstance(e, Reset):
                self._on_reset(sn)
            elif isinstance(e, RoleChanged):
                self.clients.on_role(sn, e.role)
            elif isinstance(e, DropPeers):
                self.log(f"node {sn.id} drops its peers (removed)")
                sn.dropped = True

    # ------------------------------------------------------------------ the host loop
    def process(self, sn: SimNode) -> None:
        """Drive one node's core the way the server's host does (`RaftLog._kick`/`_cycle`):
        with a disk write in flight, send what needs no disk (`core.early`); else take
        Readies: one that needs the disk is written now and completes at a DISK event later
        (`_persisted`); the others are advanced at once; then settle."""
        node, core = sn.node, sn.core
        if node is None or core is None:
            return
        if sn.persisting is not None:
            core.early()
            self._perform(sn, core)
            return
        c = sn.clock
        now = (c.offset_ms + c.rate * self.now) / 1000  # sn.now(self.now), inline
        checker = self.checker
        while (rd := core.ready(now)) is not None:
            self._perform(sn, core)
            writes = bool(rd.entries) or rd.hard_state is not None or rd.snapshot is not None
            if rd.entries:
                checker.on_entries(sn.id, node.raft, rd.entries)  # (early messages went out)
            if sn.crash_armed and writes:
                # written, not synced: the disk keeps a prefix of it, the last write torn
                if self._persist(sn, rd):
                    self.crash(sn, "mid-ready")
                return
            if writes and not self._persist(sn, rd):
                return
            if (rd.snapshot is not None or rd.entries or rd.must_sync) and (
                    "ack_before_fsync" not in self.bugs):
                sn.persisting = rd  # the fsync runs while inputs go on (core.early)
                delay = self.disk_delay
                if self.disk_time_rng.random() < DISK_STALL_RATE:
                    delay += self.disk_time_rng.randint(1, self.disk_stall_ms)
                else:
                    delay = self.disk_time_rng.randint(1, delay)
                self.schedule(delay, DISK, (sn.id, sn.incarnation))
                return
            # (no fsync needed: a commit index, or nothing written; or the planted
            # ack_before_fsync, whose writes are synced at the next tick)
            if not self._advance(sn, node, core, rd):
                return
        if sn.node is not None:
            core.settle(now)
            self._perform(sn, core)

    def _persisted(self, arg: tuple[int, int]) -> None:
        """A disk write completed (the fsync thread's hand-off): the fsync's outcome, then
        advance the Ready and take the next ones."""
        sn = self.nodes[arg[0]]
        rd = sn.persisting
        node, core = sn.node, sn.core
        if rd is None or node is None or core is None or sn.incarnation != arg[1]:
            return
        sn.persisting = None
        if not self._sync(sn) or not self._advance(sn, node, core, rd):
            return
        self.process(sn)

    def _advance(self, sn: SimNode, node: RaftNode, core: ReplicaCore, rd: Ready) -> bool:
        """`rd` is durable: check, advance (apply), compact; False if the member stopped."""
        applies = rd.snapshot is not None or bool(rd.committed_entries)
        image = self._check_apply(sn, rd) if applies or rd.read_states else b""
        core.persisted(rd, image)
        self._perform(sn, core)  # (a snapshot's Reset before the entries after it apply)
        core.advance(rd)
        self._perform(sn, core)
        # (a full tree digest: only after a batch that applied, not at every Ready
        # while the applied index stays at a multiple)
        if applies and sn.replica is not None \
                and sn.replica.last_index % TREE_CHECK_EVERY == 0:
            self._check_tree(sn)
        self._after_ready(sn, node)
        if applies:  # (compaction waits for applied entries)
            self._maybe_compact(sn, node)
        return sn.node is node  # (else the snapshot's write failed: the member stopped)

    def _persist(self, sn: SimNode, rd: Ready) -> bool:
        """Write what `rd` must persist; a disk error stops the member (False)."""
        st = sn.storage
        try:
            if rd.snapshot is not None:
                st.apply_snapshot(rd.snapshot)
            if rd.entries:
                st.append(rd.entries)
            if rd.hard_state is not None:
                st.set_hard_state(rd.hard_state)
        except OSError as exc:
            self.crash(sn, f"write failed: {exc}")
            return False
        return True

    def _sync(self, sn: SimNode, deferred: bool = False) -> bool:
        """fsync before anything that was written is acknowledged; a failed fsync stops
        the member (False): its writes may be gone, and a second fsync would not say so."""
        if "ack_before_fsync" in self.bugs and not deferred:
            return True  # planted: the writes are synced at the next tick
        try:
            sn.storage.sync()
        except OSError as exc:
            if "lost_fsync_error" in self.bugs:
                self.log(f"node {sn.id}: fsync failed ({exc}); carries on (planted bug)")
                return True
            self.crash(sn, f"fsync failed: {exc}")
            return False
        return True

    def _check_apply(self, sn: SimNode, rd: Ready) -> bytes:
        """The checks on what `rd` applies (before the core applies it); returns the
        replica image of the snapshot it installs."""
        image = b""
        if rd.snapshot is not None:
            idx, dig, image = self._restore_sm(rd.snapshot)
            self.checker.on_install(sn.id, idx, dig)
            sn.sm_index, sn.sm_digest = idx, dig
            self.stats.snapshots_sent += 1
        for e in rd.committed_entries:
            if e.index != sn.sm_index + 1:
                raise InvariantViolation(
                    f"node {sn.id} applied index {e.index} after {sn.sm_index}")
            sn.sm_digest = _digest(sn.sm_digest, e)
            sn.sm_index = e.index
            self.checker.on_apply(sn.id, e, sn.sm_digest)
            self.stats.applied += 1
            if e.kind is _CONF_CHANGE:
                self._on_conf_applied(sn, ConfChange.from_bytes(e.data))
        for rs in rd.read_states:
            need = sn.waiting_reads.pop(rs.context, None)
            if need is None:
                continue
            if rs.index < need:
                raise InvariantViolation(
                    f"linearizable read: node {sn.id} got read index {rs.index} but index "
                    f"{need} was applied before the read began")
            self.stats.reads_served += 1
        return image

    def _after_ready(self, sn: SimNode, node: RaftNode) -> None:
        raft = node.raft
        leads = raft.role is _LEADER
        if leads and sn.led_term == raft.term:
            self.checker.on_leader_commit(sn.id, raft, sn.commit_seen)
        if leads and sn.led_term != raft.term:
            sn.led_term = raft.term
            self.log(f"node {sn.id} leads term {raft.term}")
            self.stats.terms += 1
            self.checker.on_role(sn.id, raft)
        if raft.log.committed > sn.commit_seen:
            lo, sn.commit_seen = sn.commit_seen, raft.log.committed
            self.checker.on_commit(sn.id, raft, lo, raft.log.committed)
            if self.checker.fresh:
                self.checker.check_new_commits(
                    [(o.id, o.node.raft) for o in self.nodes.values()
                     if o.node is not None and o.node.role is Role.LEADER])

    def _maybe_compact(self, sn: SimNode, node: RaftNode) -> None:
        every = self.profile.compact_every
        st = sn.storage
        if not every or sn.sm_index - st.snapshot().meta.index < every:
            return
        if sn.sm_index != node.applied:
            return
        assert sn.replica is not None
        # an image costs O(tree): at least 1/16 of the tree's size in entries between two
        # (the tree only grows, and a long run would spend its time encoding images)
        if sn.sm_index - st.snapshot().meta.index < len(sn.replica.tree.nodes) >> 4:
            return
        data: bytes = msgpack.packb([sn.sm_index, sn.sm_digest, sn.replica.image()])
        try:
            st.create_snapshot(sn.sm_index, node.conf_state, data)
            st.compact(sn.sm_index)
        except OSError as exc:
            self.crash(sn, f"snapshot write failed: {exc}")
            return
        self._sync(sn)

    def send(self, sn: SimNode, m: Message) -> None:
        if sn.dropped:
            return
        self.checker.on_send(sn.id, m, sn.storage.durable)
        self.stats.messages += 1
        for d in self.net.delays(m.frm, m.to):
            self._seq += 1
            heapq.heappush(self._events, (self.now + d, self._seq, DELIVER, m))

    def crash(self, sn: SimNode, why: str) -> None:
        if self.trace is not None:
            unsynced = len(sn.storage.journal)
            self.log(f"node {sn.id} crashes ({why}; {unsynced} unsynced writes)")
        if "failed" in why:
            self.stats.disk_errors += 1
        sn.storage.crash()
        sn.node = None
        sn.core = None
        sn.crash_armed = False
        sn.persisting = None
        sn.incarnation += 1
        self.stats.crashes += 1
        if self.healed_at < 0:
            self.schedule(self.rng.randint(self.timing.ms(30), self.timing.ms(400)), RESTART,
                          sn.id)

    def _on_conf_applied(self, sn: SimNode, cc: ConfChange) -> None:
        if cc.type is ConfChangeType.REMOVE and cc.node_id in self.nodes:
            gone = self.nodes[cc.node_id]
            if not gone.removed:
                gone.removed = True
                self.log(f"node {gone.id} removed; stopping it")
                gone.node = None
                gone.core = None
                gone.incarnation += 1

    # ------------------------------------------------------------------ events
    def run(self) -> SimStats:
        self.storm()
        self.clients.start(CLIENT, CLIENT_TURN, CLIENT_OUTPUT)
        c = self.chaos
        handlers: dict[int, Callable[[Any], None]] = {
            TICK: self._on_tick, DELIVER: self._on_deliver, DISK: self._persisted,
            FAULT: c.on_fault,
            PROPOSE: self._on_propose, READ: self._on_read, MEMBER: c.on_member,
            RESTART: c.on_restart, HEAL: c.on_heal, CRASH_NOW: c.on_crash_now,
            PHASE: c.on_phase, CLIENT: self.clients.on_event, STORM: lambda _: self.storm(),
            CLIENT_TURN: self.clients.on_turn, CLIENT_OUTPUT: self.clients.on_output,
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
        c = sn.clock
        sn.core.tick((c.offset_ms + c.rate * self.now) / 1000)  # sn.now(self.now), inline
        self._perform(sn, sn.core)
        self.clients.expire(sn)
        self.process(sn)
        sn.next_tick += sn.tick_period  # by its own clock
        self.schedule_at(c.true_at(sn.next_tick), TICK, arg)
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

    def alive(self) -> list[SimNode]:
        return [sn for sn in self.nodes.values() if sn.node is not None]

    def leaders(self) -> list[SimNode]:
        return [sn for sn in self.alive() if sn.node is not None and sn.node.role is Role.LEADER]

    def _on_propose(self, _: Any) -> None:
        leaders = self.leaders()
        if leaders and self.healed_at < 0:
            sn = self.rng.choice(leaders)
            assert sn.node is not None
            if sn.node.raft.log.last_index() - sn.node.committed > MAX_BACKLOG:
                leaders = []  # clients back off while the leader is this far behind
        if leaders and self.healed_at < 0:
            count = 1 if self.rng.random() < 0.7 else self.rng.randint(2, 8)
            # the client's member stamps its txns and forwards them to the leader
            origin = self.rng.choice(self.alive())
            assert origin.core is not None
            for _k in range(count):
                self._proposal_seq += 1
                req = CreateRequest(f"/p{self._proposal_seq}", b"", _OPEN, 0)
                txn = Txn(Kind.REQUEST, 0, origin.clock.wall_ms(self.now), (), int(Op.CREATE),
                          req.to_bytes(), request=req)
                self.propose(origin, txn, self._on_reply(req.path))
                if self.trace is not None:
                    self.log(f"client creates {req.path} through node {origin.id}")
            if self.rng.random() < RESEND:  # its link to the leader came back: resend all
                origin.core.resend_all()
                self._perform(origin, origin.core)
            self.process(origin)
        if self.healed_at < 0:
            t = self.timing
            self.schedule(self.rng.randint(t.ms(5) * t.create_spacing, self.profile.propose_every),
                          PROPOSE)

    def _on_reply(self, path: str) -> Callable[[int, TxnResult], None]:
        """The client's reply: from here on the create must survive any crash."""
        def done(zxid: int, result: TxnResult) -> None:
            if zxid <= 0 or result.err:
                return  # failed (no leader, lost): the client was told so
            if zxid not in self.checker.applied:
                raise InvariantViolation(f"reply for {path} names zxid {zxid}, never applied")
            self.acked[path] = zxid
            if self.trace is not None:
                self.log(f"client: {path} created at zxid {zxid}")
        return done

    def check_acked(self) -> None:
        """Every acknowledged create is in the tree of every member of the configuration
        that has applied its zxid (a txn resent after the heal may apply after the
        liveness probe, which ends the run)."""
        leader = self.leaders()[0].node
        assert leader is not None
        conf = leader.conf_state
        for nid in sorted(conf.voters | conf.learners):
            sn = self.nodes[nid]
            assert sn.replica is not None
            tree = sn.replica.tree
            for path, zxid in self.acked.items():
                if zxid <= sn.replica.last_index and tree.get(path) is None:
                    raise InvariantViolation(
                        f"durability: {path} was acknowledged at zxid {zxid} but node "
                        f"{sn.id} (applied {sn.replica.last_index}) does not have it")

    def _on_read(self, _: Any) -> None:
        if self.healed_at >= 0:
            return
        alive = self.alive()
        if alive:
            leaders = self.leaders()  # half the reads go to a (possibly stale) leader
            sn = self.rng.choice(leaders if leaders and self.rng.random() < 0.5 else alive)
            self._proposal_seq += 1
            self.linearizable_read(sn, f"r{self._proposal_seq}".encode(), lambda: None)
        self.schedule(self.rng.randint(self.timing.ms(10), self.timing.ms(80)), READ)

    def linearizable_read(self, sn: SimNode, ctx: bytes, then: Callable[[], None],
                          failed: Callable[[], None] = lambda: None) -> None:
        """A linearizable read at `sn` (a sync, then the read: the server's barrier);
        `then` reads the member's tree once the barrier passed (`failed`, if it fails:
        the server aborts the client's connection). Checked: the barrier's
        read index, and the tree `then` reads, hold every txn applied anywhere (so every
        acknowledged write) before the read began. `ctx` names it (unique)."""
        need = self.checker.max_applied
        sn.waiting_reads[ctx] = need

        def served(sn: SimNode = sn, need: int = need) -> None:
            # the read runs now, on this member's tree: it must hold every txn applied
            # anywhere before the read began
            assert sn.replica is not None
            if sn.replica.last_index < need:
                raise InvariantViolation(
                    f"linearizable read: node {sn.id} served a read at zxid "
                    f"{sn.replica.last_index}, but {need} was applied before it began")
            then()

        assert sn.core is not None
        sn.read_served[ctx] = served
        sn.read_failed[ctx] = failed
        sn.core.barrier(ctx, sn.now(self.now))
        self._perform(sn, sn.core)
        self.process(sn)
