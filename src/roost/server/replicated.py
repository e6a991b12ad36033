"""The ensemble's log: drives the Raft core, forwards proposals, applies committed txns.

Every member proposes its clients' txns through `propose`: the leader appends them to
its raft log in batches; a follower forwards them to the leader and keeps them until it
sees them applied, resending after a leader change. Each txn carries (origin, boot, seq)
and the state machine applies each triple once (`Dedupe`), so a resent txn never runs
twice. Committed entries are applied in log order on every member; the member that
proposed a txn runs its `done` callback, which answers the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections.abc import Callable

import msgpack

from roost.raft import (
    NONE,
    Config,
    ConfState,
    Message,
    NotLeaderError,
    ProposalDroppedError,
    RaftNode,
    Ready,
    Role,
)
from roost.server.config import Member, ServerConfig
from roost.server.membership import plan
from roost.server.peers import PeerTransport
from roost.server.peertls import peer_tls
from roost.server.raftstore import RaftStore, encode_snapshot_payload
from roost.server.replica import LOST, Pending, ReplicaState, encode_image, founders_of
from roost.server.replicalog import Applied, Done
from roost.server.snapfork import fork_writer
from roost.storage import DataDir
from roost.tree import DataTree, TreeConfig
from roost.tree.txn import Txn, apply_nothing

log = logging.getLogger("roost.raftlog")

CH_RAFT = 0
CH_FORWARD = 1
CH_TOUCH = 2

#: applied raft entries kept in memory for followers that lag a little (older ones are read
#: back from the write-ahead log)
MEMORY_LOG_ENTRIES = 10_000


class RaftLog:
    """The `ReplicaLog` of an ensemble member."""

    def __init__(
        self,
        datadir: DataDir,
        config: ServerConfig,
        tree_config: TreeConfig,
        on_applied: Applied,
        on_fatal: Callable[[BaseException], None] = lambda e: None,
        on_role: Callable[[Role, int], None] = lambda role, leader: None,
        on_touch: Callable[[list[int]], None] = lambda sids: None,
        on_reset: Callable[[], None] = lambda: None,
    ) -> None:
        self.datadir = datadir
        self.config = config
        self.tree_config = tree_config
        self.on_applied = on_applied
        self.on_fatal = on_fatal
        self.on_role = on_role
        self.on_touch = on_touch
        self.on_reset = on_reset
        self.id = config.server_id
        self.store = RaftStore(datadir)
        self.boot = int.from_bytes(os.urandom(6), "big")
        #: the replicated state and our pending proposals (no I/O: this class is its host)
        self.state = ReplicaState(self.id, self.boot, tree_config, self._founders(), on_applied)
        self.state.on_members = self._members_changed
        self.snapshot_index = 0
        self.failed: BaseException | None = None
        self.fsync_count = 0
        self.batches = 0
        self._to_propose: list[bytes] = []
        self._touched: set[int] = set()
        self._reads: dict[bytes, tuple[Callable[[], None], Callable[[], None], float]] = {}
        self._read_waits: list[tuple[int, Callable[[], None]]] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._tasks: list[asyncio.Task[None]] = []
        self.node: RaftNode | None = None
        self.transport: PeerTransport | None = None
        self.role = Role.FOLLOWER
        self.leader = NONE
        self._peers_dropped = False
        self._snapshot_task: asyncio.Task[None] | None = None
        self._rng = random.Random(self.boot ^ self.id)
        self._snapshot_gap = self._next_snapshot_gap()
        self._leaderless_since: float | None = time.monotonic()

    # --- the replicated state (see ReplicaState) ------------------------------------------
    @property
    def tree(self) -> DataTree:
        return self.state.tree

    @property
    def members(self) -> dict[int, Member]:
        return self.state.members

    @property
    def last_index(self) -> int:
        return self.state.last_index

    @property
    def removed(self) -> bool:
        """An applied membership change took this member out of the registry: it serves no
        client, and stops talking to the others once raft's configuration lost it too or no
        leader talks to it any more."""
        return self.state.removed

    # --- start-up --------------------------------------------------------------------
    def recover(self) -> None:
        cfg = self.config
        voters = frozenset(m.id for m in cfg.members if m.voter)
        learners = frozenset(m.id for m in cfg.members if not m.voter)
        existed = self.store.load(ConfState(voters, learners), join=cfg.join)
        if cfg.join and not existed:
            founders: dict[int, Member] = {}  # not a member until our addition is applied
        else:
            founders = self._founders(self.store.snapshot_meta().conf)
        state = self.state
        state.load(self.store.state_image, founders)
        snap = self.store.snapshot()
        applied = snap.meta.index
        commit = self.store.mem.hard_state.commit
        if commit > applied:
            for e in self.store.entries(applied + 1, commit + 1, 1 << 62):
                state.apply(e, replay=True)
            applied = commit
        self.snapshot_index = snap.meta.index
        state.last_index = applied
        apply_nothing(state.tree, applied)
        if existed and not cfg.join and self.id not in state.members:
            state.removed = True  # our own state says we are not a member any more
            log.warning("member %d: not a member of the ensemble; serving no client", self.id)
        rc = Config(
            id=self.id,
            election_tick=cfg.election_ticks,
            heartbeat_tick=cfg.heartbeat_ticks,
            applied=applied,
        )
        self.node = RaftNode(rc, self.store, random.Random(self.boot))
        log.info(
            "member %d: %s data dir, applied 0x%x, %d nodes, term %d",
            self.id,
            "existing" if existed else "new",
            applied,
            self.tree.node_count(),
            self.node.term,
        )

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        me = self.config.member()
        peers = {m.id: (m.host, m.peer_port) for m in self.config.members if m.id != self.id}
        secret = (self.config.peer_secret or "").encode()
        tls_server, tls_client = peer_tls(self.config)
        self.transport = PeerTransport(
            self.id,
            (me.host, self.config.peer_listen_port or me.peer_port),
            peers,
            secret,
            self._on_message,
            self._on_peer_down,
            self._on_peer_up,
            ssl_server=tls_server,
            ssl_client=tls_client,
        )
        self._tasks.append(loop.create_task(self._start_transport()))
        self._tasks.append(loop.create_task(self._run(), name="roost-raft"))
        self._tasks.append(loop.create_task(self._ticker(), name="roost-raft-tick"))
        if len([m for m in self.config.members if m.voter]) == 1 and self._node.role != Role.LEADER:
            self._node.campaign()
            self._wake.set()

    async def _start_transport(self) -> None:
        assert self.transport is not None
        await self.transport.start()

    @property
    def _node(self) -> RaftNode:
        assert self.node is not None
        return self.node

    @property
    def ensemble(self) -> bool:
        return True

    @property
    def is_leader(self) -> bool:
        return self.role == Role.LEADER

    @property
    def serving(self) -> bool:
        """This member is in the ensemble's registry: it may serve clients. False for a
        removed member, and for a joiner until its addition is applied."""
        return self.state.serving

    # --- inputs ----------------------------------------------------------------------
    def propose(
        self, txn: Txn, done: Done | None = None, abandoned: Callable[[], bool] | None = None
    ) -> None:
        if self._closing:
            raise RuntimeError("log is closed")
        if len(self.state.pending) >= self.config.max_waiting_requests and self.leader == NONE:
            if done is not None:  # no leader and the waiting room is full: fail fast
                done(0, LOST)
            return
        self._send_pending(self.state.stamp(txn, done, abandoned, time.monotonic()))
        self._wake.set()

    def _resend_all(self) -> None:
        """Send every pending txn again (after a leader change or a broken link); the
        state machine applies each at most once. Abandoned ones are dropped instead: an
        old leader's unacknowledged writes must not come back once their client was told
        the outcome is unknown."""
        for p in self.state.to_resend():
            p.sent_term = -1
            self._send_pending(p)

    def _send_pending(self, p: Pending) -> None:
        term = self._node.term
        if self.leader == self.id and self.role == Role.LEADER:
            self._to_propose.append(p.txn)
            p.sent_term = term
        elif (
            self.leader != NONE
            and self.transport is not None
            and self.transport.send(self.leader, CH_FORWARD, p.txn)
        ):
            p.sent_term = term

    def touch(self, session_id: int) -> None:
        """A client of this member was heard from (followers report it to the leader)."""
        if not self.is_leader:
            self._touched.add(session_id)

    def barrier(self, then: Callable[[], None], on_timeout: Callable[[], None]) -> None:
        """Run `then` once this member has applied everything committed before now
        (a ReadIndex round: the linearizable point for `sync` and linearizable reads).
        Re-asked after a leader change; `on_timeout` after the request timeout."""
        if self.config.unsafe_skip_read_barrier:
            then()  # the deliberate bug of the fault harness's self-test
            return
        ctx = os.urandom(12)
        self._reads[ctx] = (then, on_timeout, time.monotonic())
        self._node.read_index(ctx)
        self._wake.set()

    def _on_message(self, frm: int, channel: int, payload: bytes) -> None:
        try:
            if channel == CH_RAFT:
                self._node.step(Message.from_bytes(payload))
            elif channel == CH_FORWARD:
                if self.is_leader:
                    self._to_propose.append(payload)
            elif channel == CH_TOUCH:
                self.on_touch(list(msgpack.unpackb(payload)))
        except Exception as e:  # a peer's bad message must not stop this member
            log.warning("dropping bad message from member %d on channel %d: %s", frm, channel, e)
            return
        self._wake.set()

    def _on_peer_down(self, peer: int) -> None:
        if peer == self.leader and self.node is not None:
            log.info("member %d: lost the link to leader %d", self.id, peer)
            self.node.forget_leader()
            # campaign soon, at a random moment so that the followers don't split the vote;
            # pre-vote keeps this safe when only our link broke and the leader is alive
            delay = self._rng.uniform(0, 3 * self.config.raft_tick_ms / 1000.0)
            asyncio.get_running_loop().call_later(delay, self._campaign_if_leaderless)

    def _campaign_if_leaderless(self) -> None:
        if self.node is not None and self.node.leader == NONE and not self._closing:
            self.node.campaign()
            self._wake.set()

    def _on_peer_up(self, peer: int) -> None:
        if peer == self.leader:  # anything queued on the broken link may be gone: resend
            self._resend_all()

    # --- the loop ---------------------------------------------------------------------
    async def _ticker(self) -> None:
        period = self.config.raft_tick_ms / 1000.0
        timeout = self.config.request_timeout_ms / 1000.0
        while True:
            await asyncio.sleep(period)
            self._node.tick()
            if self.is_leader:
                self._reconcile()
            if self._touched and self.leader not in (NONE, self.id) and self.transport:
                # keep the batch if the link to the leader is down: a lost batch of pings
                # could let the leader expire live sessions
                payload = msgpack.packb(sorted(self._touched))
                if self.transport.send(self.leader, CH_TOUCH, payload):
                    self._touched.clear()
            now = time.monotonic()
            for ctx, (_then, on_timeout, since) in list(self._reads.items()):
                if now - since > timeout:
                    del self._reads[ctx]
                    on_timeout()
            for p in self.state.expire(now, timeout):
                if p.done is not None:  # outcome unknown: the client sees ConnectionLoss
                    p.done(0, LOST)
            self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        node = self._node
        while not self._closing or node.has_ready():
            await self._wake.wait()
            self._wake.clear()
            if self._to_propose and node.role == Role.LEADER:
                batch, self._to_propose = self._to_propose, []
                with contextlib.suppress(NotLeaderError, ProposalDroppedError):
                    node.propose_batch(batch)  # if dropped, the origins resend to the next leader
            while node.has_ready():
                rd = node.ready()
                try:
                    await self._handle(loop, rd)
                except Exception as e:
                    log.critical("member %d: storage failed, stopping: %s", self.id, e)
                    self.failed = e
                    self.on_fatal(e)
                    return
                node.advance()
            self._serve_reads()
            if self.removed:
                self._check_removed()

    async def _handle(self, loop: asyncio.AbstractEventLoop, rd: Ready) -> None:
        if rd.soft_state is not None:
            self._role_change(rd.soft_state.role, rd.soft_state.leader)
        self._send(rd.messages)
        if rd.snapshot is not None or rd.entries or rd.must_sync:
            await loop.run_in_executor(None, self._persist, rd)
        elif rd.hard_state is not None:
            self.store.save_hard_state(rd.hard_state)  # only the commit index moved: no I/O
        self._send(rd.messages_after_persist)
        if rd.snapshot is not None:
            self._install(rd.snapshot.data, rd.snapshot.meta.index, rd.snapshot.meta.conf)
        apply = self.state.apply
        for e in rd.committed_entries:
            apply(e)
        for rs in rd.read_states:
            asked = self._reads.pop(rs.context, None)
            if asked is not None:
                self._read_waits.append((rs.index, asked[0]))
        if rd.committed_entries:
            self.batches += 1
            self.store.trim_memory(self.last_index, MEMORY_LOG_ENTRIES)
            if self.last_index - self.snapshot_index >= self._snapshot_gap:
                self._background_snapshot()

    def _persist(self, rd: Ready) -> None:
        store = self.store
        if rd.snapshot is not None:
            store.install_snapshot(rd.snapshot)
        store.append(rd.entries)
        if rd.must_sync and self.config.fsync:
            store.sync()
            self.fsync_count += 1
        if rd.hard_state is not None:
            store.save_hard_state(rd.hard_state)

    def _send(self, msgs: tuple[Message, ...]) -> None:
        t = self.transport
        if t is None:
            return
        for m in msgs:
            t.send(m.to, CH_RAFT, m.to_bytes())

    @property
    def partitioned(self) -> bool:
        """No leader for longer than an election timeout: this member may be cut off from
        the majority, so its local reads may be stale."""
        since = self._leaderless_since
        if since is None:
            return False
        # two election timeouts: one for the old leader's lease to lapse, one for a
        # possibly split vote to resolve
        timeout = 2 * self.config.election_ticks * self.config.raft_tick_ms / 1000.0
        return time.monotonic() - since > timeout

    def _role_change(self, role: Role, leader: int) -> None:
        old_leader = self.leader
        self.role, self.leader = role, leader
        if leader == NONE:
            if self._leaderless_since is None:
                self._leaderless_since = time.monotonic()
        else:
            self._leaderless_since = None
        log.info(
            "member %d: %s, leader %d, term %d", self.id, role.name.lower(), leader, self._node.term
        )
        if leader != old_leader and leader != NONE:
            self._resend_all()  # to the new leader; dedupe keeps each txn once
            for ctx in self._reads:  # a read index asked of the old leader may be lost
                self._node.read_index(ctx)
        self.on_role(role, leader)

    def _serve_reads(self) -> None:
        if not self._read_waits:
            return
        ready = [t for i, t in self._read_waits if i <= self.last_index]
        self._read_waits = [(i, t) for i, t in self._read_waits if i > self.last_index]
        for then in ready:
            then()

    # --- membership ------------------------------------------------------------------
    def _founders(self, conf: ConfState | None = None) -> dict[int, Member]:
        return founders_of(self.config.members, conf)

    def _members_changed(self) -> None:
        if self.transport is None:
            return
        self.transport.update_peers(
            {m.id: (m.host, m.peer_port) for m in self.members.values() if m.id != self.id}
        )

    def _check_removed(self) -> None:
        """A removed member stops talking to the others once raft's configuration no longer
        has it, or (not leading) once no leader has talked to it for a while: raft's removal
        of a member may commit without that member ever learning it (a removed leader hands
        leadership over first, and the new leader stops replicating to it)."""
        if self._peers_dropped or self.transport is None:
            return
        conf = self._node.conf_state
        in_conf = self.id in conf.voters or self.id in conf.learners
        if in_conf and (self.is_leader or not self.partitioned):
            return
        self._peers_dropped = True
        log.warning("member %d: no longer in the ensemble: dropping its peers", self.id)
        self.transport.update_peers({})

    def config_text(self) -> bytes:
        return self.state.config_text()

    def _reconcile(self) -> None:
        """On the leader: move raft's membership one step towards the registry."""
        node = self._node
        raft = node.raft
        if raft.pending_conf_index > node.applied:
            return
        last = raft.log.last_index()
        caught_up = {i for i, p in raft.prs.items() if last - p.match <= 100}
        step = plan(self.members, node.conf_state, self.id, caught_up)
        if step is None:
            return
        try:
            if isinstance(step, int):
                log.info("member %d: handing leadership to %d before leaving", self.id, step)
                node.transfer_leadership(step)
            else:
                log.info("member %d: proposing %s %d", self.id, step.type.name, step.node_id)
                node.propose_conf_change(step)
        except (NotLeaderError, ProposalDroppedError) as e:
            log.info("member %d: membership step postponed: %s", self.id, e)
        self._wake.set()

    def _install(self, data: bytes, index: int, conf: ConfState) -> None:
        """A snapshot from the leader replaced our state. A joiner may get one taken before
        its own addition: that is not a removal (`removed` only changes when an applied
        change takes this member out)."""
        self.state.install(self.store.state_image, index, self._founders(conf))
        self._members_changed()
        self.snapshot_index = index
        log.info("member %d: installed snapshot at 0x%x", self.id, index)
        self.on_reset()

    async def snapshot(self) -> None:
        index = self.last_index
        image = self.state.image()
        conf = self._node.conf_state
        loop = asyncio.get_running_loop()
        keep = self.config.snapshots_to_keep
        await loop.run_in_executor(None, self.store.create_snapshot, index, conf, image, keep)
        self.snapshot_index = index

    def _next_snapshot_gap(self) -> int:
        """Txns until the next snapshot: between half and all of `snapshot_every`, drawn
        again after each one. Members that all snapshot at the same index would all fork and
        serialize at once (ZooKeeper randomizes snapCount the same way)."""
        every = self.config.snapshot_every
        return every - self._rng.randrange(every // 2 + 1)

    def _background_snapshot(self) -> None:
        """Snapshot without stopping: a forked child serializes its copy-on-write image of
        the state and writes the file; this process goes on at once."""
        if self._snapshot_task is not None and not self._snapshot_task.done():
            return
        index = self.last_index
        term = self.store.term(index)
        conf = self._node.conf_state
        self.snapshot_index = index  # no new attempt before another gap of txns
        self._snapshot_gap = self._next_snapshot_gap()
        st = self.state
        tree, dedupe, members = st.tree, st.dedupe, st.members
        snapshots = self.datadir.snapshots

        def write() -> None:
            image = encode_image(tree, dedupe, members)
            snapshots.save(index, term, encode_snapshot_payload(conf, image))

        pid = fork_writer(write)
        self._snapshot_task = asyncio.get_running_loop().create_task(
            self._reap_snapshot_child(pid, index, term, conf)
        )

    async def _reap_snapshot_child(self, pid: int, index: int, term: int, conf: ConfState) -> None:
        loop = asyncio.get_running_loop()
        _, status = await loop.run_in_executor(None, os.waitpid, pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            log.error(
                "member %d: snapshot at 0x%x failed (child status %d); the log is kept",
                self.id,
                index,
                status,
            )
            return
        keep = self.config.snapshots_to_keep
        await loop.run_in_executor(None, self.store.snapshot_written, index, term, conf, keep)
        log.info("member %d: snapshot at 0x%x written in the background", self.id, index)

    async def close(self, snapshot: bool = True) -> None:
        self._closing = True
        self._wake.set()
        for t in self._tasks[2:]:
            t.cancel()
        run = self._tasks[1] if len(self._tasks) > 1 else None
        if run is not None:
            try:
                await asyncio.wait_for(run, 5)
            except (TimeoutError, asyncio.CancelledError):
                run.cancel()
        if self.transport is not None:
            await self.transport.close()
        if self._snapshot_task is not None:
            await self._snapshot_task
        if self.failed is None:
            try:
                if snapshot and self.last_index > self.snapshot_index:
                    await self.snapshot()
                self.store.flush_commit(self.last_index)
            except Exception as e:  # disk full, I/O error, data dir gone: the log has it all
                log.error(
                    "member %d: final snapshot at 0x%x failed: %s; stopping without it (the "
                    "write-ahead log keeps every acknowledged write)",
                    self.id,
                    self.last_index,
                    e,
                )
