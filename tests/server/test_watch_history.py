"""Watch-history streams end to end on a standalone server, checked against a model.

A seeded random sequence of writes (create, setData, delete, setACL, ephemerals removed
at session close) is run by one writer; the model turns each write and its zxid into the
events a stream must report. Streams opened from a past zxid, streams that live through
disconnects and server restarts, must deliver exactly the model's events for their path.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

import pytest

from roost.client import (
    OPEN_ACL_UNSAFE,
    READ_ACL_UNSAFE,
    Client,
    CompactedError,
    ConnectionLossError,
)
from roost.client.events import WRITABLE_STATES
from roost.client.history import HistoryStream
from roost.testing.server import RoostServer
from roost.testing.wait import wait_until_async
from roost.wire.opcodes import EventType

C, D, M, K, A = (
    EventType.NODE_CREATED,
    EventType.NODE_DELETED,
    EventType.NODE_DATA_CHANGED,
    EventType.NODE_CHILDREN_CHANGED,
    EventType.NODE_ACL_CHANGED,
)
Ev = tuple[int, int, str, bytes | None]  # zxid, type, path, data

NAMES = ["/t/a", "/t/a/x", "/t/a/y", "/t/b", "/t/b/x"]


def parent(p: str) -> str:
    return p.rsplit("/", 1)[0] or "/"


@dataclass
class Model:
    """The committed events, in zxid order, as a stream reports them."""

    events: list[Ev] = field(default_factory=list)
    nodes: set[str] = field(default_factory=set)

    def filtered(self, path: str, recursive: bool, since: int, data: bool) -> list[Ev]:
        out = []
        for z, t, p, d in self.events:
            if z <= since:
                continue
            inside = p == path or p.startswith(path + "/")
            if (t != K and inside) if recursive else p == path:
                out.append((z, t, p, d if data else None))
        return out


async def random_writes(zk: Client, model: Model, rng: random.Random, n: int) -> None:
    """n writes by one client: each reply's zxid is that write's."""
    for _ in range(n):
        p = rng.choice(NAMES)
        if p not in model.nodes:
            if parent(p) != "/t" and parent(p) not in model.nodes:
                continue
            data = rng.randbytes(rng.randrange(4))
            await zk.create(p, data)
            z = zk.last_zxid
            model.nodes.add(p)
            model.events += [(z, C, p, data), (z, K, parent(p), None)]
        elif any(q.startswith(p + "/") for q in model.nodes) or rng.random() < 0.5:
            choice = rng.random()
            if choice < 0.8:
                data = rng.randbytes(rng.randrange(4))
                stat = await zk.set(p, data)
                model.events.append((stat.mzxid, M, p, data))
            else:
                acl = READ_ACL_UNSAFE + OPEN_ACL_UNSAFE if rng.random() < 0.5 else OPEN_ACL_UNSAFE
                await zk.set_acl(p, acl)
                model.events.append((zk.last_zxid, A, p, None))
        else:
            await zk.delete(p)
            z = zk.last_zxid
            model.nodes.discard(p)
            model.events += [(z, D, p, None), (z, K, parent(p), None)]


async def collect(stream: HistoryStream, n: int, timeout: float = 20.0) -> list[Ev]:
    out: list[Ev] = []
    async with asyncio.timeout(timeout):
        while len(out) < n:
            ev = await anext(stream)
            out.append((ev.zxid, int(ev.type), ev.path, ev.data))
    return out


async def nothing_more(stream: HistoryStream, zk: Client, model: Model, rng: random.Random,
                       watch: tuple[str, bool], since: int, data: bool, seen: int) -> None:
    """`stream` has delivered the model's first `seen` events and nothing else: more seeded
    writes until the model has one more for it, which must be the stream's next event (an
    extra event would come before it)."""
    for _ in range(200):
        want = model.filtered(*watch, since, data)
        if len(want) > seen:
            break
        await random_writes(zk, model, rng, 1)
    else:
        raise AssertionError(f"200 writes made no event for {watch}")
    assert await collect(stream, 1) == [want[seen]]


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


WATCHES = [("/t", True), ("/t/a", True), ("/t/a", False), ("/t/b/x", False), ("/t", False)]


def test_replay_and_live_match_the_model(tmp_path) -> None:
    async def body(hosts: str) -> None:
        model, rng = Model(), random.Random(15)
        async with Client(hosts) as zk:
            await zk.create("/t", b"")
            z0 = zk.last_zxid
            await random_writes(zk, model, rng, 60)
            for path, rec in WATCHES:
                for data in (False, True):
                    want = model.filtered(path, rec, z0, data)
                    s = zk.watch_history(path, since=z0, recursive=rec, with_data=data)
                    assert await collect(s, len(want)) == want
                    await s.aclose()
            # live: a stream opened now, then more writes
            mid = zk.last_zxid
            streams = {w: zk.watch_history(w[0], since=mid, recursive=w[1]) for w in WATCHES}
            await random_writes(zk, model, rng, 60)
            for (path, rec), s in streams.items():
                want = model.filtered(path, rec, mid, False)
                assert await collect(s, len(want)) == want
                # and nothing more
                await nothing_more(s, zk, model, rng, (path, rec), mid, False, len(want))

    with RoostServer(tmp_path / "d") as srv:
        run(body(srv.hosts))


def test_ephemerals_removed_at_session_end_are_events(tmp_path) -> None:
    async def body(hosts: str) -> None:
        async with Client(hosts) as zk:
            await zk.create("/e", b"")
            z0 = zk.last_zxid
            other = Client(hosts)
            await other.start()
            await other.create("/e/1", b"a", ephemeral=True)
            await other.create("/e/2", b"b", ephemeral=True)
            s = zk.watch_history("/e", since=z0, recursive=True)
            got = await collect(s, 2)
            await other.close()
            got += await collect(s, 2)
            closed = got[2][0]
            assert closed > got[1][0]
            assert sorted(got[2:]) == [(closed, D, "/e/1", None), (closed, D, "/e/2", None)]
            kids = zk.watch_history("/e", since=z0)
            assert [t for _, t, _, _ in await collect(kids, 4)] == [K, K, K, K]

    with RoostServer(tmp_path / "d") as srv:
        run(body(srv.hosts))


def test_stream_survives_disconnects_without_gap_or_repeat(tmp_path) -> None:
    """The server drops the stream's connection again and again while a writer writes."""

    async def body(srv: RoostServer) -> None:
        model, rng = Model(), random.Random(7)
        async with Client(srv.hosts) as writer, Client(srv.hosts) as reader:
            await writer.create("/t", b"")
            z0 = writer.last_zxid
            s = reader.watch_history("/t", since=z0, recursive=True, with_data=True)
            got: list[Ev] = []
            assert srv.server is not None
            server = srv.server
            loop = asyncio.get_running_loop()
            for _round in range(8):
                await random_writes(writer, model, rng, 15)
                # cut the reader's connection from the server's side (its loop, its thread)
                sid = reader.session_id
                assert srv._loop is not None

                def cut(sid: int = sid) -> None:
                    conn = server.by_session.get(sid)
                    if conn is not None:
                        conn.abort()

                srv._loop.call_soon_threadsafe(cut)
                want = model.filtered("/t", True, z0, True)
                got += await collect(s, len(want) - len(got))
                assert got == want
            assert loop is asyncio.get_running_loop()

    with RoostServer(tmp_path / "d") as srv:
        run(body(srv))


def test_history_is_rebuilt_from_the_log_after_a_crash(tmp_path) -> None:
    srv = RoostServer(tmp_path / "d", subprocess=True)
    model, rng = Model(), random.Random(3)

    async def write() -> int:
        async with Client(srv.hosts) as zk:
            await zk.create("/t", b"")
            z0 = zk.last_zxid
            await random_writes(zk, model, rng, 40)
            return z0

    async def check(z0: int) -> None:
        async with Client(srv.hosts) as zk:
            want = model.filtered("/t", True, z0, True)
            s = zk.watch_history("/t", since=z0, recursive=True, with_data=True)
            assert await collect(s, len(want)) == want

    with srv:
        z0 = asyncio.run(write())
        srv.kill()
        srv.start()
        asyncio.run(check(z0))


async def answering(zk: Client) -> None:
    """Wait until the server answers `zk` again after a restart (a read: safe to repeat)."""
    async with asyncio.timeout(30):
        while True:
            try:
                await zk.exists("/")
                return
            except ConnectionLossError:
                await zk.wait_for(*WRITABLE_STATES, timeout=30)


def restart(srv: RoostServer, how: str) -> None:
    """Stop the server (a clean stop writes a snapshot; a SIGKILL writes nothing), start it
    again on the same port and data directory."""
    if how == "kill":
        srv.kill()
    else:
        srv.stop()
    srv.start()


@pytest.mark.parametrize("how", ["clean", "kill"])
def test_a_stream_behind_every_snapshot_resumes_across_restarts(tmp_path, how: str) -> None:
    """The only server snapshots every 10 txns and is restarted twice while a reader that
    does not keep up holds a stream opened before: the stream was stopped on the server
    at a zxid older than every snapshot the restarts load (the history comes with the
    snapshot), and resumes from there with no gap and no repeat; a stream opened anew
    from the first zxid gets the same events."""
    srv = RoostServer(tmp_path / "d", subprocess=True, snapshot_every=10)
    model, rng = Model(), random.Random(21)

    async def body() -> None:
        async with Client(srv.hosts, session_timeout=30) as writer, \
                Client(srv.hosts, session_timeout=30) as reader:
            await writer.create("/t", b"")
            z0 = writer.last_zxid
            s = reader.watch_history("/t", since=z0, recursive=True, with_data=True,
                                     max_buffered=4)
            await s.wait_open()
            for _ in range(2):
                await random_writes(writer, model, rng, 30)
                await asyncio.to_thread(restart, srv, how)
                await answering(writer)
            await random_writes(writer, model, rng, 10)  # after the last restart, live
            want = model.filtered("/t", True, z0, True)
            assert len(want) > 40
            assert await collect(s, len(want)) == want
            await nothing_more(s, writer, model, rng, ("/t", True), z0, True, len(want))
            want = model.filtered("/t", True, z0, True)
            again = writer.watch_history("/t", since=z0, recursive=True, with_data=True)
            assert await collect(again, len(want)) == want

    with srv:
        asyncio.run(body())


def test_the_history_bound_survives_restarts(tmp_path) -> None:
    """history_max_events=5 with snapshots every 7 txns: a clean restart and a SIGKILL
    restart leave the floor where it was (older starts get the typed error with that
    floor) and the events from the floor on unchanged."""
    srv = RoostServer(tmp_path / "d", subprocess=True, snapshot_every=7, history_max_events=5)

    async def state(z0: int, write: bool) -> tuple[int, list[Ev]]:
        async with Client(srv.hosts) as zk:
            if write:
                await zk.create("/c", b"")
                for i in range(12):
                    await zk.set("/c", str(i).encode())
            with pytest.raises(CompactedError) as ei:
                await anext(zk.watch_history("/c", since=z0))
            floor = ei.value.zxid
            s = zk.watch_history("/c", since=floor, with_data=True)
            got = await collect(s, 5)
            await s.aclose()
            return floor, got

    with srv:
        floor, events = asyncio.run(state(0, write=True))
        assert [d for *_, d in events] == [str(i).encode() for i in range(7, 12)]
        for how in ("clean", "kill"):
            restart(srv, how)
            assert asyncio.run(state(0, write=False)) == (floor, events), how
            assert asyncio.run(state(floor - 1, write=False))[0] == floor


def test_a_snapshot_without_history_still_loads(tmp_path) -> None:
    """A snapshot file written before histories were saved with snapshots (its payload a
    tree image alone, as a backup restore also writes) loads: the tree is all there and
    the history starts at the snapshot."""
    from roost.server.standalone import TERM, decode_payload
    from roost.storage import SnapshotStore

    async def write(hosts: str) -> None:
        async with Client(hosts) as zk:
            await zk.create("/old", b"")
            for i in range(5):
                await zk.create(f"/old/n{i}", str(i).encode())

    with RoostServer(tmp_path / "d") as srv:
        run(write(srv.hosts))
    store = SnapshotStore(tmp_path / "d" / "snap")
    index = store.indexes()[-1]
    meta, payload = store.load_view(index)
    tree_image, history = decode_payload(payload, meta.path)
    assert history is not None  # this roost wrote one
    store.save(index, TERM, bytes(tree_image))  # as an older roost wrote it

    async def read(hosts: str) -> None:
        async with Client(hosts) as zk:
            assert sorted(await zk.children("/old")) == [f"n{i}" for i in range(5)]
            with pytest.raises(CompactedError) as ei:
                await anext(zk.watch_history("/old", since=index - 1, recursive=True))
            assert ei.value.zxid == index
            s = zk.watch_history("/old", since=index, recursive=True, with_data=True)
            await zk.set("/old/n1", b"new")
            assert await collect(s, 1) == [(zk.last_zxid, M, "/old/n1", b"new")]

    with RoostServer(tmp_path / "d") as srv:
        run(read(srv.hosts))


def test_compaction_gives_the_typed_error_and_resume_point(tmp_path) -> None:
    async def body(hosts: str) -> None:
        async with Client(hosts) as zk:
            await zk.create("/c", b"")
            z0 = zk.last_zxid
            for i in range(10):
                await zk.set("/c", str(i).encode())
            s = zk.watch_history("/c", since=z0)
            with pytest.raises(CompactedError) as ei:
                await anext(s)
            floor = ei.value.zxid
            assert z0 < floor < zk.last_zxid
            assert "compacted at zxid" in str(ei.value)
            # from the floor on, everything is there: 5 events
            s = zk.watch_history("/c", since=floor)
            got = await collect(s, 5)
            assert [ev[3] for ev in got] == [None] * 5
            assert got[-1][0] == zk.last_zxid

    with RoostServer(tmp_path / "d", history_max_events=5) as srv:
        run(body(srv.hosts))


def test_quiet_stream_moves_its_resume_point_with_replies(tmp_path) -> None:
    """A stream on a node nobody writes follows the server's zxid through other replies,
    so it does not fall behind the history's floor while other nodes change."""

    async def body(hosts: str) -> None:
        async with Client(hosts) as zk:
            await zk.create("/quiet", b"")
            await zk.create("/busy", b"")
            s = zk.watch_history("/quiet")
            for i in range(20):
                await zk.set("/busy", str(i).encode())
            assert s.resume_zxid == zk.last_zxid

    with RoostServer(tmp_path / "d", history_max_events=5) as srv:
        run(body(srv.hosts))


def test_sync_facade_streams_and_times_out(tmp_path) -> None:
    from roost.client import SyncClient

    with RoostServer(tmp_path / "d") as srv, SyncClient(srv.hosts) as zk:
        since = zk.aio.last_zxid
        zk.create("/s", b"a")
        zk.set("/s", b"b")
        with zk.watch_history("/s", since=since, with_data=True) as stream:
            first, second = next(stream), stream.next_event(timeout=5)
            assert [(e.type, e.data) for e in (first, second)] == [(C, b"a"), (M, b"b")]
            assert stream.resume_zxid == second.zxid
            with pytest.raises(TimeoutError):
                stream.next_event(timeout=0.1)
            zk.delete("/s")
            assert stream.next_event(timeout=5).type == D


def test_default_since_is_now_even_for_a_fresh_client(tmp_path) -> None:
    """A client that has not seen any zxid yet starts from the server's current one
    (not from 0, which the history no longer holds)."""

    async def body(hosts: str) -> None:
        async with Client(hosts) as writer:
            await writer.create("/n", b"")
            for i in range(10):
                await writer.set("/n", str(i).encode())
            async with Client(hosts) as fresh:
                assert fresh.last_zxid == 0
                s = fresh.watch_history("/n", with_data=True)
                opened_at = await s.wait_open()
                assert opened_at > writer.last_zxid  # (the fresh session took one)
                await writer.set("/n", b"new")
                got = await collect(s, 1)
                assert got == [(writer.last_zxid, M, "/n", b"new")]

    with RoostServer(tmp_path / "d", history_max_events=5) as srv:
        run(body(srv.hosts))


def test_the_docs_snippet_runs(tmp_path) -> None:
    """docs/client.md's watch-history example runs as written (host replaced)."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "client.md").read_text()
    section = doc.split("## Watch history", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None
    with RoostServer(tmp_path / "d") as srv:
        code = match.group(1).replace('"127.0.0.1:2181"', repr(srv.hosts))
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [ln.split(" ", 1)[1] for ln in lines[:2]] == [
        "NODE_CREATED /app/a b'1'", "NODE_DATA_CHANGED /app/a b'2'"]
    assert lines[2] == f"resume from {lines[1].split()[0]}"


def test_a_slow_consumer_pauses_the_stream_and_loses_nothing(tmp_path) -> None:
    async def body(hosts: str) -> None:
        async with Client(hosts) as writer, Client(hosts) as reader:
            await writer.create("/slow", b"")
            z0 = writer.last_zxid
            s = reader.watch_history("/slow", since=z0, with_data=True, max_buffered=10)
            await s.wait_open()
            for i in range(100):
                await writer.set("/slow", str(i).encode())
            await reader.sync("/")  # every frame the server sent has been read by now
            assert 0 < s.buffered() <= 11  # the stream was paused: the rest stayed behind
            got = await collect(s, 100)
            assert [d for _, _, _, d in got] == [str(i).encode() for i in range(100)]
            assert [z for z, _, _, _ in got] == sorted({z for z, _, _, _ in got})

    with RoostServer(tmp_path / "d") as srv:
        run(body(srv.hosts))


def test_mntr_reports_the_history(tmp_path) -> None:
    from roost.testing.server import four_letter

    async def body(hosts: str) -> int:
        async with Client(hosts) as zk:
            await zk.create("/m", b"x")
            s = zk.watch_history("/m")
            await s.wait_open()
            host, port = hosts.split(":")
            text = four_letter(host, int(port), "mntr")
            rows = dict(line.split("\t") for line in text.splitlines())
            assert int(rows["zk_history_streams"]) == 1
            assert int(rows["zk_history_events"]) >= 2  # /m created, / children changed
            assert int(rows["zk_history_bytes"]) > 0
            return int(rows["zk_history_floor_zxid"])

    with RoostServer(tmp_path / "d") as srv:
        assert asyncio.run(body(srv.hosts)) == 0


def test_history_config_keys(tmp_path) -> None:
    from roost.server.config import ConfigError, ServerConfig
    from roost.server.configload import load_toml

    cfg = tmp_path / "roost.toml"
    cfg.write_text("[server]\nhistory_max_events = 10\nhistory_max_bytes = 4096\n"
                   "history_max_age_ms = 60000\n")
    loaded = load_toml(cfg)
    assert (loaded.history_max_events, loaded.history_max_bytes,
            loaded.history_max_age_ms) == (10, 4096, 60000)
    defaults = ServerConfig()
    assert (defaults.history_max_events, defaults.history_max_bytes,
            defaults.history_max_age_ms) == (100_000, 64 * 1024 * 1024, 3_600_000)
    with pytest.raises(ConfigError, match="history_max_events"):
        ServerConfig().replace(history_max_events=0)
    # the history is capped at outgoing_hard_limit: a replay is written at once
    from roost.server.core import Server

    small = Server(ServerConfig(data_dir=tmp_path, outgoing_hard_limit=1 << 20,
                                outgoing_high_water=1 << 19))
    assert small.streams.history.limits.max_bytes == 1 << 20


def test_events_the_client_may_not_read_are_left_out(tmp_path) -> None:
    """Like watch notifications: a node whose ACL denies READ to the stream's connection
    is not reported; identities added later count for later events."""
    from roost.client import Id
    from roost.wire.records import ACL

    secret = [ACL(31, Id("digest", "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E="))]  # alice:secret

    async def body(hosts: str) -> None:
        async with Client(hosts, auth=[("digest", "alice:secret")]) as alice, \
                Client(hosts) as bob:
            await alice.create("/p", b"")
            since = alice.last_zxid
            stream = bob.watch_history("/p", since=since, recursive=True, with_data=True)
            await alice.create("/p/open", b"o")
            await alice.create("/p/hidden", b"h", acl=secret)
            await alice.set("/p/hidden", b"h2")
            await alice.set("/p/open", b"o2")
            got = await collect(stream, 2)
            assert [(p, d) for _, _, p, d in got] == [("/p/open", b"o"), ("/p/open", b"o2")]
            await bob.add_auth("digest", "alice:secret")
            await alice.set("/p/hidden", b"h3")
            assert [(p, d) for _, _, p, d in await collect(stream, 1)] == [("/p/hidden", b"h3")]

    with RoostServer(tmp_path / "d") as srv:
        run(body(srv.hosts))


def test_stream_goes_on_after_the_session_expires(tmp_path) -> None:
    """A stream is not tied to a session: after LOST, the client's new session re-opens
    it from the last zxid received."""
    from roost.client import ClientState

    async def body(srv: RoostServer) -> None:
        async with Client(srv.hosts) as writer, Client(srv.hosts) as reader:
            await writer.create("/x", b"")
            z0 = writer.last_zxid
            states: list[ClientState] = []
            reader.add_listener(lambda ch: states.append(ch.state))
            s = reader.watch_history("/x", since=z0, with_data=True)
            await writer.set("/x", b"1")
            assert [d for *_, d in await collect(s, 1)] == [b"1"]
            old = reader.session_id
            server, loop = srv.server, srv._loop
            assert server is not None and loop is not None
            loop.call_soon_threadsafe(lambda: server.close_session(old))  # expire it
            await writer.set("/x", b"2")
            await writer.set("/x", b"3")
            assert [d for *_, d in await collect(s, 2)] == [b"2", b"3"]
            await wait_until_async(lambda: reader.session_id not in (0, old), 10,
                                   what="a new session")
            assert ClientState.LOST in states
            await writer.set("/x", b"4")
            assert [d for *_, d in await collect(s, 1)] == [b"4"]

    with RoostServer(tmp_path / "d") as srv:
        run(body(srv))
