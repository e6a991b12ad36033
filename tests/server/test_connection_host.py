"""server/connection.py as the host of the protocol object, on a transport without a socket."""

from __future__ import annotations

import asyncio
from pathlib import Path

from roost.server.config import ServerConfig
from roost.server.connection import Connection
from roost.server.core import Server
from roost.testing.wait import wait_until_async
from roost.wire.opcodes import Op
from roost.wire.protocol import FrameBuffer, decode_reply_header, encode_frame, encode_request
from roost.wire.records import ACL, ConnectRequest, CreateRequest, GetDataRequest, Id


class Transport:
    """What Connection uses of an asyncio transport; it keeps what is written."""

    def __init__(self) -> None:
        self.frames = FrameBuffer(1 << 24)
        self.replies: list[bytes] = []
        self.reading = True
        self.aborted = False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def set_write_buffer_limits(self, high: int | None = None) -> None:
        pass

    def write(self, data: bytes) -> None:
        self.replies += self.frames.feed(data)

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def close(self) -> None:
        pass

    def abort(self) -> None:
        self.aborted = True


def test_a_batch_paused_by_flow_control_still_counts_as_activity(tmp_path: Path) -> None:
    """A client that reads its replies slowly is alive: every batch of its requests
    touches its session, also one cut short because the replies are not read yet."""

    async def run() -> None:
        cfg = ServerConfig(data_dir=tmp_path, port=0, fsync=False, outgoing_high_water=2000)
        server = Server(cfg)
        await server.start()
        try:
            conn = Connection(server)
            tr = Transport()
            conn.connection_made(tr)  # type: ignore[arg-type]
            conn.data_received(encode_frame(ConnectRequest(0, 0, 10_000, 0, bytes(16), False)))
            await wait_until_async(lambda: conn.handshaken, what="the session")
            acl = [ACL(31, Id("world", "anyone"))]
            create = CreateRequest("/n", bytes(900), acl, 0)
            conn.data_received(encode_request(1, Op.CREATE, create))
            await wait_until_async(lambda: len(tr.replies) == 2, what="the create's reply")
            touched: list[int] = []
            server.touch = touched.append  # type: ignore[method-assign]
            gets = b"".join(
                encode_request(i, Op.GET_DATA, GetDataRequest("/n", False)) for i in range(2, 12)
            )
            conn.data_received(gets)
            assert not tr.reading  # three replies (> 2000 bytes) queued: input paused
            assert touched == [conn.session_id]
            await wait_until_async(lambda: len(tr.replies) == 12, what="every reply")
            assert tr.reading and not tr.aborted
            assert [decode_reply_header(r)[0] for r in tr.replies[2:]] == list(range(2, 12))
            assert len(touched) >= 2  # the batches taken after each flush count too
        finally:
            await server.stop()

    asyncio.run(run())
