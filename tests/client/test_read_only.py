"""Read-only mode against a roost ensemble (roost only: Apache ZooKeeper serves read-only
clients only with ``readonlymode.enabled``, which the shared backend does not set).

A member cut off from its peers for two election timeouts serves read-only clients. A
client with ``read_only=True`` attaches there (READ_ONLY: reads work, writes fail with
NotReadOnlyError), keeps probing with ``isro`` and moves to a read-write server as soon as
one exists (RECONNECTED, with a real session since it had only a read-only one before).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from roost.client import ClientState, NotReadOnlyError, StateChange
from roost.client.rwprobe import find_rw_server, is_read_write
from roost.testing.ensemble import RoostEnsemble
from roost.testing.server import four_letter
from roost.testing.wait import wait_until_async
from roost.testing.zookeeper import free_port
from roost.wire.jute import REQUEST_HEADER
from roost.wire.protocol import FrameBuffer, encode_frame, encode_reply
from roost.wire.records import ConnectRequest, ConnectResponse

from .helpers import make_client

S = ClientState


async def _in_thread(fn: object, *args: object) -> None:
    await asyncio.get_running_loop().run_in_executor(None, fn, *args)  # type: ignore[arg-type]


async def test_read_only_member_then_move_to_a_read_write_one(tmp_path: Path) -> None:
    with RoostEnsemble(3, base_dir=tmp_path) as ens:
        setup = make_client(ens.hosts, seed=3)
        await setup.start()
        await setup.create("/ro", b"before")
        sid_rw = setup.session_id
        await setup.close()
        last = ens.servers[2]
        assert await is_read_write(last.host, last.port)
        await _in_thread(ens.stop_member, 0)
        await _in_thread(ens.stop_member, 1)
        await wait_until_async(lambda: four_letter(last.host, last.port, "isro") == "ro",
                               timeout=20, what="member 2 read-only")
        assert not await is_read_write(last.host, last.port)
        assert await find_rw_server([(last.host, last.port), ("127.0.0.1", free_port())]) is None

        # Without read_only the member refuses the client.
        refused = make_client(ens.hosts, seed=4)
        with pytest.raises(Exception, match="could not connect"):
            await refused.start(timeout=1.5)

        changes: list[StateChange] = []
        zk = make_client(ens.hosts, seed=5, read_only=True)
        zk.add_listener(changes.append)
        try:
            await zk.start(timeout=10)
            assert zk.state is S.READ_ONLY and not zk.connected
            assert zk.server == (last.host, last.port)
            ro_sid = zk.session_id
            assert (await zk.get("/ro"))[0] == b"before"
            with pytest.raises(NotReadOnlyError):
                await zk.create("/ro/new")
            stream = zk.states()
            # Bring a peer back: a leader is elected and the client finds a read-write server.
            await _in_thread(ens.start_member, 0)
            change = await asyncio.wait_for(_next_writable(stream), 30)
            assert change.state is S.RECONNECTED
            assert zk.connected and zk.session_id not in (0, ro_sid, sid_rw)
            assert await zk.create("/ro/after", b"rw") == "/ro/after"
            assert [c.state for c in changes][:1] == [S.READ_ONLY]
            assert changes[-1].state is S.RECONNECTED
        finally:
            await zk.close()


async def _next_writable(stream: object) -> StateChange:
    async for change in stream:  # type: ignore[attr-defined]
        if change.state.is_writable:
            return change  # type: ignore[no-any-return]
    raise AssertionError("state stream ended before a read-write connection")


class _FakeMember:
    """A scripted server: answers ``isro`` with its mode and handshakes with readOnly set
    accordingly (it does not drop its read-only clients when the mode changes)."""

    def __init__(self, read_only: bool) -> None:
        self.read_only = read_only
        self.port = 0
        self.probes = 0
        self.session_ids: list[int] = []
        self.open_links = 0

    async def start(self) -> asyncio.Server:
        server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        return server

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = await reader.read(4)
        if first == b"isro":
            self.probes += 1
            writer.write(b"ro" if self.read_only else b"rw")
            writer.close()
            return
        fb = FrameBuffer()
        frames = fb.feed(first)
        while not frames:
            chunk = await reader.read(4096)
            if not chunk:
                return
            frames = fb.feed(chunk)
        self.session_ids.append(ConnectRequest.from_bytes(frames[0]).sessionId)
        resp = ConnectResponse(0, 10_000, 0x77 + len(self.session_ids), bytes(16), self.read_only)
        writer.write(encode_frame(resp))
        self.open_links += 1
        try:
            while data := await reader.read(65536):
                for body in fb.feed(data):
                    xid, _op = REQUEST_HEADER.unpack_from(body, 0)
                    writer.write(encode_reply(xid, 1, 0))  # pings only in this test
        finally:
            self.open_links -= 1
            writer.close()


async def test_probe_finds_the_read_write_server_and_moves_there() -> None:
    members = [_FakeMember(read_only=True), _FakeMember(read_only=True)]
    servers = [await m.start() for m in members]
    changes: list[StateChange] = []
    zk = make_client(",".join(f"127.0.0.1:{m.port}" for m in members), seed=2, read_only=True)
    zk.add_listener(changes.append)
    try:
        await zk.start(timeout=5)
        assert zk.state is S.READ_ONLY and zk.server is not None
        here = next(m for m in members if m.port == zk.server[1])
        there = next(m for m in members if m is not here)
        await wait_until_async(lambda: there.probes >= 2, what="repeated isro probes")
        assert zk.state is S.READ_ONLY and here.open_links == 1  # both say "ro": stay
        there.read_only = False  # a quorum formed over there
        await zk.wait_for(S.RECONNECTED, timeout=10)
        assert zk.server == ("127.0.0.1", there.port)
        await wait_until_async(lambda: here.open_links == 0, what="read-only link dropped")
        # Only a read-only session was ever seen: the read-write server is asked for a new one.
        assert there.session_ids[-1] == 0
        assert [c.state for c in changes] == [S.READ_ONLY, S.SUSPENDED, S.RECONNECTED]
    finally:
        await zk.close()
        for s in servers:
            s.close()
