"""A watch-history stream on a 3-member ensemble through a leader SIGKILL, the killed
member's restart (its history rebuilt from its log) and the reader's member being
stopped (the reader moves), and on a member that caught up from a leader's snapshot:
the events delivered equal the committed sequence.

The committed sequence is read back at the end: one writer only creates children of
/t (retrying a create whose outcome a failover left unknown), so the children's czxids
and data are every change a recursive stream on /t reports (children-changed events
are not reported by recursive streams).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from roost.client import Client, ClientState, ConnectionLossError, NodeExistsError
from roost.client.events import WRITABLE_STATES
from roost.testing.ensemble import RoostEnsemble
from roost.testing.wait import wait_until_async
from roost.wire.opcodes import EventType

Ev = tuple[int, int, str, bytes | None]  # zxid, type, path, data


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


async def writes(zk: Client, start: int, n: int, parent: str = "/t") -> None:
    for i in range(start, start + n):
        await create_retrying(zk, f"{parent}/n{i:04d}", f"v{i}".encode())


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
            # a last write after the read-back: once its event is in, anything more (a
            # repeat, an event the read-back did not see) would be in `got` before it
            await create_retrying(writer, "/t/end", b"end")
            await wait_until_async(lambda: any(e[2] == "/t/end" for e in got), 60,
                                   interval=0.05, what="every event")
            assert got[:-1] == want
            assert got[-1][1:] == (int(EventType.NODE_CREATED), "/t/end", b"end")
            assert moves and member_of(ens, reader) != moved_from, "the reader never moved"
            task.cancel()
            await stream.aclose()

    with RoostEnsemble(3, subprocess=True, base_dir=tmp_path) as ens:
        asyncio.run(body(ens))


def test_a_member_that_installed_a_snapshot_serves_the_whole_history(tmp_path: Path) -> None:
    """A reader streams from member V only. V is wiped while 160 creates commit and
    catches up from the leader's snapshot (the leader's log is compacted past them): its
    history comes with the snapshot. The reader's stream, behind that snapshot, resumes
    on V with no gap and no repeat; V serves from the first zxid what the others serve;
    and once the bound (history_max_events) drops old events, every member answers an
    older start with the typed error and the same floor, and the same events from it."""
    from roost.client import CompactedError
    from roost.testing.ensemble import last_zxid
    from roost.testing.wait import wait_until

    async def stream_from(hosts: str, since: int, n: int) -> list[Ev]:
        async with Client(hosts) as zk:
            await zk.sync("/")
            s = zk.watch_history("/s", since=since, recursive=True, with_data=True)
            out: list[Ev] = []
            async with asyncio.timeout(60):
                while len(out) < n:
                    ev = await anext(s)
                    out.append((ev.zxid, int(ev.type), ev.path, ev.data))
            await s.aclose()
            return out

    async def floor_at(hosts: str, since: int) -> int:
        async with Client(hosts) as zk:
            await zk.sync("/")
            try:
                await zk.watch_history("/s", since=since, recursive=True).wait_open()
            except CompactedError as e:
                return e.zxid
            return -1

    async def committed(zk: Client) -> list[Ev]:
        await zk.sync("/s")
        out = []
        for name in await zk.children("/s"):
            data, stat = await zk.get(f"/s/{name}")
            out.append((stat.czxid, int(EventType.NODE_CREATED), f"/s/{name}", data))
        return sorted(out)

    async def body(ens: RoostEnsemble) -> None:
        leader = await asyncio.to_thread(ens.leader)
        victim = next(i for i in range(3) if i != leader)
        others = ",".join(ens.hosts_of(i) for i in range(3) if i != victim)
        async with Client(others, session_timeout=30) as writer, \
                Client(ens.hosts_of(victim), session_timeout=30) as reader:
            await writer.create("/s", b"")
            z0 = writer.last_zxid
            await reader.sync("/")  # V has applied z0: it can open a stream from there
            stream = reader.watch_history("/s", since=z0, recursive=True, with_data=True)
            got: list[Ev] = []

            async def take(n: int) -> None:
                async with asyncio.timeout(90):
                    for _ in range(n):
                        ev = await anext(stream)
                        got.append((ev.zxid, int(ev.type), ev.path, ev.data))

            await writes(writer, 0, 10, "/s")
            await take(10)
            await asyncio.to_thread(ens.wipe_member, victim)
            await writes(writer, 10, 160, "/s")
            target = await asyncio.to_thread(last_zxid, ens, leader)
            await asyncio.to_thread(ens.start_member, victim)
            await asyncio.to_thread(
                wait_until, lambda: (last_zxid(ens, victim) or 0) >= (target or 0),
                timeout=60, what="the wiped member to catch up")
            found = re.findall(r"installed snapshot at 0x([0-9a-f]+)", ens.log_text(victim))
            assert found, "the member did not install a snapshot"
            assert got[-1][0] < int(found[-1], 16)  # the reader resumes from before it
            await writes(writer, 170, 20, "/s")
            await take(180)
            want = await committed(writer)
            assert len(want) == 190 and got == want
            # and nothing more: a later write's event is the next one
            await writes(writer, 190, 1, "/s")
            await take(1)
            want = await committed(writer)
            assert len(want) == 191 and got == want
            await stream.aclose()
            # a new stream from the first zxid: the same everywhere
            for i in (victim, leader):
                assert await stream_from(ens.hosts_of(i), z0, 191) == want, i
            # past the bound: the oldest events go, on every member alike
            await writes(writer, 191, 79, "/s")
            want = await committed(writer)
            floors = [await floor_at(ens.hosts_of(i), z0) for i in range(3)]
            assert floors[0] > z0 and floors == [floors[0]] * 3, floors
            after = [e for e in want if e[0] > floors[0]]
            for i in (victim, leader):
                assert await stream_from(ens.hosts_of(i), floors[0], len(after)) == after, i

    with RoostEnsemble(3, subprocess=True, base_dir=tmp_path, snapshot_every=20,
                       history_max_events=500) as ens:
        asyncio.run(body(ens))
