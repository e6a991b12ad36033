"""One client connection: the asyncio host of `roost.wire.session.ClientProtocol`.

The protocol object holds the rules (handshake, request order, reply order, read-only
mode, flow control, malformed input); this class moves bytes between it and the socket,
schedules one flush per loop iteration, pauses reading while the object is paused, and
hands the object's events to the server's request pipeline (`roost.server.requests`,
handed in by the server: see `ConnectionHost`). It also keeps the per-connection figures
the four-letter words print.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Protocol, cast

from roost.server import clock
from roost.server.clienttls import x509_ids
from roost.server.host import ServerHost
from roost.server.sasl import DigestMd5Server
from roost.tree.acl import check_acl
from roost.wire.opcodes import KeeperState, Perm
from roost.wire.protocol import encode_event
from roost.wire.records import ACL, Id
from roost.wire.session import (
    ABORT,
    PROCESS,
    WAIT,
    ClientProtocol,
    Event,
    ProtocolViolation,
    Request,
    Slot,
    Thunk,
)

if TYPE_CHECKING:
    pass

__all__ = ["Connection", "ConnectionHost", "Slot", "Thunk"]

log = logging.getLogger("roost.connection")
_READ = int(Perm.READ)


@functools.lru_cache(maxsize=256)
def _event_frame(ev_type: int, path: str) -> bytes:
    """The notification frame for an event: one change fires the same frame to every
    watcher of the node, so it is encoded once, not once per connection."""
    return encode_event(ev_type, KeeperState.SYNC_CONNECTED, path)


class ConnectionHost(ServerHost, Protocol):
    """What a connection needs of its server (`roost.server.core.Server`): the settings,
    tree and log, the event loop, admission, liveness grants, the figures it adds to, and
    the request pipeline it hands the protocol's events to."""

    packets_received: int
    packets_sent: int
    lat_min: float
    lat_max: float
    lat_sum: float
    lat_count: int

    @property
    def loop(self) -> asyncio.AbstractEventLoop: ...
    @property
    def event_loop(self) -> asyncio.AbstractEventLoop: ...
    @property
    def four_letter_commands(self) -> Collection[str]:
        """The four-letter words the server answers (the protocol object recognises them)."""
    @property
    def dispatch(self) -> Callable[[Connection, Request], None]:
        """Answers a request (`roost.server.requests.dispatch`, bound to the server)."""
    @property
    def handle_event(self) -> Callable[[Connection, Event], int]:
        """Everything but a plain request (`roost.server.requests.handle_event`, bound to
        the server); returns 1 if it counts as the session's activity."""

    def admit(self, conn: Connection) -> bool: ...
    def connection_closed(self, conn: Connection) -> None: ...
    def touch(self, session_id: int) -> None: ...
    def hold(
        self, conn: Connection, sid: int, timeout_ms: int, answer: Callable[[], None],
        give_up: float | None = None,
    ) -> float: ...


class Connection(asyncio.Protocol):
    def __init__(self, server: ConnectionHost) -> None:
        self.server = server
        cfg = server.config
        self.transport: asyncio.Transport | None = None
        log_ = server.log
        ensemble = log_ is not None and log_.ensemble
        self.proto = proto = ClientProtocol(
            lambda: server.tree.last_zxid,
            max_frame=cfg.max_frame_bytes,
            high_water=cfg.outgoing_high_water,
            hard_limit=cfg.outgoing_hard_limit,
            four_letter_words=server.four_letter_commands,
            on_output=self._schedule_flush,
            # a member answers a session only under a leader's liveness grant
            may_send=self._may_send if ensemble else None,
        )
        # replies in request order (see roost.wire.session.ReplyQueue)
        self.reply = proto.reply
        self.reply_later = proto.reply_later
        self.reserve = proto.reserve
        self.complete = proto.complete
        #: a frame that skips the reply queue (a notification, a stream's events)
        self.write_raw = proto.notify
        self.ip = "?"
        self.port = 0
        #: the SASL exchange in progress or done on this connection
        self.sasl: DigestMd5Server | None = None
        self.handshaken = False
        self.session_id = 0
        #: when the batch of requests being handled arrived (latencies count from there)
        self.batch_started = 0.0
        self.timeout_ms = 0
        self.closing_session = False
        self.closed = False
        #: whether a write proposed from this connection may be dropped unsent (the log
        #: asks when it would resend it): once the connection is gone (made once, not
        #: per write)
        self.abandoned = lambda: self.closed
        self._flush_scheduled = False
        self._reading_paused = False
        #: output held for want of a liveness grant: waiting for one, and when the wait
        #: ends in a close (kept across grants that came too late to open the gate)
        self._holding = False
        self._give_up: float | None = None
        self._granted_until = -math.inf
        # statistics for the four-letter words
        self.established = time.time()
        self.last_op = "NA"
        self.last_cxid = 0
        self.last_zxid = 0
        self.last_latency = 0.0
        self.lat_min = 0.0
        self.lat_max = 0.0
        self.lat_sum = 0.0
        self.lat_count = 0

    # --- what the protocol object holds ----------------------------------------------------
    @property
    def auth(self) -> tuple[Id, ...]:
        """The identities of this connection (a tuple: handed to every request as is)."""
        return self.proto.auth

    @property
    def read_only(self) -> bool:
        return self.proto.read_only

    @property
    def slots(self) -> deque[Slot]:
        return self.proto.queue.slots

    @property
    def received(self) -> int:
        return self.proto.frames_in

    @property
    def sent(self) -> int:
        return self.proto.frames_out

    # --- asyncio.Protocol ----------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, hence the cast
        self.transport = tr = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        if peer:
            self.ip, self.port = peer[0], peer[1]
        cfg = self.server.config
        tr.set_write_buffer_limits(high=cfg.outgoing_high_water)
        auth: tuple[Id, ...] = (Id("ip", self.ip),)
        tls = transport.get_extra_info("ssl_object")
        if tls is not None:
            auth += x509_ids(tls.getpeercert(), cfg.tls_super_user)
        self.proto.auth = auth
        if not self.server.admit(self):
            log.warning(
                "too many connections from %s (max %d): closing",
                self.ip,
                cfg.max_client_connections,
            )
            self.closed = True
            self.proto.abort("too many connections")
            tr.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.proto.abort("connection lost")
        self.server.connection_closed(self)

    def pause_writing(self) -> None:
        # The client is not reading what we send: stop taking its requests until it does.
        self.proto.peer_paused(True)

    def resume_writing(self) -> None:
        self.proto.peer_paused(False)
        if not self.closed:
            self._process()

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        self.proto.receive_data(data)
        self._process()

    def _process(self) -> None:
        """Hand the protocol's events to the server until it has none (or pauses)."""
        proto, server = self.proto, self.server
        self.batch_started = time.monotonic()
        received = proto.frames_in
        dispatched = 0
        next_event, dispatch, handle = proto.next_event, server.dispatch, server.handle_event
        while (ev := next_event()) is not None:
            if type(ev) is Request:
                dispatch(self, ev)
                dispatched += 1
            elif type(ev) is ProtocolViolation:
                log.warning("closing connection from %s:%d: %s", self.ip, self.port, ev.reason)
                self.abort()
            else:
                dispatched += handle(self, ev)
            if self.closed:
                break
        server.packets_received += proto.frames_in - received
        if dispatched and self.handshaken:
            server.touch(self.session_id)  # once per batch of requests, not per request
        if self.closed or self.transport is None:
            return
        if proto.paused and proto.pending:
            if not self._reading_paused:
                self._reading_paused = True
                self.transport.pause_reading()
                self._stall_check(proto.frames_in)
        elif self._reading_paused:
            self._reading_paused = False
            self.transport.resume_reading()

    # --- notifications ----------------------------------------------------------------
    def notify(self, ev_type: int, path: str, acl: tuple[ACL, ...]) -> None:
        if self.closed:
            return
        if acl and not check_acl(acl, _READ, self.proto.auth):
            return
        self.proto.notify(_event_frame(ev_type, path))

    # --- output -----------------------------------------------------------------------
    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.server.event_loop.call_soon(self.flush)

    def flush(self) -> None:
        self._flush_scheduled = False
        proto, tr = self.proto, self.transport
        if self.closed or tr is None:
            return
        out = proto.drain()
        if out:
            self._give_up = None
            self.server.packets_sent += len(out)
            tr.write(out[0] if len(out) == 1 else b"".join(out))
        elif proto.held:
            self._hold_output()
            return
        then = proto.peer_buffered(tr.get_write_buffer_size())
        if then == WAIT:
            return
        if then == ABORT:
            log.warning(
                "closing connection from %s:%d: %s", self.ip, self.port, proto.abort_reason
            )
            self.abort()
            return
        if then == PROCESS:  # requests held back by flow control
            self._process()
        if proto.closing and not self.closed:
            self.closed = True
            tr.close()

    def _stall_check(self, received: int) -> None:
        """Disconnect a client that has read none of its replies for a session timeout."""
        delay = (self.timeout_ms or self.server.config.max_session_timeout) / 1000.0

        def check() -> None:
            if not self.closed and self._reading_paused and self.received == received:
                log.warning(
                    "closing connection from %s:%d: replies not read for %.1fs",
                    self.ip,
                    self.port,
                    delay,
                )
                self.abort()
            elif not self.closed and self._reading_paused:
                self._stall_check(self.received)

        self.server.loop.call_later(delay, check)

    def _may_send(self) -> bool:
        """The output gate of an ensemble member's read-write session: only under a
        liveness grant (a closed session's last reply goes out regardless). The grant's
        end is kept here, so the usual case costs one clock read."""
        now = clock.monotonic()
        if now < self._granted_until:
            return True
        log = self.server.log
        if self.closing_session or log is None:
            return True
        until = log.granted_until(self.session_id)
        if until != math.inf:  # (not gating now: asked again each time, it may resume)
            self._granted_until = until
        return now < until

    def _hold_output(self) -> None:
        """No grant now: the output waits for one; after L without one the connection is
        closed (this member may be cut off; the client moves to another). A connection
        that was closing anyway is aborted at once (its last answers are not sent)."""
        if self.proto.closing:
            self.abort()
            return
        if not self._holding:
            self._holding = True
            self._give_up = self.server.hold(
                self, self.session_id, self.timeout_ms, self._output_granted, self._give_up)

    def _output_granted(self) -> None:
        self._holding = False
        self._schedule_flush()

    def resume(self) -> None:
        """Take the requests held back while the session was being created."""
        if not self.closed:
            self._process()

    def close_after_flush(self) -> None:
        self.proto.close_after_flush()

    def abort(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.proto.abort("aborted by the server")
            self.transport.abort()

    def record_latency(self, started: float) -> float:
        """Count one answered write in this connection's and the server's latency figures;
        returns the seconds since `started`."""
        seconds = time.monotonic() - started
        ms = seconds * 1000.0
        self.last_latency = ms
        for stats in (self, self.server):
            if stats.lat_count == 0 or ms < stats.lat_min:
                stats.lat_min = ms
            if ms > stats.lat_max:
                stats.lat_max = ms
            stats.lat_sum += ms
            stats.lat_count += 1
        return seconds
