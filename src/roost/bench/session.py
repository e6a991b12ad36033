"""One ZooKeeper session on one TCP connection, driven request by request or pipelined."""

from __future__ import annotations

import asyncio
import contextlib
import math
import struct
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from roost.wire.errors import Err
from roost.wire.opcodes import Op, Xid
from roost.wire.protocol import FrameBuffer, decode_reply_header, encode_frame, encode_request
from roost.wire.records import ConnectRequest, ConnectResponse, Record

#: replies up to this size are accepted (a getChildren of a big base node during cleanup)
MAX_REPLY = 64 * 1024 * 1024
READ_CHUNK = 256 * 1024
_LEN = struct.Struct(">i")

Req = tuple[int, Record]


class BenchError(Exception):
    """The server misbehaved so that the run cannot go on (xid order, closed, stall)."""


@dataclass
class Plan:
    """The timed requests of one session for one workload."""

    reqs: list[Req]
    #: error codes that count as success for every request of the plan
    ok: frozenset[int] = frozenset({0})
    #: per request: the data a getData must return (None: no content check)
    checks: list[bytes | None] | None = None
    #: for create: the path of each request, to track which nodes exist
    created: list[str] = field(default_factory=list)


@dataclass
class PipeResult:
    latencies_ns: list[int]
    completed: int
    errors: dict[int, int]
    check_failures: int
    capped: bool
    #: open loop: requests that fell due while the session was at its depth cap
    backlogged: int = 0
    #: open loop: per request not backlogged, actual send time minus scheduled send time
    lags_ns: list[int] = field(default_factory=list)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def err_name(err: int) -> str:
    try:
        return f"{Err(err).name} ({err})"
    except ValueError:
        return str(err)


def getdata_payload(body: bytes) -> bytes | None:
    """The data field of a GetDataResponse body (after the reply header); None if absent."""
    if len(body) < 4:
        return None
    (n,) = _LEN.unpack_from(body, 0)
    if n < 0:
        return b""
    return body[4 : 4 + n]


class Session:
    """A session: handshake, single calls, pipelined runs, pings and close."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stall_seconds: float
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.stall_seconds = stall_seconds
        self.session_id = 0
        self.timeout_ms = 0
        self.frames = FrameBuffer(MAX_REPLY)
        self.ready: deque[bytes] = deque()
        self.xid = 0
        #: notification bodies seen while waiting for replies
        self.events: deque[bytes] = deque()

    @classmethod
    async def open(cls, host: str, port: int, timeout_ms: int, stall_seconds: float) -> Session:
        """Connect and run the handshake (a new session, no readOnly)."""
        conn = asyncio.open_connection(host, port)
        reader, writer = await asyncio.wait_for(conn, stall_seconds)
        self = cls(reader, writer, stall_seconds)
        writer.write(encode_frame(ConnectRequest(0, 0, timeout_ms, 0, bytes(16), False)))
        try:
            resp = ConnectResponse.from_bytes(await self.next_frame())
        except BaseException:
            writer.close()
            raise
        if resp.timeOut <= 0 or resp.sessionId == 0:
            writer.close()
            raise BenchError(f"{host}:{port} refused the session (timeOut={resp.timeOut})")
        self.session_id, self.timeout_ms = resp.sessionId, resp.timeOut
        return self

    async def next_frame(self) -> bytes:
        while not self.ready:
            await self._read_more()
        return self.ready.popleft()

    async def _read_more(self) -> None:
        try:
            async with asyncio.timeout(self.stall_seconds):
                data = await self.reader.read(READ_CHUNK)
        except TimeoutError:
            raise BenchError(f"no reply within {self.stall_seconds}s") from None
        if not data:
            raise BenchError("server closed the connection")
        self.ready.extend(self.frames.feed(data))

    def take_xid(self) -> int:
        self.xid = self.xid + 1 if self.xid < 0x7FFFFFFF else 1
        return self.xid

    async def call(self, op: int, rec: Record | None) -> tuple[int, bytes]:
        """One request, waiting for its reply: (err, body after the reply header)."""
        xid = self.take_xid()
        self.writer.write(encode_request(xid, op, rec))
        while True:
            body = await self.next_frame()
            rxid, _zxid, err = decode_reply_header(body)
            if rxid == Xid.NOTIFICATION:
                self.events.append(body[16:])
                continue
            if rxid != xid:
                raise BenchError(f"reply xid {rxid}, expected {xid}")
            return err, body[16:]

    async def next_event(self) -> bytes:
        """The body of the next watch notification (after the reply header)."""
        while not self.events:
            body = await self.next_frame()
            if decode_reply_header(body)[0] == Xid.NOTIFICATION:
                self.events.append(body[16:])
        return self.events.popleft()

    async def pipeline(self, plan: Plan, depth: int, deadline: float) -> PipeResult:
        """Send the plan keeping ``depth`` in flight; stop sending at ``deadline``.

        Replies must come back in xid order (else BenchError). A reply whose err is not in
        ``plan.ok`` counts as an error, a getData whose data differs from the plan's check
        as a check failure; both let the run go on.
        """
        reqs = plan.reqs
        pending: deque[tuple[int, int, int]] = deque()
        res = PipeResult([], 0, {}, 0, False)
        total, sent = len(reqs), 0
        clock = time.perf_counter_ns
        while True:
            if not res.capped and sent < total and time.monotonic() >= deadline:
                res.capped, total = True, sent
            if sent < total and len(pending) < depth:
                out = bytearray()
                while sent < total and len(pending) < depth:
                    op, rec = reqs[sent]
                    xid = self.take_xid()
                    out += encode_request(xid, op, rec)
                    pending.append((xid, clock(), sent))
                    sent += 1
                self.writer.write(out)
            if not pending:
                break
            if not self.ready:
                await self._read_more()
            self._take_replies(pending, plan, res)
        res.completed = len(res.latencies_ns)
        return res

    def _take_replies(
        self, pending: deque[tuple[int, int, int]], plan: Plan, res: PipeResult
    ) -> None:
        ready, checks, ok = self.ready, plan.checks, plan.ok
        clock = time.perf_counter_ns
        while ready:
            body = ready.popleft()
            xid, _zxid, err = decode_reply_header(body)
            if xid == Xid.NOTIFICATION:
                continue
            if not pending:
                raise BenchError(f"reply xid {xid} with nothing outstanding")
            want, t0, idx = pending.popleft()
            if xid != want:
                raise BenchError(f"reply xid {xid} out of order, expected {want}")
            res.latencies_ns.append(clock() - t0)
            if err not in ok:
                res.errors[err] = res.errors.get(err, 0) + 1
            elif checks is not None and err == 0:
                expect = checks[idx]
                if expect is not None and getdata_payload(body[16:]) != expect:
                    res.check_failures += 1

    async def idle_until(self, done: asyncio.Event) -> None:
        """Keep the session alive with pings until ``done`` is set."""
        interval = max(0.2, self.timeout_ms / 3000)
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), interval)
            if not done.is_set():
                self.writer.write(encode_request(Xid.PING, Op.PING))
                while True:
                    body = await self.next_frame()
                    rxid = decode_reply_header(body)[0]
                    if rxid == Xid.PING:
                        break
                    if rxid == Xid.NOTIFICATION:
                        self.events.append(body[16:])

    async def close(self) -> None:
        """closeSession, then close the socket (best effort)."""
        with contextlib.suppress(BenchError, OSError, TimeoutError):
            await asyncio.wait_for(self.call(Op.CLOSE_SESSION, None), 5.0)
        self.abort()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(self.writer.wait_closed(), 5.0)

    def abort(self) -> None:
        self.writer.close()


def percentile_ms(sorted_ns: Sequence[int], pct: float) -> float:
    """Nearest-rank percentile of sorted nanosecond samples, in milliseconds (0 if empty)."""
    if not sorted_ns:
        return 0.0
    rank = max(1, min(len(sorted_ns), math.ceil(pct * len(sorted_ns) / 100 - 1e-9)))
    return sorted_ns[rank - 1] / 1e6


def split(total: int, parts: int) -> list[int]:
    """``total`` spread over ``parts`` shares differing by at most one (earlier ones larger)."""
    q, r = divmod(total, parts)
    return [q + (1 if i < r else 0) for i in range(parts)]
