"""The server: listener, lifecycle, connections, the apply hook, housekeeping.

A connection's protocol is `roost.wire.session` (hosted by `roost.server.connection`); the
handshake is `roost.server.handshake`, requests `roost.server.requests`, auth
`roost.server.auth`, the four-letter words `roost.server.admin`."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from typing import Protocol

from roost.raft import Role
from roost.replica.log import ReplicaLog
from roost.replica.sessions import Sessions, lease_bound
from roost.replica.state import LOST
from roost.server import admin, clock, requests
from roost.server.clienttls import ClientTls, client_tls
from roost.server.clock import now_ms
from roost.server.config import ServerConfig
from roost.server.connection import Connection
from roost.server.handshake import new_password
from roost.server.history import Limits
from roost.server.replicated import RaftLog
from roost.server.requests import CONFIG_NODE, LINEARIZABLE_READS, WRITES
from roost.server.standalone import StandaloneLog
from roost.server.stats import Stats
from roost.server.streams import StreamHub
from roost.server.watches import WatchManager
from roost.storage import DataDir
from roost.tree import DataTree, TreeConfig
from roost.tree.txn import Kind, Txn, TxnResult
from roost.wire.errors import Err
from roost.wire.records import Id, Record
from roost.wire.session import Event, Request

__all__ = ["CONFIG_NODE", "LINEARIZABLE_READS", "WRITES", "Addon", "Server", "now_ms"]

log = logging.getLogger("roost.server")


class ServerCrashed(Exception):
    """The server stopped after an internal error (a bug; the cause is `__cause__`, and its
    traceback was logged when it happened)."""

#: how often the TLS files' modification times are checked
TLS_CHECK_S = 2.0
#: (a module global: reading an enum member off its class costs ~0.13 us per write)
_REQUEST = Kind.REQUEST


class Addon(Protocol):
    """A front end started after the server and stopped before it (the HTTP API, the
    metrics port): see roost.node, which wires them in."""

    def start(self) -> Awaitable[None]: ...

    def stop(self) -> Awaitable[None]: ...


class Server:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config.validate()
        self.tree_config = TreeConfig(
            super_digest=config.super_digest,
            ttl_enabled=config.ttl_enabled,
            max_data_bytes=config.max_frame_bytes,
        )
        self.watches = WatchManager()
        # a stream's replay is written at once: it must fit under a connection's output cap
        history_bytes = min(config.history_max_bytes, config.outgoing_hard_limit)
        self.streams = StreamHub(
            Limits(config.history_max_events, history_bytes, config.history_max_age_ms)
        )
        #: session liveness (roost.replica.sessions; this host feeds it the monotonic clock)
        self.sessions = Sessions(config.server_id, now_ms())
        #: session -> output (replies, events) or a reattach held until a leader confirms
        #: the session alive:
        #: (connection, give up at, answer)
        self.held: dict[int, list[tuple[Connection, float, Callable[[], None]]]] = {}
        #: counts role changes: a session expiry is decided in one leadership (see
        #: _expire_sessions)
        self.role_changes = 0
        self.connections: set[Connection] = set()
        self.by_session: dict[int, Connection] = {}
        self.per_ip: Counter[str] = Counter()
        #: request counts and latencies, updated where they happen (roost.metrics reads them)
        self.stats = Stats()
        #: started (in order) after the server, stopped (in reverse) before it
        self.addons: list[Addon] = []
        self.packets_received = 0
        self.packets_sent = 0
        self.lat_min = 0.0
        self.lat_max = 0.0
        self.lat_sum = 0.0
        self.lat_count = 0
        self.started = time.time()
        self.datadir: DataDir | None = None
        self.log: ReplicaLog | None = None
        self._listener: asyncio.Server | None = None
        self._tls_listener: asyncio.Server | None = None
        #: client/HTTP TLS (None without a certificate) and the TLS client port
        self.tls: ClientTls | None = None
        self.secure_port: int | None = config.secure_port
        self._tasks: list[asyncio.Task[None]] = []
        self.stopped = asyncio.Event()
        #: the internal error (a bug) that stopped this server, if one did
        self.crashed: BaseException | None = None
        self._crash_stop: asyncio.Task[None] | None = None
        self.port = config.listen_port
        #: callbacks for server events, e.g. ("role", {"mode": "leader", "leader": 2}),
        #: ("session_created" | "session_closed", {"session": sid}), ("session_expired", ...)
        self.listeners: list[Callable[[str, dict[str, object]], None]] = []
        #: whether reads wait for a ReadIndex round (roost.server.requests)
        self.linearizable = config.linearizable_reads and config.ensemble
        self._event_loop: asyncio.AbstractEventLoop | None = None
        # what each connection hands the protocol's events to (a connection knows its
        # server only as a roost.server.connection.ConnectionHost)
        self.four_letter_commands: Collection[str] = admin.COMMANDS
        self.dispatch: Callable[[Connection, Request], None] = functools.partial(
            requests.dispatch, self)
        self.handle_event: Callable[[Connection, Event], int] = functools.partial(
            requests.handle_event, self)

    @property
    def tree(self) -> DataTree:
        assert self.log is not None
        return self.log.tree

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    @property
    def event_loop(self) -> asyncio.AbstractEventLoop:
        """The loop the server was started in (cached: `get_running_loop` costs a getpid
        system call, and connections schedule a flush for every batch of replies)."""
        loop = self._event_loop
        if loop is None:
            loop = self._event_loop = asyncio.get_running_loop()
        return loop

    # --- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        self._event_loop = asyncio.get_running_loop()
        self.datadir = DataDir.open(self.config.data_dir)
        if self.config.ensemble:
            self.log = RaftLog(
                self.datadir,
                self.config,
                self.tree_config,
                self.on_applied,
                on_fatal=self._fatal,
                on_crash=self._crashed,
                on_role=self._on_role,
                on_reset=self._on_reset,
                stats=self.stats,
                sessions=self.sessions,
                on_grant=self._on_grant,
            )
        else:
            self.log = StandaloneLog(
                self.datadir,
                self.tree_config,
                self.on_applied,
                self.config.snapshot_every,
                self.config.snapshots_to_keep,
                self.config.fsync,
                on_fatal=self._fatal,
                server_id=self.config.server_id,
                stats=self.stats,
            )
        self.log.on_replayed = lambda zxid, txn, res: self.streams.replayed(
            zxid, txn, res, self.tree
        )
        # the event history is saved with every snapshot and loaded with it (at start-up,
        # and when a member installs a leader's snapshot), then the log after it replayed
        self.log.history_image = self.streams.image
        self.log.on_history = self.streams.restore
        self.log.recover()
        # every session of the recovered tree gets a fresh deadline: none expires for time
        # the server was down
        self.sessions.restart(
            {sid: info.timeout_ms for sid, info in self.tree.sessions.items()}, clock.monotonic()
        )
        self.log.start()
        loop = asyncio.get_running_loop()
        host = self.config.listen_host
        bind = None if host == "*" else host  # None: every address, as ZooKeeper's default
        if self.config.plain_port:
            self._listener = await loop.create_server(
                lambda: Connection(self),
                bind,
                self.config.listen_port,
                reuse_address=True,
                backlog=1024,
            )
            self.port = self._listener.sockets[0].getsockname()[1]
        self.tls = client_tls(self.config)
        if self.tls is not None and self.config.secure_port is not None:
            self._tls_listener = await loop.create_server(
                lambda: Connection(self),
                bind,
                self.config.secure_port,
                ssl=self.tls.client,
                reuse_address=True,
                backlog=1024,
            )
            self.secure_port = self._tls_listener.sockets[0].getsockname()[1]
            if not self.config.plain_port:
                self.port = self.secure_port
            log.info("TLS clients on %s:%d", host, self.secure_port)
        if self.tls is not None:
            self._tasks.append(loop.create_task(self._watch_tls_files()))
        self._tasks.append(loop.create_task(self._expire_sessions()))
        self._tasks.append(loop.create_task(self._reap_nodes()))
        if self.config.ensemble:
            self._tasks.append(loop.create_task(self._watch_partition()))
        started: list[Addon] = []
        try:
            for addon in self.addons:
                await addon.start()
                started.append(addon)
        except BaseException:  # e.g. the HTTP or metrics port is taken: stop cleanly
            self.addons = started
            await self.stop()
            raise
        log.info(
            "roost serving on %s:%d, data in %s", host, self.port, self.config.data_dir
        )

    async def stop(self) -> None:
        if self.stopped.is_set():
            return
        try:
            addons, self.addons = self.addons, []
            for addon in reversed(addons):
                await addon.stop()
            if self._listener is not None:
                self._listener.close()
            if self._tls_listener is not None:
                self._tls_listener.close()
            for t in self._tasks:
                t.cancel()
            for conn in list(self.connections):
                conn.abort()
            if self.log is not None and self.log.failed is None:
                await self.log.close(snapshot=True)
            if self.datadir is not None:
                self.datadir.close()
        except Exception:  # whatever failed, the process must still stop
            log.exception("error while stopping")
        finally:
            self.stopped.set()

    def reload_tls(self) -> None:
        """Load the TLS certificate, key and CA files again (SIGHUP)."""
        if self.tls is not None:
            self.tls.reload()

    async def _watch_tls_files(self) -> None:
        """Reload the TLS files when they change (checked every TLS_CHECK_S)."""
        while True:
            await asyncio.sleep(TLS_CHECK_S)
            if self.tls is not None and self.tls.changed():
                self.tls.reload()

    def _fatal(self, exc: BaseException) -> None:
        """Storage failed (disk full, I/O error, read-only filesystem): fence this server.
        It acknowledges no write and serves no client any more (a failed write or fsync is
        never retried: what is on disk is then unknown), but keeps answering the four-letter
        words and the HTTP status routes so that monitoring sees why, until it is stopped.
        A restart, once the disk is fixed, recovers it from what it did store."""
        log.critical(
            "storage failed: %s; this server acknowledges no more writes and serves no "
            "client: free space or fix the disk, then restart it (every acknowledged write "
            "is on disk)",
            exc,
        )
        for conn in list(self.connections):
            conn.abort()

    def _crashed(self, exc: BaseException) -> None:
        """A bug broke the server's own code (its traceback is logged): stop, so that the
        process ends with an error (`roost.node.serve` raises `ServerCrashed`) instead of
        running on without making progress."""
        log.critical("internal error: %r; stopping this server", exc)
        if self.crashed is None:
            self.crashed = exc
            # (not in _tasks: stop() cancels those)
            self._crash_stop = self.event_loop.create_task(self.stop())

    # --- connections ---------------------------------------------------------------------
    def admit(self, conn: Connection) -> bool:
        limit = self.config.max_client_connections
        if limit and self.per_ip[conn.ip] >= limit:
            return False
        self.per_ip[conn.ip] += 1
        self.connections.add(conn)
        return True

    def connection_closed(self, conn: Connection) -> None:
        if conn in self.connections:
            self.connections.discard(conn)
            self.per_ip[conn.ip] -= 1
            if self.per_ip[conn.ip] <= 0:
                del self.per_ip[conn.ip]
        self.watches.drop(conn)
        self.streams.drop(conn)
        if self.by_session.get(conn.session_id) is conn:
            del self.by_session[conn.session_id]

    def is_four_letter_word(self, cmd: str) -> bool:
        return cmd in admin.COMMANDS

    def four_letter(self, cmd: str) -> str:
        if cmd not in self.config.four_letter_words:
            return f"{cmd} is not executed because it is not in the whitelist.\n"
        return admin.run(self, cmd)

    # --- an in-process API for other front ends (the HTTP API) ----------------------------
    def execute(
        self, op: int, req: Record, session_id: int = 0, auth: tuple[Id, ...] = ()
    ) -> asyncio.Future[tuple[int, int, Record | None]]:
        """Run one write request (create*, delete, setData, setACL, check, multi) through
        the replicated log as `session_id` with identities `auth`; the future gives
        (zxid, error code, response record). ConnectionLoss if its outcome is unknown."""
        assert self.log is not None and op in WRITES
        fut: asyncio.Future[tuple[int, int, Record | None]] = self.loop.create_future()
        txn = Txn(Kind.REQUEST, session_id, now_ms(), auth, op, req.to_bytes(), request=req)
        started = time.monotonic()

        def done(zxid: int, res: TxnResult) -> None:
            if res is LOST:
                self.stats.writes_lost += 1
            else:
                self.stats.write(op, time.monotonic() - started)
            if not fut.done():
                fut.set_result((zxid, Err.CONNECTION_LOSS if res is LOST else res.err, res.record))

        self.log.propose(txn, done)
        return fut

    def open_session(self, timeout_ms: int) -> asyncio.Future[tuple[int, bytes]]:
        """Create a replicated session (as a connect with session id 0 does); the future
        gives (session id, password). The caller keeps it alive with `touch`."""
        assert self.log is not None
        fut: asyncio.Future[tuple[int, bytes]] = self.loop.create_future()
        sid, passwd = self.sessions.new_id(), new_password()

        def done(zxid: int, res: TxnResult) -> None:
            if fut.done():
                return
            if res is LOST:
                fut.set_exception(ConnectionError("session creation outcome unknown"))
            else:
                fut.set_result((sid, passwd))

        self.log.propose(Txn(Kind.CREATE_SESSION, sid, now_ms(), (), 0, passwd, timeout_ms), done)
        return fut

    def close_session(self, session_id: int) -> asyncio.Future[int]:
        """Close a session (its ephemerals go); the future gives the close's zxid."""
        assert self.log is not None
        fut: asyncio.Future[int] = self.loop.create_future()
        self.sessions.closing.add(session_id)

        def done(zxid: int, res: TxnResult) -> None:
            if not fut.done():
                fut.set_result(zxid)

        self.log.propose(Txn(Kind.CLOSE_SESSION, session_id, now_ms()), done)
        return fut

    def barrier(self) -> asyncio.Future[None]:
        """Resolves once this member has applied everything committed before the call
        (immediately on a standalone server): read the tree after it for a linearizable read."""
        fut: asyncio.Future[None] = self.loop.create_future()

        def ok() -> None:
            if not fut.done():
                fut.set_result(None)

        def timeout() -> None:
            if not fut.done():
                fut.set_exception(TimeoutError("no leader answered the read barrier"))

        assert self.log is not None
        self.log.barrier(ok, timeout)
        return fut

    # --- applying ----------------------------------------------------------------------------
    def on_applied(self, zxid: int, txn: Txn, result: TxnResult) -> None:
        kind = txn.kind
        self.stats.writes[(kind, txn.op, result.err)] += 1
        assert self.log is not None
        self.streams.record(zxid, txn, result, self.log.tree)
        if result.events:
            self.watches.trigger(result.events)
        if kind is _REQUEST:
            return
        if kind is Kind.CREATE_SESSION:
            self.sessions.track(txn.session_id, txn.timeout_ms, clock.monotonic())
            self.emit("session_created", session=txn.session_id, zxid=zxid)
        elif kind is Kind.CLOSE_SESSION:
            self.sessions.forget(txn.session_id)
            self.emit("session_closed", session=txn.session_id, zxid=zxid)
            conn = self.by_session.get(txn.session_id)
            if conn is not None and not conn.closing_session:
                conn.close_after_flush()  # expired (possibly by another member's decision)

    # --- ensemble hooks ---------------------------------------------------------------
    def touch(self, session_id: int) -> None:
        self.sessions.touch(session_id, clock.monotonic())
        if self.log is not None:
            self.log.touch(session_id)

    @property
    def partitioned(self) -> bool:
        return self.log is not None and self.log.partitioned

    @property
    def serving(self) -> bool:
        """False on a member that is not (or no longer) in the ensemble: it serves nobody."""
        return self.log is None or self.log.serving

    async def _watch_partition(self) -> None:
        """Cut off from the majority: drop read-write clients (their reads could be stale;
        they move to another member). Back in touch: drop read-only clients so that they
        reconnect read-write."""
        was = False
        while True:
            await asyncio.sleep(self.config.raft_tick_ms / 1000.0)
            if not self.serving:
                for conn in list(self.connections):
                    if conn.handshaken:
                        conn.abort()
                continue
            now = self.partitioned
            if now != was:
                log.warning(
                    "%s",
                    "no leader: serving read-only clients only"
                    if now
                    else "leader found: serving all clients",
                )
                for conn in list(self.connections):
                    if conn.handshaken and conn.read_only != now:
                        conn.abort()
                was = now

    @property
    def is_leader(self) -> bool:
        return self.log is None or self.log.is_leader

    @property
    def mode(self) -> str:
        if self.log is None or not self.log.ensemble:
            return "standalone"
        if self.log.is_leader:
            return "leader"
        return "follower" if self.config.member().voter else "observer"

    def emit(self, kind: str, **info: object) -> None:
        for listener in list(self.listeners):
            try:
                listener(kind, info)
            except Exception:
                log.exception("server event listener failed")

    def _on_role(self, role: Role, leader: int) -> None:
        self.role_changes += 1
        self.emit("role", mode=self.mode, leader=leader)
        # an established leader restarts every session's deadline (ReplicaCore._establish)

    def _on_reset(self) -> None:
        # the tree was replaced by a snapshot: watches may have missed events; clients
        # reconnect and re-register them (setWatches fires what changed); the event
        # history came with the snapshot (the log's on_history, just before this)
        for conn in list(self.connections):
            conn.abort()

    # --- liveness grants (the lock lease's server side, roost.replica.sessions) ----------
    def hold(
        self, conn: Connection, sid: int, timeout_ms: int, answer: Callable[[], None],
        give_up: float | None = None,
    ) -> float:
        """No liveness grant for the session now: `answer` runs once a leader confirms the
        session alive; after L (or at `give_up`) without one the connection is closed (this
        member may be cut off; the client moves to another). Returns when."""
        if give_up is None:
            give_up = clock.monotonic() + lease_bound(timeout_ms)
        self.held.setdefault(sid, []).append((conn, give_up, answer))
        return give_up

    def _on_grant(self, sids: list[int]) -> None:
        for sid in sids:
            for conn, _, answer in self.held.pop(sid, ()):
                if not conn.closed:
                    answer()

    def _drop_ungranted(self, now: float) -> None:
        for sid, held in list(self.held.items()):
            live = [h for h in held if not h[0].closed]
            for conn, give_up, _ in live:
                if give_up <= now:
                    log.info("session 0x%x: no liveness grant from a leader in time; closing "
                             "its connection from %s", sid, conn.ip)
                    conn.abort()
            live = [h for h in live if not h[0].closed]
            if live:
                self.held[sid] = live
            else:
                del self.held[sid]

    # --- housekeeping --------------------------------------------------------------------------
    async def _expire_sessions(self) -> None:
        period = min(self.config.tick_ms, 1000) / 4000.0
        while True:
            await asyncio.sleep(period)
            assert self.log is not None
            now = clock.monotonic()
            if self.held:
                self._drop_ungranted(now)
            for sid in self.sessions.expired(now, self.log.may_expire):
                log.info("session 0x%x expired", sid)
                self.emit("session_expired", session=sid)
                conn = self.by_session.get(sid)

                def done(zxid: int, res: TxnResult, conn: Connection | None = conn) -> None:
                    if conn is not None:
                        conn.close_after_flush()

                # the decision holds only in the leadership that took it: a deposed leader
                # must not resend it to its successor (or to itself leading again later),
                # which has heard pings this one has not
                txn = Txn(Kind.CLOSE_SESSION, sid, now_ms())
                self.log.propose(txn, done, abandoned=self._deposed_since(self.role_changes))

    def _deposed_since(self, role_changes: int) -> Callable[[], bool]:
        return lambda: not self.is_leader or self.role_changes != role_changes

    async def _reap_nodes(self) -> None:
        period = self.config.container_check_ms / 1000.0
        while True:
            await asyncio.sleep(period)
            assert self.log is not None
            if not self.is_leader:
                continue
            t = now_ms()
            for path in self.tree.reap_candidates(t):
                self.log.propose(Txn(Kind.REAP, 0, t, body=path.encode("utf-8", "surrogatepass")))
