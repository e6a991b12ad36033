"""Protocol details checked against a scripted fake server (no backend needed)."""

from __future__ import annotations

import asyncio
import random

import pytest

from roost.client import (
    Client,
    ClientClosedError,
    ClientState,
    ConnectionLossError,
    NoNodeError,
    StateChange,
)
from roost.client.hosts import parse_hosts
from roost.client.watches import WatchKind, WatchRegistry, ancestors
from roost.testing.wait import wait_until_async
from roost.wire.errors import Err
from roost.wire.jute import REQUEST_HEADER
from roost.wire.opcodes import EventType, Op
from roost.wire.protocol import FrameBuffer, encode_frame, encode_reply
from roost.wire.records import ConnectResponse, GetDataResponse, Stat

STAT = Stat(1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1)


class FakeServer:
    """Answers handshakes; on connection number `bad_conn` it echoes a wrong xid."""

    def __init__(self, bad_conn: int, timeout_ms: int = 10_000, mute_pings: int = 0) -> None:
        self.bad_conn = bad_conn
        self.timeout_ms = timeout_ms
        self.mute_pings = mute_pings  # on this connection number, pings go unanswered
        self.connections = 0
        self.port = 0
        self.ops: list[int] = []

    async def start(self) -> asyncio.Server:
        server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        return server

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        bad = self.connections == self.bad_conn
        fb = FrameBuffer()
        handshaken = False
        while data := await reader.read(65536):
            for body in fb.feed(data):
                if not handshaken:
                    handshaken = True
                    resp = ConnectResponse(0, self.timeout_ms, 0x1234, bytes(16))
                    writer.write(encode_frame(resp))
                    continue
                xid, op = REQUEST_HEADER.unpack_from(body, 0)
                self.ops.append(op)
                if op == Op.PING:
                    if self.connections != self.mute_pings:
                        writer.write(encode_reply(xid, 5, 0))
                elif bad:
                    writer.write(encode_reply(xid + 1000, 5, 0, GetDataResponse(b"x", STAT)))
                elif op == Op.GET_DATA:
                    writer.write(encode_reply(xid, 5, 0, GetDataResponse(b"ok", STAT)))
                else:
                    writer.write(encode_reply(xid, 5, Err.NO_NODE))
        writer.close()


async def test_xid_mismatch_drops_the_connection_and_reconnects() -> None:
    fake = FakeServer(bad_conn=1)
    server = await fake.start()
    changes: list[StateChange] = []
    zk = Client(f"127.0.0.1:{fake.port}", retry_delay=0.01, rng=random.Random(3))
    zk.add_listener(changes.append)
    try:
        await zk.start(timeout=5)
        with pytest.raises(ConnectionLossError):
            await zk.get("/a")
        await zk.wait_for(ClientState.RECONNECTED, timeout=5)
        assert (await zk.get("/a"))[0] == b"ok"
        with pytest.raises(NoNodeError):
            await zk.set("/a", b"")
        assert zk.last_zxid == 5 and fake.connections == 2
        await wait_until_async(lambda: len(changes) == 3)
        assert [c.state for c in changes] == [
            ClientState.CONNECTED, ClientState.SUSPENDED, ClientState.RECONNECTED]
    finally:
        await zk.close()
        server.close()


async def test_retry_reissues_after_connection_loss_and_closed_client_cannot_restart() -> None:
    fake = FakeServer(bad_conn=1)
    server = await fake.start()
    zk = Client(f"127.0.0.1:{fake.port}", retry_delay=0.01, rng=random.Random(4))
    try:
        await zk.start(timeout=5)
        data, _ = await zk.retry(zk.get, "/a")
        assert data == b"ok" and fake.connections == 2
        assert fake.ops.count(Op.GET_DATA) == 2
    finally:
        await zk.close()
        server.close()
    with pytest.raises(ClientClosedError):
        await zk.retry(zk.get, "/a")
    with pytest.raises(ClientClosedError):
        await zk.start()


async def test_pings_when_idle_and_reconnects_when_the_server_goes_quiet() -> None:
    # 1.5 s session: ping after 0.5 s of silence; give up after 1 s without a reply.
    fake = FakeServer(bad_conn=0, timeout_ms=1500, mute_pings=1)
    server = await fake.start()
    changes: list[StateChange] = []
    zk = Client(f"127.0.0.1:{fake.port}", session_timeout=1.5, retry_delay=0.01,
                rng=random.Random(5))
    zk.add_listener(changes.append)
    try:
        await zk.start(timeout=5)
        # The first connection never answers pings: the client must drop it and reconnect.
        await wait_until_async(lambda: fake.connections == 2, what="reconnect after silence")
        await zk.wait_for(ClientState.RECONNECTED, timeout=5)
        pings_before = fake.ops.count(Op.PING)
        await wait_until_async(lambda: fake.ops.count(Op.PING) >= pings_before + 2, what="pings")
        assert fake.connections == 2  # answered pings keep the second connection up
        assert 0 < zk.lease_remaining() <= 1.5
        assert [c.state for c in changes] == [
            ClientState.CONNECTED, ClientState.SUSPENDED, ClientState.RECONNECTED]
    finally:
        await zk.close()
        server.close()


def test_parse_hosts() -> None:
    assert parse_hosts("a:1,b:2/app/x") == ([("a", 1), ("b", 2)], "/app/x")
    assert parse_hosts("a") == ([("a", 2181)], "")
    assert parse_hosts("[::1]:5,h:6/") == ([("::1", 5), ("h", 6)], "")
    with pytest.raises(ValueError):
        parse_hosts("/chroot-only")


def test_watch_registry_trigger_rules() -> None:
    reg = WatchRegistry()
    calls: list[str] = []

    def data(ev: object) -> None:
        calls.append("data")

    def rec(ev: object) -> None:
        calls.append("rec")

    reg.add(WatchKind.DATA, "/a/b", data)
    reg.add(WatchKind.CHILD, "/a/b", data)
    reg.add(WatchKind.RECURSIVE, "/a", rec)
    assert ancestors("/a/b") == ["/a/b", "/a", "/"]
    # A callback registered twice gets one call; recursive watches skip children events.
    assert reg.triggered(EventType.NODE_DELETED, "/a/b") == [data, rec]
    assert reg.triggered(EventType.NODE_DELETED, "/a/b") == [rec]
    assert reg.triggered(EventType.NODE_CHILDREN_CHANGED, "/a") == []
    assert reg.has_persistent() and [p for p, _ in reg.clear()] == ["/a"]
    assert not reg
