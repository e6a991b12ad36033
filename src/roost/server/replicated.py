"""The ensemble's log: the asyncio host of one member's `ReplicaCore`.

Every member proposes its clients' txns through `propose`: the leader appends them to
its raft log in batches; a follower forwards them to the leader and keeps them until it
sees them applied, resending after a leader change. Each txn carries (origin, boot, seq)
and the state machine applies each triple once (`Dedupe`), so a resent txn never runs
twice. Committed entries are applied in log order on every member; the member that
proposed a txn runs its `done` callback, which answers the client.

That logic is `ReplicaCore` (roost.replica.core) and `ReplicaState`
(roost.replica.state), neither of which does I/O. This class is their host: the peer
transport, the raft tick and request timers, the disk (the write-ahead log and snapshots,
in a worker thread or a forked child), the wall clock and the random numbers. After each
input it gives the core it performs the core's effects (`_perform`, in the order the core
decided them: roost.replica.effects).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
from collections.abc import Callable

from roost.raft import NONE, Config, ConfState, RaftNode, Ready, Role
from roost.replica.core import CH_RAFT, CoreConfig, ReplicaCore
from roost.replica.effects import (
    DropPeers,
    Granted,
    Messages,
    ReadReady,
    ReadTimedOut,
    Reply,
    Reset,
    RoleChanged,
    Send,
)
from roost.replica.log import Applied, Done
from roost.replica.member import Member
from roost.replica.sessions import Sessions
from roost.replica.state import LOST, ReplicaState, encode_image, founders_of
from roost.server import clock
from roost.server.config import ServerConfig
from roost.server.handoff import DiskThread
from roost.server.peers import PeerTransport
from roost.server.peertls import peer_tls
from roost.server.raftstore import RaftStore, encode_snapshot_payload
from roost.server.snapfork import fork_writer
from roost.server.stats import Stats
from roost.storage import DataDir, StorageError
from roost.tree import DataTree, TreeConfig
from roost.tree.txn import Txn, apply_nothing

log = logging.getLogger("roost.raftlog")


def storage_failure(e: BaseException) -> bool:
    """`e` is the disk's failure (the member stays up, fenced), not a bug (it stops)."""
    return isinstance(e, OSError | StorageError)

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
        on_crash: Callable[[BaseException], None] = lambda e: None,
        on_role: Callable[[Role, int], None] = lambda role, leader: None,
        on_reset: Callable[[], None] = lambda: None,
        stats: Stats | None = None,
        sessions: Sessions | None = None,
        on_grant: Callable[[list[int]], None] = lambda sids: None,
        solo: bool = False,
    ) -> None:
        #: a group of one with no peers (a standalone server): no transport, no grants
        self.solo = solo
        self.stats = stats if stats is not None else Stats()
        self._snapshot_started = 0.0
        self.datadir = datadir
        self.config = config
        self.tree_config = tree_config
        self.on_applied = on_applied
        self.on_fatal = on_fatal
        self.on_crash = on_crash
        self.on_role = on_role
        self.on_reset = on_reset
        self.sessions = sessions
        self.on_grant = on_grant
        self.id = config.server_id
        #: the founding members (solo: this server alone, with no peer port)
        self.founding: tuple[Member, ...] = config.members
        if solo:
            self.id = self.id or 1  # raft's ids start at 1
            self.founding = (Member(self.id, config.listen_host, config.listen_port, 0),)
        self.store = RaftStore(datadir)
        self.boot = int.from_bytes(os.urandom(6), "big")
        #: the replicated state and our pending proposals (no I/O: this class is its host)
        self.state = ReplicaState(self.id, self.boot, tree_config, self._founders(), on_applied)
        self.state.on_members = self._members_changed
        self.snapshot_index = 0
        self.failed: BaseException | None = None
        self.fsync_count = 0
        self.batches = 0
        self.core: ReplicaCore | None = None
        #: the read barriers under way: ctx -> (then, on_timeout)
        self._reads: dict[bytes, tuple[Callable[[], None], Callable[[], None]]] = {}
        #: a Ready cycle is under way (taking Readies, or a persist in the worker thread)
        self._busy = False
        #: a Ready's persist is in the worker thread
        self._persisting = False
        #: set while no cycle is under way (close waits for it)
        self._idle = asyncio.Event()
        #: appends and fsyncs the Readies, one at a time
        self._disk = DiskThread("roost-raft-log")
        self._idle.set()
        self._kick_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        #: close() drained the cycle: nothing runs it any more
        self._stopped = False
        #: the transport's start, the raft tick, and the fence after a failure
        self._transport_task: asyncio.Task[None] | None = None
        self._ticker_task: asyncio.Task[None] | None = None
        self._fence_tasks: list[asyncio.Task[None]] = []
        self.node: RaftNode | None = None
        self.transport: PeerTransport | None = None
        #: the transport's peers, and raft's configuration when they were last set
        self._peers: dict[int, tuple[str, int]] = {}
        self._peer_conf: ConfState | None = None
        self._snapshot_task: asyncio.Task[None] | None = None
        self._rng = random.Random(self.boot ^ self.id)
        self._snapshot_gap = self._next_snapshot_gap()
        #: the host's event history, saved with each snapshot and handed back when one is
        #: loaded or installed (see ReplicaLog)
        self.history_image: Callable[[int], bytes] = lambda index: b""
        self.on_history: Callable[[bytes | None, int], None] = lambda image, index: None

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
    def on_replayed(self) -> Applied:
        """Called for each txn applied while replaying the log at start-up (set it before
        `recover`)."""
        return self.state.replayed

    @on_replayed.setter
    def on_replayed(self, sink: Applied) -> None:
        self.state.replayed = sink

    @property
    def role(self) -> Role:
        return self.core.role if self.core is not None else Role.FOLLOWER

    @property
    def leader(self) -> int:
        return self.core.leader if self.core is not None else NONE

    @property
    def removed(self) -> bool:
        """An applied membership change took this member out of the registry: it serves no
        client, and stops talking to the others once raft's configuration lost it too or no
        leader talks to it any more. Also when a member with a newer configuration refused
        its link (it was removed while it was down): it drops its peers at once."""
        return self.state.removed

    # --- start-up --------------------------------------------------------------------
    def recover(self) -> None:
        cfg = self.config
        voters = frozenset(m.id for m in self.founding if m.voter)
        learners = frozenset(m.id for m in self.founding if not m.voter)
        existed = self.store.load(ConfState(voters, learners), join=cfg.join)
        if cfg.join and not existed:
            founders: dict[int, Member] = {}  # not a member until our addition is applied
        else:
            founders = self._founders(self.store.snapshot_meta().conf)
        state = self.state
        state.load(self.store.state_image, founders)
        snap = self.store.snapshot()
        applied = snap.meta.index
        self._take_history(applied)
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
        self.core = ReplicaCore(
            state,
            self.node,
            CoreConfig(
                election_ticks=cfg.election_ticks,
                tick_s=cfg.raft_tick_ms / 1000.0,
                request_timeout_s=cfg.request_timeout_ms / 1000.0,
                max_waiting=cfg.max_waiting_requests,
                members=self.founding,
                skip_read_barrier=cfg.unsafe_skip_read_barrier,
                grants=not (cfg.unsafe_no_liveness_grants or self.solo),
            ),
            clock.monotonic(),
            sessions=self.sessions,
        )
        log.info(
            "member %d: %s data dir, applied 0x%x, %d nodes, term %d",
            self.id,
            "existing" if existed else "new",
            applied,
            self.tree.node_count(),
            self.node.term,
        )

    def _take_history(self, index: int) -> None:
        image, self.store.history_image = self.store.history_image, None
        self.on_history(image, index)

    def _installed(self) -> None:
        """A leader's snapshot replaced the state (before the entries after it apply): our
        peers follow its registry, its history replaces ours, then the server hears of the
        reset."""
        self._members_changed()
        self._take_history(self.snapshot_index)
        self.on_reset()

    def start(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        if self.solo:  # no peers: it leads at once and commits on its own fsync
            self._ticker_task = loop.create_task(self._ticker(), name="roost-raft-tick")
            if self._node.role != Role.LEADER:
                self._node.campaign()
            self._kick_soon()
            return
        me = self.config.member()
        configured = {m.id: (m.host, m.peer_port) for m in self.config.members if m.id != self.id}
        # a member links with its registry's members, which may differ from the configured
        # ones (members added or removed since); a joiner not yet added with the configured.
        # Where the file names a member, its address wins: a member reaches its peers by the
        # route its own file gives (another member's view, learnt from a snapshot, may be
        # that member's route, e.g. its own proxy)
        peers = configured
        if self.state.serving:
            peers = {sid: configured.get(sid, addr)
                     for sid, addr in self._member_peers(configured).items()}
        secret = (self.config.peer_secret or "").encode()
        tls_server, tls_client = peer_tls(self.config)
        self.transport = PeerTransport(
            self.id,
            (self.config.peer_bind_host or me.host, self.config.peer_listen_port or me.peer_port),
            peers,
            secret,
            self._on_message,
            self._on_peer_down,
            self._on_peer_up,
            on_batch=self._kick,
            ssl_server=tls_server,
            ssl_client=tls_client,
            refusal=self._refusal,
            on_refused=self._on_refused,
        )
        self._peers = dict(peers)
        self._peer_conf = self._node.conf_state
        self._transport_task = loop.create_task(self._start_transport())
        self._ticker_task = loop.create_task(self._ticker(), name="roost-raft-tick")
        if len([m for m in self.config.members if m.voter]) == 1 and self._node.role != Role.LEADER:
            self._node.campaign()
        self._kick_soon()

    async def _start_transport(self) -> None:
        assert self.transport is not None
        await self.transport.start()

    @property
    def _node(self) -> RaftNode:
        assert self.node is not None
        return self.node

    @property
    def _core(self) -> ReplicaCore:
        assert self.core is not None
        return self.core

    def _perform(self) -> None:
        """Carry out the core's effects of the inputs since the last call, in order (an
        effect that gives the core a new input performs that input's effects first)."""
        core = self.core
        if core is None or not core.effects:
            return
        for e in core.take_effects():  # (the frequent ones first)
            if isinstance(e, Messages):
                t = self.transport
                if t is not None:
                    send = t.send
                    for m in e.messages:
                        send(m.to, CH_RAFT, m.to_bytes())
            elif isinstance(e, Send):
                t = self.transport
                if t is None or not t.send(e.to, e.channel, e.payload):
                    core.unsent(e.to, e.channel, e.payload)
            elif isinstance(e, Reply):
                e.done(e.zxid, e.result)
            elif isinstance(e, ReadReady):
                read = self._reads.pop(e.ctx, None)
                if read is not None:
                    read[0]()
            elif isinstance(e, ReadTimedOut):
                read = self._reads.pop(e.ctx, None)
                if read is not None:
                    read[1]()
            elif isinstance(e, RoleChanged):
                self.on_role(e.role, e.leader)
            elif isinstance(e, Granted):
                self.on_grant(e.sids)
            elif isinstance(e, Reset):
                self._installed()
            elif isinstance(e, DropPeers):
                self._drop_peers()

    @property
    def ensemble(self) -> bool:
        return not self.solo

    @property
    def is_leader(self) -> bool:
        return self.role == Role.LEADER

    @property
    def serving(self) -> bool:
        """This member is in the ensemble's registry: it may serve clients. False for a
        removed member, for a joiner until its addition is applied, and once its storage
        failed."""
        return self.state.serving and self.failed is None

    # --- inputs (each one wakes the loop) --------------------------------------------
    def propose(
        self, txn: Txn, done: Done | None = None, abandoned: Callable[[], bool] | None = None
    ) -> None:
        if self._closing:
            raise RuntimeError("log is closed")
        if self.failed is not None:  # storage failed: nothing is acknowledged any more
            if done is not None:
                done(0, LOST)
            return
        self._core.propose(txn, done, abandoned, clock.monotonic())
        self._perform()
        self._kick_soon()

    def touch(self, session_id: int) -> None:
        """A client of this member was heard from (followers report it to the leader)."""
        if not self.solo:  # (a standalone server tracks its sessions itself)
            self._core.touch(session_id)

    def barrier(self, then: Callable[[], None], on_timeout: Callable[[], None]) -> None:
        """Run `then` once this member has applied everything committed before now
        (a ReadIndex round: the linearizable point for `sync` and linearizable reads).
        Re-asked after a leader change; `on_timeout` after the request timeout."""
        if self.failed is not None:
            on_timeout()
            return
        ctx = os.urandom(12)
        self._reads[ctx] = (then, on_timeout)
        self._core.barrier(ctx, clock.monotonic())
        self._perform()
        self._kick_soon()

    def _on_message(self, frm: int, channel: int, payload: bytes) -> None:
        # the transport calls _kick after the batch of messages of one read
        self._core.receive(frm, channel, payload, clock.monotonic())
        self._perform()

    def _on_peer_down(self, peer: int) -> None:
        if self.core is not None and self.core.peer_down(peer):
            delay = self._rng.uniform(0, 3 * self.config.raft_tick_ms / 1000.0)
            asyncio.get_running_loop().call_later(delay, self._campaign_if_leaderless)

    def _campaign_if_leaderless(self) -> None:
        if self.core is not None and not self._closing:
            self.core.campaign_if_leaderless()
            self._perform()
            self._kick()

    def _refusal(self, peer: int) -> int | None:
        if self.core is None or self.failed is not None or self._closing:
            return None
        return self.core.refusal(peer)

    def _on_refused(self, peer: int, version: int) -> None:
        if self.core is not None and not self._closing:
            self.core.refused(peer, version, clock.monotonic())
            self._perform()
            self._kick_soon()

    def _on_peer_up(self, peer: int) -> None:
        if self.core is not None:
            self.core.peer_up(peer)
            self._perform()
            self._kick_soon()

    # --- the Ready cycle --------------------------------------------------------------
    # Driven by callbacks, not a task: a batch of peer messages runs it at once (no loop
    # turn between a message and the work it causes); proposals, reads and ticks run it
    # at the next turn (a batch of client requests read together goes into one Ready).
    # A Ready that needs the disk goes to a worker thread, which hands it back with one
    # call_soon_threadsafe; meanwhile inputs go into raft and what needs no disk (the
    # leader's appends of new proposals, commit indexes) leaves at once (`core.early`).
    async def _ticker(self) -> None:
        period = self.config.raft_tick_ms / 1000.0
        core = self._core
        while True:
            await asyncio.sleep(period)
            try:
                core.tick(clock.monotonic())
                self._perform()
                self._kick()
            except Exception as e:  # a bug: a task that ended here would stop raft silently
                self._fail(e)
                return

    def _kick_soon(self) -> None:
        if not self._kick_scheduled and self._loop is not None:
            self._kick_scheduled = True
            self._loop.call_soon(self._kicked)

    def _kicked(self) -> None:
        self._kick_scheduled = False
        self._kick()

    def _kick(self) -> None:
        """Inputs arrived: run the Ready cycle now (or, with a persist in flight, send
        what needs no disk)."""
        if self.failed is not None or self.core is None or self._stopped:
            return
        if self._persisting:
            try:
                self.core.early()
                self._perform()
            except Exception:  # raft's own bug: never lose the host over it
                log.exception("member %d: sending early messages failed", self.id)
            self._flush()
        elif not self._busy:
            self._cycle()

    def _flush(self) -> None:
        if self.transport is not None:
            self.transport.flush()

    def _cycle(self) -> None:
        """Take Readies until there is none; one that needs the disk goes to the worker
        thread and the cycle goes on in `_persisted`."""
        core = self._core
        self._busy = True
        self._idle.clear()
        try:
            while (rd := core.ready(clock.monotonic())) is not None:
                self._perform()
                if rd.snapshot is not None or rd.entries or rd.must_sync:
                    self._persisting = True
                    self._flush()  # the appends go out before our own disk write
                    self._start_persist(rd)
                    return
                self._after_persist(rd)
            core.settle(clock.monotonic())
            self._perform()
        except Exception as e:
            self._fail(e)
            return
        self._busy = False
        self._idle.set()
        self._flush()

    def _start_persist(self, rd: Ready) -> None:
        assert self._loop is not None
        self._disk.run(self._loop, lambda: self._persist(rd), lambda exc: self._persisted(rd, exc))

    def _persisted(self, rd: Ready, exc: BaseException | None) -> None:
        self._persisting = False
        if self.failed is not None:  # fenced meanwhile: apply and answer nothing more
            return
        if exc is not None:
            self._fail(exc)
            return
        try:
            self._after_persist(rd)
        except Exception as e:
            self._fail(e)
            return
        self._busy = False
        if self._stopped:
            self._idle.set()
        else:
            self._cycle()

    def _after_persist(self, rd: Ready) -> None:
        """`rd` is durable (or needed no disk): advance it."""
        if rd.snapshot is None and not rd.entries and not rd.must_sync and (
            rd.hard_state is not None
        ):
            self.store.save_hard_state(rd.hard_state)  # only the commit index moved: no I/O
        if rd.snapshot is not None:  # before the install's Reset, which reads it
            self.snapshot_index = rd.snapshot.meta.index
        core = self._core
        core.persisted(rd, self.store.state_image)
        self._perform()  # (a snapshot's Reset before the entries after it apply)
        core.advance(rd)
        self._perform()
        if self._node.conf_state != self._peer_conf and not self._core.peers_dropped:
            self._members_changed()  # a member left raft's configuration: drop its link
        if rd.committed_entries:
            self.batches += 1
            self.store.trim_memory(self.last_index, MEMORY_LOG_ENTRIES)
            if self.last_index - self.snapshot_index >= self._snapshot_gap:
                self._background_snapshot()

    def _fail(self, e: BaseException) -> None:
        """The cycle failed: fence this member. A storage failure (an I/O error: disk full,
        failed fsync) leaves it running fenced (see `_fence`); anything else is a bug in this
        host or below it, logged with its traceback, and the member stops (`on_crash`)."""
        self._busy = self._persisting = False
        self._idle.set()
        if self.failed is None and self._loop is not None:
            self.failed = e
            if not storage_failure(e):
                log.critical(
                    "member %d: internal error in the raft cycle; stopping this member",
                    self.id,
                    exc_info=e,
                )
            self._fence_tasks.append(self._loop.create_task(self._fence(e)))

    def _persist(self, rd: Ready) -> None:
        store = self.store
        if rd.snapshot is not None:
            store.install_snapshot(rd.snapshot)
        store.append(rd.entries)
        if rd.must_sync and self.config.fsync:
            started = clock.monotonic()
            store.sync()
            self.stats.fsync_seconds.observe(clock.monotonic() - started)
            self.fsync_count += 1
        if rd.hard_state is not None:
            store.save_hard_state(rd.hard_state)

    async def _fence(self, e: BaseException) -> None:
        """Storage failed (what is on disk is unknown: a failed fsync is never retried) or
        a bug broke the cycle, so this member acknowledges, votes and answers nothing any
        more. Its peers see it go down; its pending requests end with ConnectionLoss. After
        a storage failure it stays up, fenced (`on_fatal`); after a bug the server stops
        (`on_crash`). A restart recovers it."""
        log.error("member %d: the raft cycle failed; serving nothing more: %r", self.id, e)
        self.failed = e
        self._disk.close()  # no more writes (one under way finishes, then `_persisted` drops it)
        try:
            self._core.fence()
            self._perform()  # pending requests end with ConnectionLoss
        except Exception:  # the host's own code may be what failed: fence all the same
            log.exception("member %d: ending the pending requests failed", self.id)
        if storage_failure(e):
            self.on_fatal(e)
        else:
            self.on_crash(e)
        if self._ticker_task is not None:
            self._ticker_task.cancel()
        transport, self.transport = self.transport, None
        if transport is not None:
            await transport.close()

    @property
    def may_expire(self) -> bool:
        return self.core is not None and self.core.may_expire

    def may_answer(self, session_id: int) -> bool:
        return self.granted_until(session_id) > clock.monotonic()

    def granted_until(self, session_id: int) -> float:
        core = self.core
        return -math.inf if core is None else core.granted_until(session_id)

    @property
    def partitioned(self) -> bool:
        """No leader for a while: this member may be cut off from the majority, so its
        local reads may be stale (see `ReplicaCore.partitioned`)."""
        return self.core is not None and self.core.partitioned(clock.monotonic())

    # --- membership ------------------------------------------------------------------
    def _founders(self, conf: ConfState | None = None) -> dict[int, Member]:
        return founders_of(self.founding, conf)

    def _members_changed(self) -> None:
        """Talk to the registry's members, and to those it dropped for as long as raft's
        configuration still has them: a member removed from the registry must still get
        the commit of its removal (else it never learns it and serves on, read-only)."""
        if self.transport is None:
            return
        self._peer_conf = self._node.conf_state
        self._peers = peers = self._member_peers(self._peers)
        self.transport.update_peers(peers)

    def _member_peers(self, known: dict[int, tuple[str, int]]) -> dict[int, tuple[str, int]]:
        """The registry's members, and those raft's configuration still has (at the
        addresses `known` for them)."""
        peers = {m.id: (m.host, m.peer_port) for m in self.members.values() if m.id != self.id}
        conf = self._node.conf_state
        for sid in conf.voters | conf.learners:
            if sid not in peers and sid != self.id and sid in known:
                peers[sid] = known[sid]
        return peers

    def _drop_peers(self) -> None:
        if self.transport is not None:
            self.transport.update_peers({})

    def config_text(self) -> bytes:
        return self.state.config_text()

    async def snapshot(self) -> None:
        index = self.last_index
        started = clock.monotonic()
        image = self.state.image()
        history = self.history_image(index)
        conf = self._node.conf_state
        loop = asyncio.get_running_loop()
        keep = self.config.snapshots_to_keep
        await loop.run_in_executor(
            None, self.store.create_snapshot, index, conf, image, history, keep
        )
        self.snapshot_index = index
        self.stats.snapshot_seconds.observe(clock.monotonic() - started)

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
        self._snapshot_started = clock.monotonic()
        st = self.state
        tree, dedupe, members = st.tree, st.dedupe, st.members
        snapshots, history = self.datadir.snapshots, self.history_image

        def write() -> None:
            image = encode_image(tree, dedupe, members)
            snapshots.save(index, term, encode_snapshot_payload(conf, image, history(index)))

        pid = fork_writer(write)
        self._snapshot_task = asyncio.get_running_loop().create_task(
            self._reap_snapshot_child(pid, index, term, conf)
        )

    async def _reap_snapshot_child(self, pid: int, index: int, term: int, conf: ConfState) -> None:
        loop = asyncio.get_running_loop()
        _, status = await loop.run_in_executor(None, os.waitpid, pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            self.stats.snapshot_failures += 1
            log.error(
                "member %d: snapshot at 0x%x failed (child status %d); the log is kept",
                self.id,
                index,
                status,
            )
            return
        keep = self.config.snapshots_to_keep
        await loop.run_in_executor(None, self.store.snapshot_written, index, term, conf, keep)
        self.stats.snapshot_seconds.observe(clock.monotonic() - self._snapshot_started)
        log.info("member %d: snapshot at 0x%x written in the background", self.id, index)

    async def close(self, snapshot: bool = True) -> None:
        self._closing = True
        if self._ticker_task is not None:
            self._ticker_task.cancel()
        self._kick()  # what is left to do (a persist in flight finishes first)
        try:
            await asyncio.wait_for(self._idle.wait(), 5)
        except TimeoutError:
            log.warning("member %d: a disk write did not finish in 5 s at close", self.id)
        self._stopped = True
        self._disk.close()  # (a write still under way finishes first)
        fence = self._fence_tasks
        if fence:
            await asyncio.gather(*fence, return_exceptions=True)
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
