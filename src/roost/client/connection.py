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

The pieces it drives: `transport` (the TCP link and the handshake attempt), `inflight`
(requests by xid), `lease` (the session lease), `options` (timeouts, retry pauses),
`hosts` (the connect string), `watches` (the registry and its setWatches requests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from roost.client.errors import (
    ClientClosedError,
    ConnectionLossError,
    KeeperError,
    SessionExpiredError,
)
from roost.client.events import Callback, ClientState, Dispatcher, StateChange, WatchedEvent
from roost.client.history import HistoryStreams
from roost.client.hosts import failure_reason, format_addr
from roost.client.inflight import InFlight, OnDone, Pending
from roost.client.lease import Lease, lease_span  # lease_span: re-exported, named in docs
from roost.client.options import ConnectionOptions
from roost.client.rwprobe import find_rw_server
from roost.client.transport import Link, open_link
from roost.client.watches import WatchRegistry, set_watches_requests
from roost.wire.errors import Err, ProtocolError
from roost.wire.jute import Reader
from roost.wire.opcodes import EventType, KeeperState, Op, Xid
from roost.wire.protocol import decode_reply_header, encode_request
from roost.wire.records import (
    AuthPacket,
    ConnectRequest,
    ConnectResponse,
    Empty,
    Record,
    WatcherEvent,
)

log = logging.getLogger("roost.client")


class _SessionExpired(Exception):
    pass


class _Superseded(Exception):
    """The session changed (declared LOST) while a handshake for it was under way."""


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
        self.lease = Lease()
        self._read_only_link = False
        self._last_ping = 0.0
        self.server: tuple[str, int] | None = None
        self._passwd = bytes(16)
        self._auth: list[tuple[str, bytes]] = []
        self.inflight = InFlight()
        self._proto: Link | None = None
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

    @property
    def lease_deadline(self) -> float:
        """Until when the session is certainly alive (0 = no lease); see `Lease`."""
        return self.lease.deadline

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
        errors = self.connect_errors.items()
        return "; ".join(f"{format_addr(h)}: {failure_reason(e)}" for h, e in errors)

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
                    await asyncio.sleep(self.options.backoff(failures // len(self.hosts)))
                continue
            failures = 0
            self.connect_errors.clear()
            self.server = host
            self._established(proto, resp, sent_at)
            await proto.lost
            self._connection_lost(proto)
            if proto.loop.time() - sent_at < 1.0 and not self._closing:
                # A server that drops us right after the handshake must not cause a hot loop.
                await asyncio.sleep(self.options.backoff(1))

    async def _open(self, host: tuple[str, int]) -> tuple[Link, ConnectResponse, float]:
        o = self.options
        expected = sid = 0

        def hello() -> ConnectRequest:
            nonlocal expected, sid
            # Like ZooKeeper: a session only ever seen by read-only servers is local
            # to one of them, so a fresh one is asked for instead.
            expected = self.session_id
            sid = self.session_id if self._seen_rw else 0
            return ConnectRequest(
                0,
                self.last_zxid,
                int(o.session_timeout * 1000),
                sid,
                self._passwd if sid else bytes(16),
                o.read_only,
            )

        timeout = o.attempt_timeout(self.negotiated_timeout, len(self.hosts))
        proto, resp, sent_at = await open_link(host, timeout, self._on_frame, hello)
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

    def _established(self, proto: Link, resp: ConnectResponse, sent_at: float) -> None:
        loop = asyncio.get_running_loop()
        new_session = resp.sessionId != self.session_id
        self.session_id = resp.sessionId
        self._passwd = resp.passwd
        self.negotiated_timeout = resp.timeOut / 1000.0
        self._read_only_link = resp.readOnly
        self.lease.established(new_session, self.negotiated_timeout, resp.readOnly, sent_at,
                               self.options.clock_drift)
        self._proto = proto
        self._last_send = self._last_recv = self._last_ping = loop.time()
        for scheme, cred in list(self._auth):
            self._send(self._auth_packet(scheme, cred, None))
        self._send_set_watches()
        self.history.connected()
        queued = self.inflight.queued
        while queued:
            p = queued.popleft()
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

    def _connection_lost(self, proto: Link) -> None:
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
        self.inflight.fail_sent(make)
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

    def lease_remaining(self, now: float) -> float:
        """Seconds from `now` until `lease_deadline` (`Lease.remaining`)."""
        return self.lease.remaining(now)

    def _expire(self) -> None:
        """The session is gone: forget it and tell every watcher."""
        self._cancel_lost_timer()
        self.session_id = 0
        self._passwd = bytes(16)
        self.lease.clear()
        self._set_state(ClientState.LOST)
        for path, cb in self.watches.clear():
            self.dispatcher.submit(cb, WatchedEvent(EventType.NONE, KeeperState.EXPIRED, path))
        self.inflight.fail_queued(SessionExpiredError)

    async def close(self, timeout: float = 5.0) -> None:
        """Close the session (closeSession), the connection and the dispatcher."""
        if self.state is ClientState.CLOSED:
            return
        self._closing = True
        self._cancel_lost_timer()
        if self._proto is not None and self.state.is_writable:
            p = self.inflight.new(Op.CLOSE_SESSION, Empty())
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
        self.inflight.fail_queued(ClientClosedError)
        self.inflight.fail_sent(ClientClosedError)
        self.history.closed()
        self._set_state(ClientState.CLOSED)
        await self.dispatcher.stop()

    # --- requests -----------------------------------------------------------------------
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
        p = self.inflight.new(op, rec, path, on_done)
        if self._proto is not None and self.state.is_connected:
            self._send(p)
        else:
            self.inflight.queued.append(p)
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
        p = self.inflight.new(op, rec)
        p.future = None
        self._send(p)
        return p.xid

    def _send(self, p: Pending) -> None:
        proto = self._proto
        assert proto is not None
        now = proto.loop.time()
        p.sent_at = now
        self.inflight.sent(p)
        proto.write(p.frame)
        self._last_send = now

    def _auth_packet(
        self, scheme: str, cred: bytes, fut: asyncio.Future[Record | None] | None
    ) -> Pending:
        frame = encode_request(Xid.AUTH, Op.AUTH, AuthPacket(0, scheme, cred))

        def done(err: int) -> None:
            if err not in (Err.OK, Err.CONNECTION_LOSS) and (scheme, cred) in self._auth:
                log.warning("roost client: auth %s rejected (%d); credential dropped", scheme, err)
                self._auth.remove((scheme, cred))

        return Pending(Xid.AUTH, Op.AUTH, frame, fut, "", done)

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
        def done(err: int) -> None:
            if err != Err.OK:
                log.warning("roost client: setWatches failed with %d", err)

        for op, rec in set_watches_requests(self.watches, self.server_path, self.last_zxid):
            p = self.inflight.new(op, rec, "", done)
            p.future = None
            self._send(p)

    # --- incoming -----------------------------------------------------------------------
    def _on_frame(self, proto: Link, body: bytes) -> None:
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
        p = self.inflight.reply_to(xid)
        self.lease.answered(p.op, err, self._read_only_link, p.sent_at, self.options.clock_drift)
        if p.op == Op.WATCH_HISTORY and p.future is None:
            self.history.on_open_reply(p.xid, err, zxid, body)
            return
        if self.history and zxid > 0:
            self.history.progress(zxid)
        self.inflight.complete(p, err, body)

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
    async def _seek_rw(self, proto: Link) -> None:
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
    async def _pinger(self, proto: Link) -> None:
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
                ping = Pending(Xid.PING, Op.PING, encode_request(Xid.PING, Op.PING), None)
                self._send(ping)
                self._last_ping = now
            wake = min(self._last_ping + interval, self._last_recv + read_timeout)
            await asyncio.sleep(max(0.005, wake - loop.time()))


__all__ = ["Connection", "lease_span"]
