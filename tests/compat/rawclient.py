"""A small blocking ZooKeeper client built on `roost.wire`, for what kazoo 2.11 cannot send.

It does the handshake, sends requests (or arbitrary bytes), reads replies in order and
collects watch notifications (xid -1) that arrive in between. It never pings: keep the
session timeout longer than the test.
"""

from __future__ import annotations

import contextlib
import socket
import time
from dataclasses import dataclass

from roost.wire.errors import ProtocolError
from roost.wire.jute import INT
from roost.wire.opcodes import Op, Xid
from roost.wire.protocol import OPS, FrameBuffer, decode_reply_header, encode_frame, encode_request
from roost.wire.records import (
    ConnectRequest,
    ConnectResponse,
    Empty,
    Record,
    WatcherEvent,
)

#: Large enough for any reply the tests provoke (kazoo-style: no receive limit).
MAX_REPLY = 64 * 1024 * 1024


class ConnectionClosed(Exception):
    """The server closed the connection."""


@dataclass(frozen=True)
class Reply:
    xid: int
    zxid: int
    err: int
    #: the whole frame body (16-byte header + record), for byte-layout checks
    body: bytes
    #: the decoded response record (None on error or for empty responses)
    record: Record | None


class RawClient:
    """One TCP connection speaking the client protocol, synchronously."""

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.sock: socket.socket | None = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._frames = FrameBuffer(max_frame=MAX_REPLY)
        self._pending: list[bytes] = []
        self._xid = 0
        self.events: list[WatcherEvent] = []
        self.session_id = 0
        self.passwd = b"\x00" * 16
        self.negotiated_timeout = 0
        self.last_zxid = 0
        #: the raw ConnectResponse body, for layout checks
        self.connect_body = b""

    # --- handshake ---------------------------------------------------------------------

    def connect(
        self,
        session_id: int = 0,
        passwd: bytes = b"\x00" * 16,
        timeout_ms: int = 30000,
        last_zxid: int = 0,
        read_only_byte: bool = True,
    ) -> ConnectResponse:
        """Send a ConnectRequest and read the ConnectResponse (raises if the socket closes)."""
        req = ConnectRequest(0, last_zxid, timeout_ms, session_id, passwd, False, read_only_byte)
        self.send_bytes(encode_frame(req))
        body = self.read_frame()
        resp = ConnectResponse.from_bytes(body)
        self.connect_body = body
        self.session_id = resp.sessionId
        self.passwd = resp.passwd
        self.negotiated_timeout = resp.timeOut
        return resp

    # --- sending -----------------------------------------------------------------------

    def next_xid(self) -> int:
        self._xid += 1
        return self._xid

    def send_bytes(self, data: bytes) -> None:
        if self.sock is None:
            raise ConnectionClosed("socket already closed")
        self.sock.sendall(data)

    def send(self, op: int, rec: Record | None = None, xid: int | None = None) -> int:
        """Send one request without waiting; returns its xid."""
        xid = self.next_xid() if xid is None else xid
        self.send_bytes(encode_request(xid, op, rec if rec is not None else Empty()))
        return xid

    def request(
        self, op: int, rec: Record | None = None, xid: int | None = None,
        timeout: float | None = None,
    ) -> Reply:
        """Send one request and return its reply (notifications in between are collected)."""
        sent = self.send(op, rec, xid)
        return self.read_reply(op, expect_xid=sent, timeout=timeout)

    def close_session(self) -> Reply:
        return self.request(Op.CLOSE_SESSION)

    # --- receiving ---------------------------------------------------------------------

    def _recv_frames(self, deadline: float) -> None:
        if self.sock is None:
            raise ConnectionClosed("socket already closed")
        left = max(deadline - time.monotonic(), 0.001)
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(1 << 20)
        except ConnectionResetError:
            data = b""
        except TimeoutError:
            raise TimeoutError("no frame from the server before the deadline") from None
        if not data:
            raise ConnectionClosed("server closed the connection")
        self._pending.extend(self._frames.feed(data))

    def read_frame(self, timeout: float | None = None) -> bytes:
        """The next frame body from the server (raw, notifications included)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self._pending:
            self._recv_frames(deadline)
        return self._pending.pop(0)

    def read_reply(self, op: int, expect_xid: int | None = None, timeout: float | None = None
                   ) -> Reply:
        """Read frames until a non-notification reply; decode it as the reply to `op`."""
        while True:
            body = self.read_frame(timeout)
            xid, zxid, err = decode_reply_header(body)
            if xid == Xid.NOTIFICATION:
                self.events.append(WatcherEvent.from_bytes(body[16:]))
                continue
            if xid == Xid.PING:
                continue
            if expect_xid is not None and xid != expect_xid:
                raise ProtocolError(f"reply xid {xid}, expected {expect_xid}")
            if zxid > 0:
                self.last_zxid = max(self.last_zxid, zxid)
            return Reply(xid, zxid, err, body, self._decode(op, err, body))

    @staticmethod
    def _decode(op: int, err: int, body: bytes) -> Record | None:
        if err != 0 or len(body) == 16:
            return None
        entry = OPS.get(op)
        if entry is None or entry[1] is None:
            return None
        return entry[1].from_bytes(body[16:])

    def wait_events(self, count: int, timeout: float = 10.0) -> list[WatcherEvent]:
        """Wait until at least `count` notifications were collected; return them all."""
        deadline = time.monotonic() + timeout
        while len(self.events) < count:
            if self._pending:
                body = self._pending.pop(0)
                xid, _, _ = decode_reply_header(body)
                if xid != Xid.NOTIFICATION:
                    raise ProtocolError(f"unexpected reply xid {xid} while waiting for events")
                self.events.append(WatcherEvent.from_bytes(body[16:]))
                continue
            try:
                if time.monotonic() >= deadline:
                    raise TimeoutError
                self._recv_frames(deadline)
            except TimeoutError:
                raise AssertionError(f"expected {count} events, got {self.events!r}") from None
        return list(self.events)

    def ping(self) -> Reply:
        """A ping round trip: a barrier proving all earlier notifications were read."""
        self.send(Op.PING, None, xid=Xid.PING)
        while True:
            body = self.read_frame()
            xid, zxid, err = decode_reply_header(body)
            if xid == Xid.NOTIFICATION:
                self.events.append(WatcherEvent.from_bytes(body[16:]))
                continue
            if xid != Xid.PING:
                raise ProtocolError(f"reply xid {xid}, expected a ping reply")
            return Reply(xid, zxid, err, body, None)

    def wait_closed(self, timeout: float = 10.0) -> bytes:
        """Wait until the server closes the socket; return any bytes received before that."""
        if self.sock is None:
            return b""
        deadline = time.monotonic() + timeout
        received = bytearray()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("the server did not close the connection")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            except TimeoutError:
                continue
            if not data:
                return bytes(received)
            received += data

    def shutdown(self) -> None:
        """Close the session if the connection still works, then the socket.

        Used at the end of tests so sessions (and their ephemerals) do not linger until
        they time out in the middle of later tests.
        """
        if self.sock is not None and self.session_id:
            with contextlib.suppress(OSError, ConnectionClosed, ProtocolError):
                self.request(Op.CLOSE_SESSION, timeout=2.0)
        self.close()

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def frame(body: bytes) -> bytes:
    """Length-prefix an arbitrary body."""
    return INT.pack(len(body)) + body
