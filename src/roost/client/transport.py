"""One TCP connection of the client to a server: frames in and out (`Link`), and
`open_link`, which connects and does the handshake in one bounded attempt."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import cast

from roost.client.errors import KeeperError
from roost.wire.errors import ProtocolError
from roost.wire.protocol import FrameBuffer, encode_frame
from roost.wire.records import ConnectRequest, ConnectResponse

log = logging.getLogger("roost.client")

#: the client accepts reply frames up to this size (servers cap requests, not replies)
MAX_REPLY_FRAME = 64 * 1024 * 1024

OnFrame = Callable[["Link", bytes], None]


class Link(asyncio.Protocol):
    """Bytes in and out of one TCP connection; everything else is the `Connection`'s
    (`on_frame` gets each reply frame after the handshake's)."""

    def __init__(self, on_frame: OnFrame) -> None:
        self.on_frame = on_frame
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
                    self.on_frame(self, body)
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


async def open_link(
    host: tuple[str, int], timeout: float, on_frame: OnFrame, hello: Callable[[], ConnectRequest]
) -> tuple[Link, ConnectResponse, float]:
    """Connect to `host`, send the ConnectRequest `hello()` makes once the TCP connection
    is up, and return the link, the server's ConnectResponse and the send time of the
    request; all within `timeout` (the link is aborted on any failure)."""
    loop = asyncio.get_running_loop()
    proto: Link | None = None
    try:
        async with asyncio.timeout(timeout):
            _, proto = await loop.create_connection(lambda: Link(on_frame), *host)
            req = hello()
            sent_at = loop.time()
            assert proto.transport is not None
            proto.transport.write(encode_frame(req))
            resp = await proto.handshake
    except BaseException:
        if proto is not None:
            proto.abort()
        raise
    return proto, resp, sent_at
