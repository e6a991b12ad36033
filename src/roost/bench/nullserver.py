"""A null server: the ZooKeeper handshake, then an OK reply with the right xid to anything.

It keeps no data. getData gets an empty GetDataResponse, exists and setData a zero Stat,
getChildren an empty list, everything else a bare reply header. An exists or getData with
its watch flag set is remembered, and a setData on that path notifies those connections
(NodeDataChanged), so the watch fan-out runs too. It shows the load generator's ceiling:
how fast it can go when the server costs (almost) nothing. With a reply delay it is a slow
server instead: every reply goes out that long after its request came in (replies of one
connection stay in order and overlap, so the delay adds latency but no queueing).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections import deque
from collections.abc import Callable
from typing import cast

from roost.wire.errors import ProtocolError
from roost.wire.jute import REQUEST_HEADER
from roost.wire.opcodes import EventType, KeeperState, Op, Xid
from roost.wire.protocol import FrameBuffer, encode_event, encode_frame, encode_reply
from roost.wire.records import (
    ConnectRequest,
    ConnectResponse,
    ExistsRequest,
    GetChildrenResponse,
    GetDataRequest,
    GetDataResponse,
    Record,
    SetDataRequest,
    Stat,
)

ZERO_STAT = Stat(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
_BODIES: dict[int, Record] = {
    Op.GET_DATA: GetDataResponse(b"", ZERO_STAT),
    Op.EXISTS: ZERO_STAT,
    Op.SET_DATA: ZERO_STAT,
    Op.GET_CHILDREN: GetChildrenResponse([]),
}
_WATCHED_OPS: dict[int, type[ExistsRequest] | type[GetDataRequest]] = {
    Op.EXISTS: ExistsRequest,
    Op.GET_DATA: GetDataRequest,
}


class NullState:
    """Shared by the connections of one null server: session ids, data watches, reply delay."""

    def __init__(self, reply_delay: float = 0.0) -> None:
        #: seconds each reply is held back (a slow server whose replies still overlap)
        self.reply_delay = reply_delay
        self.ids = itertools.count(0x4E55_0000_0001)
        self.watches: dict[str, set[NullProtocol]] = {}
        self.zxid = 0
        self.connections = 0


class NullProtocol(asyncio.Protocol):
    def __init__(self, state: NullState) -> None:
        self.state = state
        self.frames = FrameBuffer()
        self.connected = False
        self.transport: asyncio.WriteTransport | None = None
        #: replies held back by the reply delay: (when due, bytes, close after)
        self.delayed: deque[tuple[float, bytes, bool]] = deque()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.WriteTransport, transport)  # uvloop's: no subclass
        self.state.connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        for watchers in self.state.watches.values():
            watchers.discard(self)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        try:
            bodies = self.frames.feed(data)
            out = bytearray()
            for body in bodies:
                if not self.connected:
                    self.transport.write(self._handshake(body))
                    continue
                reply, last = self._answer(body)
                out += reply
                if last:
                    self._reply(bytes(out), True)
                    return
            if out:
                self._reply(bytes(out), False)
        except (ProtocolError, ValueError):
            self.transport.close()

    def _reply(self, out: bytes, close: bool) -> None:
        """Write now, or after the reply delay (in arrival order)."""
        if not self.state.reply_delay and not self.delayed:
            self._write(out, close)
            return
        loop = asyncio.get_running_loop()
        self.delayed.append((loop.time() + self.state.reply_delay, out, close))
        if len(self.delayed) == 1:
            loop.call_at(self.delayed[0][0], self._flush)

    def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self.delayed and self.delayed[0][0] <= loop.time():
            _, out, close = self.delayed.popleft()
            self._write(out, close)
        if self.delayed:
            loop.call_at(self.delayed[0][0], self._flush)

    def _write(self, out: bytes, close: bool) -> None:
        if self.transport is None:
            return
        self.transport.write(out)
        if close:
            self.transport.close()

    def _handshake(self, body: bytes) -> bytes:
        req = ConnectRequest.from_bytes(body)
        self.connected = True
        return encode_frame(
            ConnectResponse(0, max(req.timeOut, 2000), next(self.state.ids), bytes(16), False)
        )

    def _answer(self, body: bytes) -> tuple[bytes, bool]:
        xid, op = REQUEST_HEADER.unpack_from(body, 0)
        if xid == Xid.PING:
            return encode_reply(Xid.PING, 0, 0), False
        if op in _WATCHED_OPS:
            rec = _WATCHED_OPS[op].from_bytes(body[8:])
            if rec.watch:
                self.state.watches.setdefault(rec.path, set()).add(self)
        elif op == Op.SET_DATA:
            self._fire(SetDataRequest.from_bytes(body[8:]).path)
        self.state.zxid += 1
        return encode_reply(xid, self.state.zxid, 0, _BODIES.get(op)), op == Op.CLOSE_SESSION

    def _fire(self, path: str) -> None:
        event = encode_event(EventType.NODE_DATA_CHANGED, KeeperState.SYNC_CONNECTED, path)
        for conn in self.state.watches.pop(path, ()):
            if conn.transport is not None:
                conn.transport.write(event)


async def start_null_server(host: str, port: int, reply_delay: float = 0.0) -> asyncio.Server:
    state = NullState(reply_delay)
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: NullProtocol(state), host, port, backlog=1024)


class NullServer:
    """A null server on its own thread and event loop (for tests and scripts)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, reply_delay: float = 0.0) -> None:
        self.host = host
        self.port = port
        self.reply_delay = reply_delay
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: Callable[[], None] | None = None

    @property
    def hosts(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> NullServer:
        ready = threading.Event()
        failure: list[BaseException] = []

        async def serve() -> None:
            try:
                server = await start_null_server(self.host, self.port, self.reply_delay)
            except OSError as e:
                failure.append(e)
                ready.set()
                return
            self.port = server.sockets[0].getsockname()[1]
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()

            def request_stop() -> None:
                loop.call_soon_threadsafe(stop.set)

            self._stop = request_stop
            ready.set()
            async with server:
                await stop.wait()

        self._thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> NullServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(
    host: str, port: int, use_uvloop: bool = True, reply_delay: float = 0.0
) -> None:
    """Run a null server until interrupted."""
    from .runner import loop_factory

    async def main() -> None:
        server = await start_null_server(host, port, reply_delay)
        async with server:
            await server.serve_forever()

    with (
        contextlib.suppress(KeyboardInterrupt),
        asyncio.Runner(loop_factory=loop_factory(use_uvloop)) as runner,
    ):
        runner.run(main())
