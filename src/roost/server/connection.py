"""One client connection: framing, four-letter words, in-order replies, flow control.

Replies leave in request order (ZooKeeper's per-connection FIFO). A reply that is
known at once is written at once when nothing is queued ahead of it; otherwise it
takes a slot in `slots`: a write waits for its commit, and a read queued behind a
write is evaluated only when it reaches the head, so it observes that write.
Watch notifications bypass the queue: they are written as soon as the change is
applied, so they precede the reply of any later request that observes the change.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from roost.server.clienttls import x509_ids
from roost.server.sasl import DigestMd5Server
from roost.tree.acl import check_acl
from roost.wire.errors import ProtocolError
from roost.wire.opcodes import KeeperState, Perm
from roost.wire.protocol import FrameBuffer, encode_event
from roost.wire.records import ACL, Id

if TYPE_CHECKING:
    from roost.server.core import Server

log = logging.getLogger("roost.connection")
_READ = int(Perm.READ)


@functools.lru_cache(maxsize=256)
def _event_frame(ev_type: int, path: str) -> bytes:
    """The notification frame for an event: one change fires the same frame to every
    watcher of the node, so it is encoded once, not once per connection."""
    return encode_event(ev_type, KeeperState.SYNC_CONNECTED, path)

Thunk = Callable[[], bytes]


class Slot:
    """A queued reply: ready bytes, or a thunk evaluated at the head of the queue."""

    __slots__ = ("frame", "thunk")

    def __init__(self, frame: bytes | None = None, thunk: Thunk | None = None) -> None:
        self.frame = frame
        self.thunk = thunk


class Connection(asyncio.Protocol):
    def __init__(self, server: Server) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.frames = FrameBuffer(server.config.max_frame_bytes)
        self.ip = "?"
        self.port = 0
        #: the identities of this connection (a tuple: handed to every request as is)
        self.auth: tuple[Id, ...] = ()
        #: the SASL exchange in progress or done on this connection
        self.sasl: DigestMd5Server | None = None
        self.handshaken = False
        self.session_id = 0
        #: when the batch of requests being handled arrived (latencies count from there)
        self.batch_started = 0.0
        self.timeout_ms = 0
        self.waiting_connect = False
        self.closing_session = False
        self.read_only = False
        self.backlog: list[bytes] = []
        self.slots: deque[Slot] = deque()
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._probe = b""
        self._probing = True
        self.closed = False
        self._close_after_flush = False
        self._reading_paused = False
        self._write_paused = False
        self._inbox: deque[bytes] = deque()
        self._out_size = 0
        # statistics for the four-letter words
        self.received = 0
        self.sent = 0
        self.established = time.time()
        self.last_op = "NA"
        self.last_cxid = 0
        self.last_zxid = 0
        self.last_latency = 0.0
        self.lat_min = 0.0
        self.lat_max = 0.0
        self.lat_sum = 0.0
        self.lat_count = 0

    # --- asyncio.Protocol ----------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, hence the cast
        self.transport = tr = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        if peer:
            self.ip, self.port = peer[0], peer[1]
        cfg = self.server.config
        tr.set_write_buffer_limits(high=cfg.outgoing_high_water)
        self.auth = (Id("ip", self.ip),)
        tls = transport.get_extra_info("ssl_object")
        if tls is not None:
            self.auth += x509_ids(tls.getpeercert(), cfg.tls_super_user)
        if not self.server.admit(self):
            log.warning(
                "too many connections from %s (max %d): closing",
                self.ip,
                cfg.max_client_connections,
            )
            self.closed = True
            tr.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.connection_closed(self)

    def pause_writing(self) -> None:
        # The client is not reading what we send: stop taking its requests until it does.
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if not self.closed:
            self._process()

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        if self._probing:
            self._probe += data
            if len(self._probe) < 4:
                return
            self._probing = False
            data, self._probe = self._probe, b""
            cmd = data[:4].decode("latin-1")
            if self.server.is_four_letter_word(cmd):
                self.write_raw(self.server.four_letter(cmd).encode())
                self.close_after_flush()
                return
        try:
            self._inbox.extend(self.frames.feed(data))
        except ProtocolError as e:
            log.warning("closing connection from %s:%d: %s", self.ip, self.port, e)
            self.abort()
            return
        self._process()

    def _process(self) -> None:
        """Handle queued frames until none are left or the client is not reading replies."""
        inbox, server = self._inbox, self.server
        self.batch_started = time.monotonic()
        high = server.config.outgoing_high_water
        dispatched = 0
        while inbox:
            if self.closed or self._close_after_flush:
                inbox.clear()
                return
            if self._write_paused or self._out_size > high:
                if not self._reading_paused and self.transport is not None:
                    self._reading_paused = True
                    self.transport.pause_reading()
                    self._stall_check(self.received)
                return
            body = inbox.popleft()
            self.received += 1
            server.packets_received += 1
            if self.waiting_connect:
                self.backlog.append(body)
            elif not self.handshaken:
                server.handle_connect(self, body)
            else:
                server.dispatch(self, body)
                dispatched += 1
        if dispatched and self.handshaken:
            server.touch(self.session_id)  # once per batch of requests, not per request
        if self._reading_paused and self.transport is not None and not self.closed:
            self._reading_paused = False
            self.transport.resume_reading()

    # --- replies in order ----------------------------------------------------------
    def reply(self, frame: bytes) -> None:
        if self.slots:
            self.slots.append(Slot(frame))
        else:
            self.write_raw(frame)

    def reply_later(self, thunk: Thunk) -> None:
        """A read: evaluated now if nothing is queued ahead of it, else at its turn."""
        if self.slots:
            self.slots.append(Slot(None, thunk))
        else:
            self.write_raw(thunk())

    def reserve(self) -> Slot:
        slot = Slot()
        self.slots.append(slot)
        return slot

    def complete(self, slot: Slot, frame: bytes) -> None:
        slot.frame = frame
        slots = self.slots
        while slots:
            head = slots[0]
            if head.frame is not None:
                out = head.frame
            elif head.thunk is not None:
                out = head.thunk()
            else:
                break
            slots.popleft()
            self.write_raw(out)

    def run_backlog(self) -> None:
        frames, self.backlog = self.backlog, []
        if frames:
            self.server.touch(self.session_id)
        for body in frames:
            if self.closed:
                return
            self.server.dispatch(self, body)

    # --- notifications ----------------------------------------------------------------
    def notify(self, ev_type: int, path: str, acl: tuple[ACL, ...]) -> None:
        if self.closed:
            return
        if acl and not check_acl(acl, _READ, self.auth):
            return
        self.write_raw(_event_frame(ev_type, path))

    # --- output -----------------------------------------------------------------------
    def write_raw(self, frame: bytes) -> None:
        if self.closed:
            return
        self._out.append(frame)
        self._out_size += len(frame)
        if self._out_size > self.server.config.outgoing_hard_limit:
            self._overflow()
            return
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.server.event_loop.call_soon(self.flush)

    def flush(self) -> None:
        self._flush_scheduled = False
        if self.closed or self.transport is None:
            return
        out = self._out
        if out:
            self.sent += len(out)
            self.server.packets_sent += len(out)
            self.transport.write(out[0] if len(out) == 1 else b"".join(out))
            out.clear()
            self._out_size = 0
        if self.transport.get_write_buffer_size() > self.server.config.outgoing_hard_limit:
            self._overflow()
            return
        if self._inbox and not self._write_paused:
            self._process()
        if self._close_after_flush:
            self.closed = True
            self.transport.close()

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

    def _overflow(self) -> None:
        queued = self._out_size + (self.transport.get_write_buffer_size() if self.transport else 0)
        log.warning(
            "closing connection from %s:%d: client does not read its replies (%d bytes queued)",
            self.ip,
            self.port,
            queued,
        )
        self._out.clear()
        self._out_size = 0
        self.abort()

    def close_after_flush(self) -> None:
        self._close_after_flush = True
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.server.event_loop.call_soon(self.flush)

    def abort(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
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
