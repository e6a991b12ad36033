"""A watch-history stream on a 3-member ensemble through a leader SIGKILL, the killed
member's restart (its history rebuilt from its log) and the reader's member being
stopped (the reader moves): the events delivered equal the committed sequence.

The committed sequence is read back at the end: one writer only creates children of
/t (retrying a create whose outcome a failover left unknown), so the children's czxids
and data are every change a recursive stream on /t reports (children-changed events
are not reported by recursive streams).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from roost.client import Client, ClientState, ConnectionLossError, NodeExistsError
from roost.client.events import WRITABLE_STATES
from roost.testing.ensemble import RoostEnsemble
from roost.testing.wait import wait_until_async
from roost.wire.opcodes import EventType


async def create_retrying(zk: Client, path: str, data: bytes) -> None:
    """Create `path` exactly once, whatever connection losses happen (bounded wait)."""
    async with asyncio.timeout(60):
        while True:
            try:
                await zk.create(path, data)
                return
            except NodeExistsError:
                return  # an earlier attempt was committed
            except ConnectionLossError:
                await zk.wait_for(*WRITABLE_STATES, timeout=30)


async def writes(zk: Client, start: int, n: int) -> None:
    for i in range(start, start + n):
        await create_retrying(zk, f"/t/n{i:04d}", f"v{i}".encode())


def member_of(ens: RoostEnsemble, zk: Client) -> int:
    assert zk.server is not None
    return next(i for i in range(len(ens)) if ens.hosts_of(i) == f"{zk.server[0]}:{zk.server[1]}")


def test_stream_through_failover_restart_and_move(tmp_path: Path) -> None:
    async def body(ens: RoostEnsemble) -> None:
        async with Client(ens.hosts, session_timeout=10) as writer, Client(
            ens.hosts, session_timeout=10
        ) as reader:
            await writer.create("/t", b"")
            z0 = writer.last_zxid
            moves: list[object] = []
            reader.add_listener(
                lambda ch: moves.append(ch) if ch.state is ClientState.SUSPENDED else None
            )
            stream = reader.watch_history("/t", since=z0, recursive=True, with_data=True)
            got: list[tuple[int, int, str, bytes | None]] = []

            async def consume() -> None:
                async for ev in stream:
                    got.append((ev.zxid, int(ev.type), ev.path, ev.data))

            task = asyncio.create_task(consume())
            await writes(writer, 0, 40)
            leader = await asyncio.to_thread(ens.leader)
            await asyncio.to_thread(ens.kill, leader)
            await writes(writer, 40, 40)
            await asyncio.to_thread(ens.start_member, leader)
            await asyncio.to_thread(ens.wait_settled)
            moved_from = member_of(ens, reader)
            await asyncio.to_thread(ens.stop_member, moved_from)
            await writes(writer, 80, 40)
            await asyncio.to_thread(ens.start_member, moved_from)

            # the committed sequence, read back
            await writer.sync("/t")
            want = []
            for name in await writer.children("/t"):
                data, stat = await writer.get(f"/t/{name}")
                want.append((stat.czxid, int(EventType.NODE_CREATED), f"/t/{name}", data))
            want.sort()
            assert len(want) == 120
            await wait_until_async(lambda: len(got) >= len(want), 60, interval=0.05,
                                   what="every event")
            await asyncio.sleep(0.2)  # nothing more may come
            assert got == want
            assert moves and member_of(ens, reader) != moved_from, "the reader never moved"
            task.cancel()
            await stream.aclose()

    with RoostEnsemble(3, subprocess=True, base_dir=tmp_path) as ens:
        asyncio.run(body(ens))


def test_history_after_a_snapshot_install_starts_at_the_snapshot(tmp_path: Path) -> None:
    """A wiped member catches up from the leader's snapshot: its history starts at the
    snapshot's zxid (older starts are compacted there), while the other members, which
    applied every txn, still serve the whole history."""
    import re

    from roost.client import CompactedError
    from roost.testing.ensemble import last_zxid
    from roost.testing.wait import wait_until

    async def write(hosts: str, wipe: Callable[[], None]) -> int:
        async with Client(hosts) as zk:
            await zk.create("/s", b"")
            z0 = zk.last_zxid
            await asyncio.to_thread(wipe)
            for n in range(160):
                await zk.create(f"/s/n{n:03d}", b"")
            return z0

    async def read(hosts: str, since: int) -> tuple[int, int]:
        """(events from `since` or -1 if compacted, the compacted floor or -1)"""
        async with Client(hosts) as zk:
            s = zk.watch_history("/s", since=since, recursive=True)
            try:
                await s.wait_open()
            except CompactedError as e:
                return -1, e.zxid
            n = s.buffered()
            await s.aclose()
            return n, -1

    with RoostEnsemble(3, subprocess=True, base_dir=tmp_path, snapshot_every=20) as ens:
        leader = ens.leader()
        victim = next(i for i in range(3) if i != leader)
        survivors = [i for i in range(3) if i != victim]
        hosts = ",".join(ens.hosts_of(i) for i in survivors)
        z0 = asyncio.run(write(hosts, lambda: ens.wipe_member(victim)))
        target = last_zxid(ens, leader)
        ens.start_member(victim)
        wait_until(lambda: last_zxid(ens, victim) == target, timeout=30,
                   what="the wiped member to catch up")
        found = re.findall(r"installed snapshot at 0x([0-9a-f]+)", ens.log_text(victim))
        assert found, "the member did not install a snapshot"
        snap = int(found[-1], 16)
        assert z0 < snap
        assert asyncio.run(read(ens.hosts_of(victim), z0)) == (-1, snap)
        on_victim, _ = asyncio.run(read(ens.hosts_of(victim), snap))
        on_survivor, _ = asyncio.run(read(ens.hosts_of(survivors[0]), z0))
        assert on_survivor == 160  # every create after z0
        assert 0 <= on_victim < on_survivor
