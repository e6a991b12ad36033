"""The simulated host of each member (`SimHost`, a part of `SimCluster`): it starts a
member's process from what its disk kept, drives its replica core as the server drives
it (ready, persist, fsync, persisted, advance, settle: `process`), performs the core's
effects after each input (`perform`), compacts its log and crashes it. Disk writes
complete at a DISK event a drawn delay later (the fsync thread's hand-off)."""

from __future__ import annotations

import hashlib
import heapq
import random
from collections.abc import Callable
from typing import Any

import msgpack

from roost.raft import (
    ConfChange,
    ConfChangeType,
    Config,
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
from roost.replica.state import KNOWN_BUGS as REPLICA_BUGS
from roost.replica.state import ReplicaState, founders_of
from roost.tree import TreeConfig
from roost.tree.context import KNOWN_BUGS as TREE_BUGS
from roost.tree.txn import Kind, Txn

from .checker import InvariantViolation
from .checks import SimChecks
from .clients import CLIENT_BUGS, WATCH_BUGS
from .clocks import MAX_OFFSET_MS, SimClock
from .events import CAMPAIGN, DELIVER, DISK, RESTART, TICK
from .members import SIM_MEMBERS
from .node import SimNode
from .recipes import RECIPE_BUGS
from .requests import REQUEST_BUGS

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
#: (enum members read per event, as globals: an enum class's attribute costs several times
#: as much to read)
_LEADER, _CONF_CHANGE = Role.LEADER, EntryKind.CONF_CHANGE
_REQUEST = Kind.REQUEST


def _digest(prev: bytes, e: Entry) -> bytes:
    h = hashlib.blake2b(prev, digest_size=8)
    h.update(e.index.to_bytes(8, "big") + e.term.to_bytes(8, "big") + e.data)
    return h.digest()


class SimHost(SimChecks):
    #: the pending events: (time, sequence, kind, argument), a heap
    _events: list[tuple[int, int, int, Any]]
    _seq: int
    #: a disk write's delay bound (ms), its stalls' bound, and their own randomness
    disk_delay: int
    disk_stall_ms: int
    disk_time_rng: random.Random

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
        if self.net.streams:  # it dials every started member, and they dial it
            self.net.started(sn.id, [o.id for o in self.nodes.values()
                                     if o is not sn and self.link_started(o.id)])

    def _restore_sm(self, snap: Snapshot) -> tuple[int, bytes, bytes]:
        """(applied index, digest chain, replica image) of a snapshot."""
        if not snap.data:
            return snap.meta.index, b"", b""  # empty (the bootstrap snapshot)
        index, digest, image = msgpack.unpackb(snap.data)
        return int(index), bytes(digest), bytes(image)

    def _on_reset(self, sn: SimNode) -> None:
        """The member installed a snapshot (the server aborts its connections)."""
        assert sn.replica is not None
        sn.stamp = sn.replica.tree.last_time_ms
        self.clients.on_reset(sn)

    def propose(self, sn: SimNode, txn: Txn, done: Done | None,
                abandoned: Callable[[], bool] | None = None) -> None:
        """A client's (or the chaos') txn through member `sn`, as `RaftLog.propose` does:
        the core takes it, then its effects are performed (a forward to the leader, a
        reply if it failed at once)."""
        core = sn.core
        assert core is not None
        core.propose(txn, done, abandoned, sn.now(self.now))
        if txn.session_id and txn.seq and txn.kind is _REQUEST:
            self.sent_in_order(txn)
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
                if not sn.dropped:
                    self._send_all(sn, e.messages)
            elif isinstance(e, Send):
                if sn.dropped:
                    continue  # (the core sends nothing once it dropped its peers)
                self.stats.messages += 1
                net = self.net
                if net.streams:
                    if not net.post(sn.id, e.to, (sn.id, e.to, e.channel, e.payload)) \
                            and sn.core is not None:
                        sn.core.unsent(e.to, e.channel, e.payload)  # (the link is down)
                    continue
                for d in net.delays(sn.id, e.to):
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
                if self.net.streams:
                    self.net.stopped(sn.id)

    def process(self, sn: SimNode) -> None:
        """Drive one node's core the way the server's host does (`RaftLog._kick`/`_cycle`):
        with a disk write in flight, send what needs no disk (`core.early`); else take
        Readies: one that needs the disk is written now and completes at a DISK event later
        (`_persisted`); the others are advanced at once; then settle. (`_perform` is
        inline: the host asks after every input, and most inputs leave no Ready.)"""
        node, core = sn.node, sn.core
        if node is None or core is None:
            return
        if sn.persisting is not None:
            core.early()
            if core.effects:
                self.perform(sn, core.take_effects())
            return
        c = sn.clock
        now = (c.offset_ms + c.rate * self.now) / 1000  # sn.now(self.now), inline
        while (rd := core.ready(now)) is not None:
            if core.effects:
                self.perform(sn, core.take_effects())
            if rd.entries:
                self.checker.on_entries(sn.id, node.raft, rd.entries)  # (early messages out)
                writes = True
            else:
                writes = rd.hard_state is not None or rd.snapshot is not None
            if writes:
                if sn.crash_armed:
                    # written, not synced: the disk keeps a prefix of it, the last write torn
                    if self._persist(sn, rd):
                        self.crash(sn, "mid-ready")
                    return
                if not self._persist(sn, rd):
                    return
                if (rd.snapshot is not None or rd.entries or rd.must_sync) and (
                        "ack_before_fsync" not in self.bugs):
                    self._start_sync(sn, rd)
                    return
            # (no fsync needed: a commit index, or nothing written; or the planted
            # ack_before_fsync, whose writes are synced at the next tick)
            if not self._advance(sn, node, core, rd):
                return
        if sn.node is not None:
            core.settle(now)
            if core.effects:
                self.perform(sn, core.take_effects())

    def _start_sync(self, sn: SimNode, rd: Ready) -> None:
        """The fsync of `rd`'s writes starts: it completes at a DISK event, a drawn delay
        later, while inputs go on (`core.early`)."""
        sn.persisting = rd
        delay = self.disk_delay
        if self.disk_time_rng.random() < DISK_STALL_RATE:
            delay += self.disk_time_rng.randint(1, self.disk_stall_ms)
        else:
            delay = self.disk_time_rng.randint(1, delay)
        self.schedule(delay, DISK, (sn.id, sn.incarnation))

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
        if rd.snapshot is None and not rd.committed_entries:
            # (most Readies: messages, a hard state; nothing applies)
            image = self._check_apply(sn, rd) if rd.read_states else b""
            core.persisted(rd, image)
            if core.effects:
                self.perform(sn, core.take_effects())
            core.advance(rd)
            if core.effects:
                self.perform(sn, core.take_effects())
            self._after_ready(sn, node)
            return sn.node is node
        image = self._check_apply(sn, rd)
        core.persisted(rd, image)
        self._perform(sn, core)  # (a snapshot's Reset before the entries after it apply)
        core.advance(rd)
        self._perform(sn, core)
        # (a full tree digest: only after a batch that applied, not at every Ready
        # while the applied index stays at a multiple)
        if sn.replica is not None and sn.replica.last_index % TREE_CHECK_EVERY == 0:
            self._check_tree(sn)
        self._after_ready(sn, node)
        self._maybe_compact(sn, node)  # (compaction waits for applied entries)
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
        if not sn.dropped:
            self._send_all(sn, (m,))

    def _send_all(self, sn: SimNode, msgs: tuple[Message, ...]) -> None:
        """Raft's messages from `sn` (which has not dropped its peers) into the network,
        in order (the checks and the network's draws per message, as `send`)."""
        on_send, net, events, now = self.checker.on_send, self.net, self._events, self.now
        durable, nid = sn.storage.durable, sn.id
        self.stats.messages += len(msgs)
        if net.streams:
            for m in msgs:
                on_send(nid, m, durable)
                net.post(m.frm, m.to, m)
            return
        delays = net.delays
        for m in msgs:
            on_send(nid, m, durable)
            for d in delays(m.frm, m.to):
                self._seq += 1
                heapq.heappush(events, (now + d, self._seq, DELIVER, m))

    def link_started(self, nid: int) -> bool:
        """Member `nid`'s process runs and talks to its peers (the stream network's)."""
        sn = self.nodes.get(nid)
        return sn is not None and sn.node is not None and not sn.dropped

    def link_changed(self, viewer: int, peer: int, up: bool) -> None:
        """The stream network tells member `viewer` that its link with `peer` came up or
        broke, as the server's transport does (`_on_peer_up` / `_on_peer_down`): a broken
        link to the leader makes it campaign a random moment within three ticks later
        unless a leader was heard of meanwhile."""
        sn = self.nodes[viewer]
        core = sn.core
        if core is None or sn.dropped:
            return
        self.log(f"node {viewer}: link with {peer} {'up' if up else 'down'}")
        if up:
            core.peer_up(peer)
        elif core.peer_down(peer):
            self.schedule(self.rng.randint(0, 3 * sn.tick_period), CAMPAIGN,
                          (viewer, sn.incarnation))
        self._perform(sn, core)
        self.process(sn)

    def _on_campaign(self, arg: tuple[int, int]) -> None:
        sn = self.nodes[arg[0]]
        core = sn.core
        if core is None or sn.incarnation != arg[1] or sn.dropped:
            return
        core.campaign_if_leaderless()
        self._perform(sn, core)
        self.process(sn)

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
        if self.net.streams:
            self.net.stopped(sn.id)
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
                if self.net.streams:
                    self.net.stopped(gone.id)
