"""The client side of the ZooKeeper protocol: one session over a sequence of TCP connections.

`Connection` owns the session (id, password, negotiated timeout, last zxid seen)
and Curator's state machine: CONNECTING -> CONNECTED -> SUSPENDED -> RECONNECTED,
LOST (the server said so, or SUSPENDED outlasted the session timeout), READ_ONLY
(attached to a member without quorum; a background probe looks for a read-write
server with the four-letter word ``isro`` and moves there), CLOSED. A
background task walks the server list (shuffled once, then rotated), connects,
does the handshake, re-sends credentials and re-registers watches (setWatches or
setWatches2 with relativeZxid = the last zxid seen, so the server itself reports
any change missed while disconnected), then sends whatever was queued.

Requests are pipelined: each is written at once and its reply matched against
the head of the in-flight queue by xid (auth replies have their own queue,
since ZooKeeper answers them out of band). A mismatch is a protocol error and
drops the connection. Replies and events are handled synchronously in
`data_received`; user code only ever runs on the `Dispatcher`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import re
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from roost.client.errors import (
    ClientClosedError,
    ConnectionLossError,
    KeeperError,
    SessionExpiredError,
    error_for,
)
from roost.client.events import Callback, ClientState, Dispatcher, StateChange, WatchedEvent
from roost.client.history import HistoryStreams
from roost.client.rwprobe import find_rw_server
from roost.client.watches import WatchKind, WatchRegistry
from roost.replica.sessions import LEASE_BOUND_FRACTION
from roost.wire.errors import Err, ProtocolError
from roost.wire.jute import Reader
from roost.wire.opcodes import EventType, KeeperState, Op, Xid
from roost.wire.protocol import OPS, FrameBuffer, decode_reply_header, encode_frame, encode_request
from roost.wire.records import (
    AuthPacket,
    ConnectRequest,
    ConnectResponse,
    Empty,
    Record,
    SetWatches,
    SetWatches2,
    WatcherEvent,
)

log = logging.getLogger("roost.client")

DEFAULT_PORT = 2181
#: the client accepts reply frames up to this size (servers cap requests, not replies)
MAX_REPLY_FRAME = 64 * 1024 * 1024
#: setWatches requests are split so that each carries at most this many path bytes
SET_WATCHES_CHUNK = 128 * 1024
#: by default one connect attempt may take at most this fraction (1/N) of the session timeout
ATTEMPTS_PER_SESSION = 3

OnDone = Callable[[int], None]


def parse_hosts(hosts: str) -> tuple[list[tuple[str, int]], str]:
    """``"h1:2181,h2:2182/app"`` -> ``([("h1", 2181), ("h2", 2182)], "/app")``."""
    chroot = ""
    if "/" in hosts:
        hosts, rest = hosts.split("/", 1)
        chroot = "/" + rest.rstrip("/") if rest.strip("/") else ""
    out: list[tuple[str, int]] = []
    for item in hosts.split(","):
        item = item.strip()
        if not item:
            continue
        if item.startswith("["):  # [ipv6]:port
            host, _, port = item[1:].partition("]")
            port = port.lstrip(":")
        else:
            host, _, port = item.rpartition(":") if ":" in item else (item, "", "")
        out.append((host, int(port) if port else DEFAULT_PORT))
    if not out:
        raise ValueError(f"no server in {hosts!r}")
    return out, chroot


def _addr(host: tuple[str, int]) -> str:
    return f"[{host[0]}]:{host[1]}" if ":" in host[0] else f"{host[0]}:{host[1]}"


def _reason(e: BaseException) -> str:
    """A short reason for a failed connect (``Connection refused``, ``timed out``...)."""
    if isinstance(e, TimeoutError):
        return "no answer in time"
    if isinstance(e, OSError) and not isinstance(e, socket.gaierror) and e.errno:
        return os.strerror(e.errno)  # asyncio's own text is "Connect call failed (...)"
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    text = str(e)
    if text.startswith("Multiple exceptions: "):  # asyncio, one per resolved address
        text = text.removeprefix("Multiple exceptions: ")
        text = re.sub(r"\[Errno \d+\] ", "", text)
    return text or type(e).__name__


@dataclass(slots=True)
class _Pending:
    xid: int
    op: int
    frame: bytes
    future: asyncio.Future[Record | None] | None
    path: str = ""
    on_done: OnDone | None = None
    sent_at: float = 0.0


class _Protocol(asyncio.Protocol):
    """Bytes in and out of one TCP connection; everything else is the `Connection`'s."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        loop = asyncio.get_running_loop()
        self.loop = loop
        self.frames = FrameBuffer(MAX_REPLY_FRAME)
        self.transport: asyncio.Transport | None = None
        self.handshake: asyncio.Future[ConnectResponse] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self._out: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing asyncio.Transport
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            for body in self.frames.feed(data):
                if self.lost.done():
                    return
                if not self.handshake.done():
                    self.handshake.set_result(ConnectResponse.from_bytes(body))
                else:
                    self.conn._on_frame(self, body)
        except (ProtocolError, KeeperError) as e:
            log.warning("roost client: bad frame from server (%s); reconnecting", e)
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionResetError("closed during handshake"))
        if not self.lost.done():
            self.lost.set_result(None)

    def write(self, data: bytes) -> None:
        """Queue bytes; everything queued in one loop turn goes out in one write."""
        if not self._out:
            self.loop.call_soon(self._flush)
        self._out.append(data)

    def _flush(self) -> None:
        if self._out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(self._out))
        self._out.clear()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class _SessionExpired(Exception):
    pass


class _Superseded(Exception):
    """The session changed (declared LOST) while a handshake for it was under way."""


@dataclass
class ConnectionOptions:
    """Tuning knobs; times are in seconds."""

    session_timeout: float = 10.0
    # default: session timeout / max(number of servers, 3), at least 1 s
    connect_timeout: float | None = None
    retry_delay: float = 0.1  # first pause after a full round of failed connects
    retry_max_delay: float = 2.0
    read_only: bool = False  # may attach to a read-only server
    rw_probe_delay: float = 0.1  # first pause between searches for a read-write server
    rw_probe_max_delay: float = 10.0
    rw_probe_timeout: float = 1.0  # per server and probe
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    #: the assumed bound on how far any two clocks' rates differ (0.02: 2%); the lease is
    #: shortened by it (docs/client.md, "The session lease")
    clock_drift: float = 0.02


def lease_span(timeout: float, clock_drift: float) -> float:
    """Seconds the session is certainly alive after the send time of a ping the server
    answered: the session timeout `timeout` the leader restarted, seen through clocks whose
    rates differ by up to `clock_drift`, less the bound L for which a member may answer
    after the leader last confirmed the session (roost.replica.sessions)."""
    return timeout * (1 - clock_drift) / (1 + clock_drift) - timeout * LEASE_BOUND_FRACTION


class Connection:
    """A ZooKeeper session; see the module docstring."""

    def __init__(
        self,
        hosts: list[tuple[str, int]],
        chroot: str,
        options: ConnectionOptions,
        dispatcher: Dispatcher,
    ) -> None:
        self.hosts = list(hosts)
        options.rng.shuffle(self.hosts)
        self.chroot = chroot
        self.options = options
        self.dispatcher = dispatcher
        self.watches = WatchRegistry()
        self.history = HistoryStreams(self)
        self.state = ClientState.CONNECTING
        self.session_id = 0
        self.negotiated_timeout = 0.0
        self.last_zxid = 0
        self.lease_deadline = 0.0
        #: the smallest timeout negotiated in this session (the lease counts with it)
        self._lease_timeout = 0.0
        self._read_only_link = False
        self._last_ping = 0.0
        #: send time of the request behind `lease_deadline` (its deadline less the lease's span)
        self.lease_start = 0.0
        self._span = 0.0
        self.server: tuple[str, int] | None = None
        self._passwd = bytes(16)
        self._auth: list[tuple[str, bytes]] = []
        self._pending: deque[_Pending] = deque()
        self._auth_pending: deque[_Pending] = deque()
        self._queued: deque[_Pending] = deque()
        self._proto: _Protocol | None = None
        self._xid = 0
        self._listeners: list[Callback] = []
        self._waiters: list[tuple[frozenset[ClientState], asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._ping_task: asyncio.Task[None] | None = None
        self._next_host = 0
        self._last_send = 0.0
        self._last_recv = 0.0
        self._closing = False
        self._ever_connected = False  # the first read-write connection is CONNECTED
        self._seen_rw = False  # ZooKeeper's seenRwServerBefore: send the session id
        self._lost_timer: asyncio.TimerHandle | None = None
        self._rw_task: asyncio.Task[None] | None = None
        #: why the latest attempt on each server failed (cleared once connected)
        self.connect_errors: dict[tuple[str, int], BaseException] = {}
        #: resolved when every server has failed once in a row (for `Client.start`'s
        #: ``fail_fast``)
        self._round_waiters: list[asyncio.Future[None]] = []

    @property
    def session_password(self) -> bytes:
        return self._passwd

    # --- paths --------------------------------------------------------------------------
    def server_path(self, path: str) -> str:
        if not self.chroot:
            return path
        return self.chroot if path == "/" else self.chroot + path

    def client_path(self, path: str) -> str:
        c = self.chroot
        if c and (path == c or path.startswith(c + "/")):
            return path[len(c) :] or "/"
        return path

    # --- state ----------------------------------------------------------------------------
    def add_listener(self, callback: Callback) -> None:
        self._listeners.append(callback)

    def remove_listener(self, callback: Callback) -> None:
        self._listeners = [c for c in self._listeners if c is not callback]

    def _set_state(self, state: ClientState) -> None:
        prev = self.state
        if state is prev:
            return
        self.state = state
        change = StateChange(state, prev, self.session_id)
        for cb in self._listeners:
            self.dispatcher.submit(cb, change)
        for states, fut in self._waiters:
            if state in states and not fut.done():
                fut.set_result(None)
        self._waiters = [(s, f) for s, f in self._waiters if not f.done()]

    async def wait_for(self, *states: ClientState, timeout: float | None = None) -> None:
        """Return once the state is one of ``states`` (TimeoutError after ``timeout``)."""
        if self.state in states:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((frozenset(states), fut))
        await asyncio.wait_for(fut, timeout)

    async def wait_round_failed(self) -> None:
        """Return once every server has failed to connect, one after the other."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._round_waiters.append(fut)
        await fut

    def _round_failed(self) -> None:
        for fut in self._round_waiters:
            if not fut.done():
                fut.set_result(None)
        self._round_waiters.clear()

    def describe_connect_errors(self) -> str:
        """``host:port: reason`` for each server whose latest attempt failed."""
        return "; ".join(f"{_addr(h)}: {_reason(e)}" for h, e in self.connect_errors.items())

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self.dispatcher.start()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="roost-conn")

    async def _run(self) -> None:
        failures = 0
        while not self._closing:
            host = self.hosts[self._next_host]
            self._next_host = (self._next_host + 1) % len(self.hosts)
            try:
                proto, resp, sent_at = await self._open(host)
            except _SessionExpired:
                self._expire()
                continue
            except _Superseded:
                continue
            except Exception as e:  # OSError, TimeoutError, ProtocolError... keep trying
                log.log(logging.DEBUG if isinstance(e, OSError | TimeoutError) else logging.WARNING,
                        "roost client: connect to %s:%d failed: %r", *host, e)
                failures += 1
                self.connect_errors[host] = e
                if failures % len(self.hosts) == 0:
                    self._round_failed()
                    await asyncio.sleep(self._backoff(failures // len(self.hosts)))
                continue
            failures = 0
            self.connect_errors.clear()
            self.server = host
            self._established(proto, resp, sent_at)
            await proto.lost
            self._connection_lost(proto)
            if proto.loop.time() - sent_at < 1.0 and not self._closing:
                # A server that drops us right after the handshake must not cause a hot loop.
                await asyncio.sleep(self._backoff(1))

    def _backoff(self, rounds: int) -> float:
        o = self.options
        delay = min(o.retry_max_delay, o.retry_delay * (2 ** min(rounds - 1, 16)))
        return float(delay * o.rng.uniform(0.5, 1.0))

    def _attempt_timeout(self) -> float:
        """How long one TCP connect plus handshake may take (``connect_timeout`` if given).

        ZooKeeper's own clients allow the session timeout divided by the number of servers.
        With one server that is the whole session; but SUSPENDED for a session timeout is
        LOST here (Curator's rule), so a single attempt against a server that accepts and
        never answers (ZooKeeper 3.8 leaves connections made while it loads its database
        open and silent) would lose the session by itself. So at most a third of the
        (negotiated) session: at least three attempts fit before the session is given up.
        """
        o = self.options
        if o.connect_timeout:
            return o.connect_timeout
        session = self.negotiated_timeout or o.session_timeout
        return max(1.0, session / max(len(self.hosts), ATTEMPTS_PER_SESSION))

    async def _open(self, host: tuple[str, int]) -> tuple[_Protocol, ConnectResponse, float]:
        loop = asyncio.get_running_loop()
        o = self.options
        timeout = self._attempt_timeout()
        proto: _Protocol | None = None
        try:
            async with asyncio.timeout(timeout):
                _, proto = await loop.create_connection(lambda: _Protocol(self), *host)
                # Like ZooKeeper: a session only ever seen by read-only servers is local
                # to one of them, so a fresh one is asked for instead.
                expected = self.session_id
                sid = self.session_id if self._seen_rw else 0
                req = ConnectRequest(
                    0,
                    self.last_zxid,
                    int(o.session_timeout * 1000),
                    sid,
                    self._passwd if sid else bytes(16),
                    o.read_only,
                )
                sent_at = loop.time()
                assert proto.transport is not None
                proto.transport.write(encode_frame(req))
                resp = await proto.handshake
        except BaseException:
            if proto is not None:
                proto.abort()
            raise
        if self.session_id != expected:
            proto.abort()  # the session was declared LOST while this handshake ran
            raise _Superseded()
        stale = sid != 0 and resp.sessionId != sid
        if resp.timeOut <= 0 or resp.sessionId == 0 or stale:
            proto.abort()
            if sid == 0:
                raise ProtocolError("server refused to create a session")
            raise _SessionExpired()
        return proto, resp, sent_at

    def _established(self, proto: _Protocol, resp: ConnectResponse, sent_at: float) -> None:
        loop = asyncio.get_running_loop()
        new_session = resp.sessionId != self.session_id
        self.session_id = resp.sessionId
        self._passwd = resp.passwd
        self.negotiated_timeout = resp.timeOut / 1000.0
        self._read_only_link = resp.readOnly
        if new_session:
            # created by a committed txn after `sent_at`, which gave it a whole timeout; a
            # reattach proves nothing (the member may be cut off): the next ping does
            self._lease_timeout = self.negotiated_timeout
            if resp.readOnly:
                self.lease_deadline = self.lease_start = 0.0
            else:
                self._lease_from(sent_at)
        else:
            self._lease_timeout = min(self._lease_timeout, self.negotiated_timeout)
        self._proto = proto
        self._last_send = self._last_recv = self._last_ping = loop.time()
        for scheme, cred in list(self._auth):
            self._send(self._auth_packet(scheme, cred, None))
        self._send_set_watches()
        self.history.connected()
        while self._queued:
            p = self._queued.popleft()
            if p.future is None or not p.future.done():
                self._send(p)
        self._ping_task = loop.create_task(self._pinger(proto), name="roost-ping")
        self._cancel_lost_timer()
        first, self._ever_connected = not self._ever_connected, True
        if resp.readOnly:
            self._rw_task = loop.create_task(self._seek_rw(proto), name="roost-rw-probe")
            self._set_state(ClientState.READ_ONLY)
            return
        self._seen_rw = True
        self._set_state(ClientState.CONNECTED if first else ClientState.RECONNECTED)

    def _connection_lost(self, proto: _Protocol) -> None:
        if self._proto is proto:
            self._proto = None
        self.history.disconnected()
        for task in (self._ping_task, self._rw_task):
            if task is not None:
                task.cancel()
        self._ping_task = self._rw_task = None
        make: Callable[[str], KeeperError] = (
            ClientClosedError if self._closing else ConnectionLossError
        )
        for queue in (self._pending, self._auth_pending):
            while queue:
                _fail(queue.popleft(), make)
        if not self._closing and self.state.is_connected:
            self._set_state(ClientState.SUSPENDED)
            self._arm_lost_timer()

    def _arm_lost_timer(self) -> None:
        """Curator's TN12: SUSPENDED for longer than the session timeout means LOST."""
        self._cancel_lost_timer()
        if self.session_id and self._seen_rw:
            loop = asyncio.get_running_loop()
            timeout = self.negotiated_timeout or self.options.session_timeout
            self._lost_timer = loop.call_later(timeout, self._lost_by_timer)

    def _cancel_lost_timer(self) -> None:
        if self._lost_timer is not None:
            self._lost_timer.cancel()
            self._lost_timer = None

    def _lost_by_timer(self) -> None:
        self._lost_timer = None
        if self.state is ClientState.SUSPENDED and not self._closing:
            log.info("roost client: suspended for longer than the session timeout: LOST")
            self._expire()

    def _lease_from(self, sent_at: float) -> None:
        """A ping sent at `sent_at` was answered (or the session was created after it): the
        session lives at least until then plus the lease's span (`lease_span`)."""
        self._span = self._lease_span()
        self.lease_start = sent_at
        self.lease_deadline = sent_at + self._span

    def lease_remaining(self, now: float) -> float:
        """Seconds from `now` until `lease_deadline` (negative once it has passed, and with
        no session). Counted as the span less the time since `lease_start`, which never
        exceeds the span: ``lease_deadline - now`` came out one rounding step above it when
        no time had passed on the loop's clock (uvloop's counts whole milliseconds)."""
        if not self.lease_deadline:
            return -now
        return self._span - (now - self.lease_start)

    def _expire(self) -> None:
        """The session is gone: forget it and tell every watcher."""
        self._cancel_lost_timer()
        self.session_id = 0
        self._passwd = bytes(16)
        self.lease_deadline = self.lease_start = 0.0
        self._set_state(ClientState.LOST)
        for path, cb in self.watches.clear():
            self.dispatcher.submit(cb, WatchedEvent(EventType.NONE, KeeperState.EXPIRED, path))
        while self._queued:
            _fail(self._queued.popleft(), SessionExpiredError)

    async def close(self, timeout: float = 5.0) -> None:
        """Close the session (closeSession), the connection and the dispatcher."""
        if self.state is ClientState.CLOSED:
            return
        self._closing = True
        self._cancel_lost_timer()
        if self._proto is not None and self.state.is_writable:
            p = self._new_pending(Op.CLOSE_SESSION, Empty())
            self._send(p)
            try:
                assert p.future is not None
                await asyncio.wait_for(p.future, timeout)
            except (KeeperError, TimeoutError):
                pass
        if self._proto is not None:
            self._proto.abort()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        proto, self._proto = self._proto, None
        if proto is not None:
            self._connection_lost(proto)
        for queue in (self._queued, self._pending, self._auth_pending):
            while queue:
                _fail(queue.popleft(), ClientClosedError)
        self.history.closed()
        self._set_state(ClientState.CLOSED)
        await self.dispatcher.stop()

    # --- requests -----------------------------------------------------------------------
    def _new_pending(
        self, op: int, rec: Record, path: str = "", on_done: OnDone | None = None
    ) -> _Pending:
        self._xid = self._xid + 1 if self._xid < 0x7FFFFFFF else 1
        fut: asyncio.Future[Record | None] = asyncio.get_running_loop().create_future()
        return _Pending(self._xid, op, encode_request(self._xid, op, rec), fut, path, on_done)

    async def request(
        self, op: int, rec: Record, path: str = "", on_done: OnDone | None = None
    ) -> Record | None:
        """Send one request (now, or once connected) and return its decoded reply record.

        Raises the typed `KeeperError` for a server error, `ConnectionLossError` if the
        connection drops first, `SessionExpiredError` if the session is lost while the
        request waits, and `ClientClosedError` after `close()`.
        """
        if self._closing or self.state is ClientState.CLOSED:
            raise ClientClosedError(path)
        p = self._new_pending(op, rec, path, on_done)
        if self._proto is not None and self.state.is_connected:
            self._send(p)
        else:
            self._queued.append(p)
        assert p.future is not None
        return await p.future

    def drop_connection(self) -> None:
        """Leave the current connection now (the client reconnects)."""
        proto = self._proto
        if proto is not None:
            proto.abort()
            self._connection_lost(proto)

    @property
    def can_send(self) -> bool:
        return self._proto is not None and self.state.is_connected and not self._closing

    def send_untracked(self, op: int, rec: Record) -> int:
        """Send a request whose reply nobody awaits (handled in `_on_frame`); its xid."""
        p = self._new_pending(op, rec)
        p.future = None
        self._send(p)
        return p.xid

    def _send(self, p: _Pending) -> None:
        proto = self._proto
        assert proto is not None
        now = proto.loop.time()
        p.sent_at = now
        (self._auth_pending if p.xid == Xid.AUTH else self._pending).append(p)
        proto.write(p.frame)
        self._last_send = now

    def _auth_packet(
        self, scheme: str, cred: bytes, fut: asyncio.Future[Record | None] | None
    ) -> _Pending:
        frame = encode_request(Xid.AUTH, Op.AUTH, AuthPacket(0, scheme, cred))

        def done(err: int) -> None:
            if err not in (Err.OK, Err.CONNECTION_LOSS) and (scheme, cred) in self._auth:
                log.warning("roost client: auth %s rejected (%d); credential dropped", scheme, err)
                self._auth.remove((scheme, cred))

        return _Pending(Xid.AUTH, Op.AUTH, frame, fut, "", done)

    async def add_auth(self, scheme: str, credential: bytes) -> None:
        """Authenticate this connection and every later one (the server keeps auth per TCP)."""
        if self._closing or self.state is ClientState.CLOSED:
            raise ClientClosedError()
        if (scheme, credential) not in self._auth:
            self._auth.append((scheme, credential))
        if self._proto is None or not self.state.is_connected:
            return  # sent right after the next handshake
        fut: asyncio.Future[Record | None] = asyncio.get_running_loop().create_future()
        self._send(self._auth_packet(scheme, credential, fut))
        await fut

    def _send_set_watches(self) -> None:
        reg = self.watches
        if not reg:
            return
        kinds = [WatchKind.DATA, WatchKind.EXIST, WatchKind.CHILD]
        v2 = reg.has_persistent()
        if v2:
            kinds += [WatchKind.PERSISTENT, WatchKind.RECURSIVE]
        lists: list[list[str]] = [[] for _ in kinds]
        size = 0
        for i, kind in enumerate(kinds):
            for path in reg.paths(kind):
                sp = self.server_path(path)
                lists[i].append(sp)
                size += len(sp) + 4
                if size >= SET_WATCHES_CHUNK:
                    self._send_watch_lists(v2, lists)
                    lists, size = [[] for _ in kinds], 0
        if size:
            self._send_watch_lists(v2, lists)

    def _send_watch_lists(self, v2: bool, lists: list[list[str]]) -> None:
        z = self.last_zxid
        rec: Record = SetWatches2(z, *lists) if v2 else SetWatches(z, *lists)

        def done(err: int) -> None:
            if err != Err.OK:
                log.warning("roost client: setWatches failed with %d", err)

        p = self._new_pending(Op.SET_WATCHES2 if v2 else Op.SET_WATCHES, rec, "", done)
        p.future = None
        self._send(p)

    # --- incoming -----------------------------------------------------------------------
    def _on_frame(self, proto: _Protocol, body: bytes) -> None:
        if proto is not self._proto:
            return
        xid, zxid, err = decode_reply_header(body)
        self._last_recv = proto.loop.time()
        if xid == Xid.NOTIFICATION:
            self._on_event(WatcherEvent.read(Reader(body, 16)))
            return
        if zxid > self.last_zxid:
            self.last_zxid = zxid
        if xid == Xid.HISTORY:
            self.history.on_batch(zxid, body)
            return
        queue = self._auth_pending if xid == Xid.AUTH else self._pending
        if not queue or queue[0].xid != xid:
            head = queue[0].xid if queue else None
            raise ProtocolError(f"reply xid {xid} does not match the oldest request ({head})")
        p = queue.popleft()
        if (p.op == Op.PING and err == Err.OK and not self._read_only_link
                and p.sent_at > self.lease_start):
            # a member answers a ping only while a leader confirms the session alive
            self._lease_from(p.sent_at)
        if p.op == Op.WATCH_HISTORY and p.future is None:
            self.history.on_open_reply(p.xid, err, zxid, body)
            return
        if self.history and zxid > 0:
            self.history.progress(zxid)
        self._complete(p, err, body)

    def _complete(self, p: _Pending, err: int, body: bytes) -> None:
        fut = p.future
        rec: Record | None = None
        if err == Err.OK:
            rtype = OPS[p.op][1] if p.op in OPS else None
            if rtype is not None:
                try:
                    rec = rtype.read(Reader(body, 16))
                except ProtocolError:
                    self._queue_front(p)
                    raise
        if p.on_done is not None:
            p.on_done(err)
        if fut is None or fut.done():
            return
        if err != Err.OK:
            fut.set_exception(error_for(err, p.path))
        else:
            fut.set_result(rec)

    def _queue_front(self, p: _Pending) -> None:
        (self._auth_pending if p.xid == Xid.AUTH else self._pending).appendleft(p)

    def _on_event(self, ev: WatcherEvent) -> None:
        try:
            etype = EventType(ev.type)
            state = KeeperState(ev.state)
        except ValueError:
            log.warning("roost client: unknown watch event %r", ev)
            return
        path = self.client_path(ev.path)
        event = WatchedEvent(etype, state, path)
        for cb in self.watches.triggered(etype, path):
            self.dispatcher.submit(cb, event)

    # --- read-only mode -------------------------------------------------------------------
    async def _seek_rw(self, proto: _Protocol) -> None:
        """While READ_ONLY: look for a read-write server and move to it when found."""
        o = self.options
        delay = o.rw_probe_delay
        while self._proto is proto:
            await asyncio.sleep(delay)
            start = self.hosts.index(self.server) + 1 if self.server in self.hosts else 0
            order = self.hosts[start:] + self.hosts[:start]
            found = await find_rw_server(order, timeout=o.rw_probe_timeout)
            if found is not None and self._proto is proto:
                log.info("roost client: read-write server %s:%d found; moving there", *found)
                self._next_host = self.hosts.index(found)
                proto.abort()
                return
            delay = min(o.rw_probe_max_delay, delay * 2)

    # --- liveness -----------------------------------------------------------------------
    def _lease_span(self) -> float:
        return lease_span(self._lease_timeout, self.options.clock_drift)

    async def _pinger(self, proto: _Protocol) -> None:
        """Ping every third of the timeout, busy or not (a ping's answer renews the
        lease); drop the link if the server goes quiet."""
        loop = proto.loop
        interval = self.negotiated_timeout / 3
        read_timeout = self.negotiated_timeout * 2 / 3
        while self._proto is proto:
            now = loop.time()
            if now - self._last_recv > read_timeout:
                log.info("roost client: no reply from %s in %.1fs; reconnecting", self.server,
                         read_timeout)
                proto.abort()
                return
            if now - self._last_ping >= interval:
                ping = _Pending(Xid.PING, Op.PING, encode_request(Xid.PING, Op.PING), None)
                self._send(ping)
                self._last_ping = now
            wake = min(self._last_ping + interval, self._last_recv + read_timeout)
            await asyncio.sleep(max(0.005, wake - loop.time()))


def _fail(p: _Pending, make: Callable[[str], KeeperError]) -> None:
    if p.future is not None and not p.future.done():
        p.future.set_exception(make(p.path))


__all__ = ["Connection", "ConnectionOptions", "parse_hosts"]
