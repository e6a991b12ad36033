"""The standalone server: listener, session handshake, request dispatch, housekeeping."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Protocol

from roost.raft import Role
from roost.replica.log import ReplicaLog
from roost.replica.membership import ReconfigError, parse_zk_reconfig
from roost.replica.sessions import Sessions, lease_bound
from roost.replica.state import LOST
from roost.server import admin, clock
from roost.server.clienttls import ClientTls, client_tls
from roost.server.config import ServerConfig
from roost.server.connection import Connection
from roost.server.history import Limits
from roost.server.reads import READS
from roost.server.replicated import RaftLog
from roost.server.sasl import DigestMd5Server, SaslError
from roost.server.standalone import StandaloneLog
from roost.server.stats import Stats
from roost.server.streams import StreamHub
from roost.server.watches import WatchManager
from roost.storage import DataDir
from roost.tree import DataTree, TreeConfig
from roost.tree.acl import SUPER_ID, auth_ids
from roost.tree.txn import Kind, Txn, TxnResult
from roost.wire.errors import Err, ProtocolError
from roost.wire.multi import MultiRequest
from roost.wire.opcodes import Op, Perm, Xid
from roost.wire.protocol import (
    BadRequestBody,
    UnknownOpcode,
    decode_request,
    encode_frame,
    encode_reply,
)
from roost.wire.records import (
    AuthPacket,
    ConnectRequest,
    ConnectResponse,
    GetDataResponse,
    GetSASLRequest,
    Id,
    ReconfigRequest,
    Record,
    SetSASLResponse,
    StopWatchHistoryRequest,
    SyncRequest,
    SyncResponse,
    WatchHistoryRequest,
)

log = logging.getLogger("roost.server")

#: opcodes that become txns
WRITES = frozenset(
    {
        Op.CREATE,
        Op.CREATE2,
        Op.CREATE_CONTAINER,
        Op.CREATE_TTL,
        Op.DELETE,
        Op.SET_DATA,
        Op.SET_ACL,
        Op.CHECK,
        Op.MULTI,
    }
)
#: reads that go through a ReadIndex round when linearizable_reads is on
LINEARIZABLE_READS = frozenset(
    {
        Op.EXISTS,
        Op.GET_DATA,
        Op.GET_CHILDREN,
        Op.GET_CHILDREN2,
        Op.GET_ACL,
        Op.GET_ALL_CHILDREN_NUMBER,
        Op.MULTI_READ,
    }
)
_INVALID_PASSWD = bytes(16)
CONFIG_NODE = "/zookeeper/config"


def now_ms() -> int:
    return int(time.time() * 1000)


#: how often the TLS files' modification times are checked
TLS_CHECK_S = 2.0


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
        self.sessions = Sessions(config.server_id, int(time.time() * 1000))
        #: session -> answers (pings, a reattach) held until a leader confirms it alive:
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
        self.port = config.listen_port
        #: callbacks for server events, e.g. ("role", {"mode": "leader", "leader": 2}),
        #: ("session_created" | "session_closed", {"session": sid}), ("session_expired", ...)
        self.listeners: list[Callable[[str, dict[str, object]], None]] = []
        self._linearizable = config.linearizable_reads and config.ensemble
        self._event_loop: asyncio.AbstractEventLoop | None = None

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
        self.log.recover()
        self.streams.recovered(self.log.snapshot_index)
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

    # --- handshake ---------------------------------------------------------------------------
    def handle_connect(self, conn: Connection, body: bytes) -> None:
        try:
            req = ConnectRequest.from_bytes(body)
        except ProtocolError as e:
            log.warning("bad connect request from %s: %s", conn.ip, e)
            conn.abort()
            return
        if req.lastZxidSeen > self.tree.last_zxid:
            log.warning(
                "refusing session 0x%x from %s: client has seen zxid 0x%x, server is at 0x%x",
                req.sessionId,
                conn.ip,
                req.lastZxidSeen,
                self.tree.last_zxid,
            )
            conn.abort()
            return
        cfg = self.config
        timeout = min(max(req.timeOut, cfg.min_session_timeout), cfg.max_session_timeout)
        assert self.log is not None
        if not self.serving:
            why = "storage failed" if self.log.failed else "not a member of the ensemble"
            log.info("%s: refusing connection from %s", why, conn.ip)
            conn.abort()
            return
        if self.partitioned:
            self._connect_read_only(conn, req, timeout)
            return
        if req.sessionId == 0:
            sid, passwd = self.sessions.new_id(), new_password()
            conn.waiting_connect = True
            txn = Txn(Kind.CREATE_SESSION, sid, now_ms(), (), 0, passwd, timeout)

            def created(zxid: int, result: TxnResult) -> None:
                if result is LOST:
                    conn.abort()
                    return
                conn.waiting_connect = False
                self._bind(conn, req, sid, passwd, timeout)
                conn.run_backlog()

            self.log.propose(txn, created, abandoned=lambda: conn.closed)
            return
        other = self.by_session.get(req.sessionId)
        if other is not None and other is not conn:
            other.abort()
        info = self.tree.sessions.get(req.sessionId)
        verdict = self.sessions.reattach(req.sessionId, info, req.passwd)
        if verdict == "wait":  # closing here, outcome unknown: the client tries again
            conn.abort()
            return
        if info is None or verdict == "expired":
            resp = ConnectResponse(0, 0, 0, _INVALID_PASSWD, False, req.has_read_only)
            conn.write_raw(encode_frame(resp))
            conn.close_after_flush()
            return
        sid, passwd = req.sessionId, info.passwd
        if self.log.may_answer(sid):
            self._bind(conn, req, sid, passwd, timeout)
            return
        # this member may lag behind an expiry: as ZooKeeper's followers revalidate a
        # session with the leader, the reattach is answered once a leader confirms the
        # session alive (its requests wait in the backlog)
        conn.waiting_connect = True
        self.touch(sid)

        def bind() -> None:
            conn.waiting_connect = False
            self._bind(conn, req, sid, passwd, timeout)
            conn.run_backlog()

        self._hold(conn, sid, timeout, bind)

    def _connect_read_only(self, conn: Connection, req: ConnectRequest, timeout: int) -> None:
        """This member has no leader: only clients that accept a read-only server get in."""
        if not req.readOnly:
            log.info("no leader: refusing connection from %s (not read-only)", conn.ip)
            conn.abort()
            return
        info = self.tree.sessions.get(req.sessionId)
        if info is not None and info.passwd == req.passwd:
            sid, passwd = req.sessionId, info.passwd
        else:  # a local session, never replicated
            sid, passwd = self.sessions.new_id(), new_password()
        conn.read_only = True
        self._bind(conn, req, sid, passwd, timeout, read_only=True)

    def _bind(
        self,
        conn: Connection,
        req: ConnectRequest,
        sid: int,
        passwd: bytes,
        timeout: int,
        read_only: bool = False,
    ) -> None:
        if conn.closed:
            return
        conn.handshaken = True
        conn.session_id = sid
        conn.timeout_ms = timeout
        self.by_session[sid] = conn
        self.sessions.set_timeout(sid, timeout, clock.monotonic())
        conn.write_raw(
            encode_frame(ConnectResponse(0, timeout, sid, passwd, read_only, req.has_read_only))
        )

    # --- requests ---------------------------------------------------------------------------------
    def dispatch(self, conn: Connection, body: bytes) -> None:
        try:
            xid, op, req = decode_request(body)
        except UnknownOpcode as e:
            log.info("unknown opcode %d from %s: closing", e.op, conn.ip)
            conn.reply(encode_reply(e.xid, self.tree.last_zxid, Err.UNIMPLEMENTED))
            conn.close_after_flush()
            return
        except BadRequestBody as e:
            # like ZooKeeper: MarshallingError for that request, the connection goes on
            log.info("malformed request from %s: %s", conn.ip, e)
            conn.reply(encode_reply(e.xid, self.tree.last_zxid, Err.MARSHALLING_ERROR))
            return
        except ProtocolError as e:
            log.warning("malformed frame from %s: %s: closing", conn.ip, e)
            conn.abort()
            return
        self.stats.requests[op & 0xFF] += 1
        conn.last_op = _OP_NAMES.get(op, "NA")
        if xid > 0:
            conn.last_cxid = xid
        if conn.read_only and (op in WRITES or op == Op.CLOSE_SESSION):
            if op == Op.CLOSE_SESSION:
                conn.reply(encode_reply(xid, self.tree.last_zxid, 0))
                conn.close_after_flush()
            else:
                conn.reply(encode_reply(xid, self.tree.last_zxid, Err.NOT_READ_ONLY))
            return
        if op in WRITES:
            if op == Op.MULTI and isinstance(req, MultiRequest) and req.is_read:
                conn.reply(encode_reply(xid, self.tree.last_zxid, Err.MARSHALLING_ERROR))
                return
            self._write(conn, xid, op, body, req)
            return
        assert self.log is not None
        if op == Op.SYNC and self.log.ensemble:
            self._sync(conn, xid, req)
            return
        handler = READS.get(op)
        auth = conn.auth
        if handler is not None:
            # latency from the arrival of the batch of requests this one came in
            if not conn.slots and not (self._linearizable and op in LINEARIZABLE_READS):
                conn.write_raw(handler(self, conn, xid, req, auth))
                self.stats.read_seconds[op & 0xFF].observe(time.monotonic() - conn.batch_started)
                return
            hist = self.stats.read_seconds[op & 0xFF]
            started = conn.batch_started

            def answer() -> bytes:
                out = handler(self, conn, xid, req, auth)
                hist.observe(time.monotonic() - started)
                return out

            if self._linearizable and op in LINEARIZABLE_READS:
                slot = conn.reserve()
                self.log.barrier(lambda: conn.complete(slot, answer()), conn.abort)
            else:  # answered in turn, after the writes queued ahead of it
                conn.reply_later(answer)
            return
        if op == Op.WATCH_HISTORY:
            assert isinstance(req, WatchHistoryRequest)
            conn.reply_later(lambda: self.streams.open(conn, xid, req, self.tree.last_zxid))
        elif op == Op.STOP_WATCH_HISTORY:
            assert isinstance(req, StopWatchHistoryRequest)
            self.streams.stop(conn, req.streamId)
            conn.reply_later(lambda: encode_reply(xid, self.tree.last_zxid, 0))
        elif op == Op.PING:
            if conn.read_only or self.log.may_answer(conn.session_id):
                conn.reply_later(lambda: encode_reply(Xid.PING, self.tree.last_zxid, 0))
            else:
                self._hold_ping(conn)
        elif op == Op.AUTH:
            assert isinstance(req, AuthPacket)
            self._auth(conn, xid, req)
        elif op == Op.CLOSE_SESSION:
            self._close_session(conn, xid)
        elif op == Op.RECONFIG:
            assert isinstance(req, ReconfigRequest)
            self._reconfig(conn, xid, req)
        elif op == Op.SASL:
            assert isinstance(req, GetSASLRequest)
            self._sasl(conn, xid, req)

    def _write(self, conn: Connection, xid: int, op: int, body: bytes, req: Record) -> None:
        sid = conn.session_id
        if sid in self.sessions.closing or sid not in self.tree.sessions:
            conn.reply(encode_reply(xid, self.tree.last_zxid, Err.SESSION_EXPIRED))
            return
        assert self.log is not None
        slot = conn.reserve()
        started = time.monotonic()
        txn = Txn(Kind.REQUEST, sid, now_ms(), conn.auth, op, body[8:], request=req)

        def done(zxid: int, res: TxnResult) -> None:
            if res is LOST:
                self.stats.writes_lost += 1
                conn.abort()
                return
            conn.last_zxid = zxid
            self.stats.write(op, conn.record_latency(started))
            conn.complete(slot, encode_reply(xid, zxid, res.err, res.record))

        self.log.propose(txn, done, abandoned=lambda: conn.closed)

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

    def _sync(self, conn: Connection, xid: int, req: Record) -> None:
        """sync: answer once this member has applied all that was committed when it came."""
        assert self.log is not None and isinstance(req, SyncRequest)
        slot = conn.reserve()
        path = req.path
        self.log.barrier(
            lambda: conn.complete(
                slot, encode_reply(xid, self.tree.last_zxid, 0, SyncResponse(path))
            ),
            conn.abort,
        )

    def _reconfig(self, conn: Connection, xid: int, req: ReconfigRequest) -> None:
        """ZooKeeper's incremental reconfig: add or remove ensemble members."""
        zxid = self.tree.last_zxid
        assert self.log is not None
        if not self.log.ensemble:
            conn.reply(encode_reply(xid, zxid, Err.RECONFIG_DISABLED))
            return
        node = self.tree.get(CONFIG_NODE)
        if node is None or not self.tree.check_acl(node, Perm.WRITE, conn.auth):
            conn.reply(encode_reply(xid, zxid, Err.NO_AUTH))
            return
        try:
            change = parse_zk_reconfig(
                req.joiningServers,
                req.leavingServers,
                req.newMembers,
                self.log.members,
                req.curConfigId,
            )
        except ReconfigError as e:
            log.info("reconfig from %s refused: %s", conn.ip, e)
            conn.reply(encode_reply(xid, zxid, Err.BAD_ARGUMENTS))
            return
        slot = conn.reserve()
        log_ = self.log

        def done(zxid: int, res: TxnResult) -> None:
            if res is LOST:
                conn.abort()
                return
            cfg_node = self.tree.get(CONFIG_NODE)
            rec = None
            if res.err == 0 and cfg_node is not None:
                rec = GetDataResponse(log_.config_text(), self.tree.stat(cfg_node))
            conn.complete(slot, encode_reply(xid, zxid, res.err, rec))

        log_.propose(Txn(Kind.RECONFIG, conn.session_id, now_ms(), body=change.to_bytes()), done)

    def _sasl(self, conn: Connection, xid: int, req: GetSASLRequest) -> None:
        """One step of a SASL DIGEST-MD5 exchange; a failure closes the connection."""
        users = self.config.sasl_users
        try:
            if not users:
                raise SaslError("SASL is not configured (sasl_users)")
            if conn.sasl is None:
                conn.sasl = DigestMd5Server(dict(users), secrets.token_urlsafe(24))
            token, user = conn.sasl.step(req.token or b"")
        except SaslError as e:
            log.info("SASL authentication of %s failed: %s; closing", conn.ip, e)
            failed = SetSASLResponse(None)
            conn.reply(encode_reply(xid, 0, Err.AUTH_FAILED, failed, body_on_error=True))
            conn.close_after_flush()
            return
        if user is not None:
            ids = [Id("sasl", user)]
            if user == self.config.sasl_super_user:
                ids.insert(0, SUPER_ID)
            conn.auth += tuple(i for i in ids if i not in conn.auth)
        conn.reply(encode_reply(xid, self.tree.last_zxid, 0, SetSASLResponse(token)))

    def _auth(self, conn: Connection, xid: int, req: AuthPacket) -> None:
        ids = auth_ids(req.scheme, req.auth, conn.ip, self.config.super_digest)
        if ids is None:
            log.info("auth failed for %s with scheme %r: closing", conn.ip, req.scheme)
            conn.reply(encode_reply(Xid.AUTH, 0, Err.AUTH_FAILED))
            conn.close_after_flush()
            return
        conn.auth += tuple(i for i in dict.fromkeys(ids) if i not in conn.auth)
        conn.reply(encode_reply(Xid.AUTH, 0, 0))

    def _close_session(self, conn: Connection, xid: int) -> None:
        sid = conn.session_id
        assert self.log is not None
        if sid in self.sessions.closing or sid not in self.tree.sessions:
            conn.reply(encode_reply(xid, self.tree.last_zxid, 0))
            conn.close_after_flush()
            return
        self.sessions.closing.add(sid)
        conn.closing_session = True
        slot = conn.reserve()

        def done(zxid: int, res: TxnResult) -> None:
            if res is LOST:
                conn.abort()
                return
            conn.complete(slot, encode_reply(xid, zxid, 0))
            conn.close_after_flush()

        self.log.propose(Txn(Kind.CLOSE_SESSION, sid, now_ms()), done)

    # --- applying ----------------------------------------------------------------------------
    def on_applied(self, zxid: int, txn: Txn, result: TxnResult) -> None:
        self.stats.writes[(txn.kind, txn.op, result.err)] += 1
        self.streams.record(zxid, txn, result, self.tree)
        if result.events:
            self.watches.trigger(result.events)
        if txn.kind is Kind.CREATE_SESSION:
            self.sessions.track(txn.session_id, txn.timeout_ms, clock.monotonic())
            self.emit("session_created", session=txn.session_id, zxid=zxid)
        elif txn.kind is Kind.CLOSE_SESSION:
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
        # history starts again at the snapshot
        assert self.log is not None
        self.streams.reset(self.log.snapshot_index)
        for conn in list(self.connections):
            conn.abort()

    # --- liveness grants (the lock lease's server side, roost.replica.sessions) ----------
    def _hold_ping(self, conn: Connection) -> None:
        """No grant for the session now: the ping is answered once the leader confirms
        the session alive; after L without one the connection is closed (this member may be
        cut off; the client moves to another)."""
        slot = conn.reserve()
        self._hold(conn, conn.session_id, conn.timeout_ms, lambda: conn.complete(
            slot, encode_reply(Xid.PING, self.tree.last_zxid, 0)))

    def _hold(
        self, conn: Connection, sid: int, timeout_ms: int, answer: Callable[[], None]
    ) -> None:
        give_up = clock.monotonic() + lease_bound(timeout_ms)
        self.held.setdefault(sid, []).append((conn, give_up, answer))

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


def new_password() -> bytes:
    """A new session's password (16 random bytes)."""
    return secrets.token_bytes(16)


_OP_NAMES: dict[int, str] = {
    Op.CREATE: "CREA",
    Op.CREATE2: "CREA",
    Op.CREATE_CONTAINER: "CREA",
    Op.CREATE_TTL: "CREA",
    Op.DELETE: "DELE",
    Op.EXISTS: "EXIS",
    Op.GET_DATA: "GETD",
    Op.SET_DATA: "SETD",
    Op.GET_ACL: "GETA",
    Op.SET_ACL: "SETA",
    Op.GET_CHILDREN: "GETC",
    Op.GET_CHILDREN2: "GETC",
    Op.SYNC: "SYNC",
    Op.PING: "PING",
    Op.MULTI: "MULT",
    Op.MULTI_READ: "MLTR",
    Op.AUTH: "SASL",
    Op.CLOSE_SESSION: "CLOS",
    Op.SET_WATCHES: "SETW",
    Op.SET_WATCHES2: "SETW",
    Op.ADD_WATCH: "ADDW",
    Op.CHECK: "CHEC",
    Op.WATCH_HISTORY: "WHIS",
    Op.STOP_WATCH_HISTORY: "WHIS",
}
