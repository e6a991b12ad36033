"""ConfigWatcher and ConfigStore against roost and ZooKeeper."""

from __future__ import annotations

import asyncio

import pytest

from roost.client import BadVersionError, HistoryUnsupportedError, NodeExistsError
from roost.recipes import ConfigStore, ConfigWatcher
from roost.testing.wait import wait_until_async

from .helpers import SHORT_SESSION, Env, expire


async def test_watcher_waits_for_the_node_and_ends_on_the_last_value(env: Env) -> None:
    reader, writer = await env.client(), await env.client()
    seen: list[tuple[object, int]] = []
    watcher = ConfigWatcher(reader, "/config/db", "str",
                            on_change=lambda v, ver: seen.append((v, ver)))
    await watcher.start()
    assert not watcher.current.exists and watcher.value is None
    await writer.create("/config/db", b"v0", make_parents=True)
    assert await watcher.wait_for_value(5) == "v0"
    for i in range(1, 6):  # five quick changes
        await writer.set("/config/db", f"v{i}".encode())
    await watcher.wait_until("v5", timeout=5)
    await wait_until_async(lambda: seen and seen[-1] == ("v5", 5), what="last callback")
    versions = [v for _, v in seen if v >= 0]
    assert versions == sorted(versions)  # never goes back
    await writer.delete("/config/db")
    await wait_until_async(lambda: not watcher.current.exists, what="deletion seen")
    # on_change runs on the client's callback dispatcher, just after the state changed
    await wait_until_async(lambda: seen[-1] == (None, -1), what="the deletion's callback")
    await watcher.stop()


async def test_async_iterator_coalesces_but_never_misses_the_final_value(env: Env) -> None:
    reader, writer = await env.client(), await env.client()
    await writer.create("/cfg", b'{"n": 0}')
    watcher = ConfigWatcher(reader, "/cfg", "json")
    await watcher.start()
    got: list[int] = []

    async def consume() -> None:
        async for value in watcher.values():
            got.append(value["n"])
            if value["n"] == 20:
                return

    consumer = asyncio.ensure_future(consume())
    for n in range(1, 21):
        await writer.set("/cfg", f'{{"n": {n}}}'.encode())
    await asyncio.wait_for(consumer, 10)
    assert got[0] == 0 and got[-1] == 20 and got == sorted(got)
    await watcher.stop()


async def test_watcher_follows_changes_after_session_expiry(env: Env) -> None:
    reader = await env.client(session_timeout=SHORT_SESSION)
    writer = await env.client()
    await writer.create("/cfg", b"a")
    watcher = ConfigWatcher(reader, "/cfg")
    await watcher.start()
    assert watcher.value == b"a"
    await expire(env.backend, reader)
    await writer.set("/cfg", b"b")
    await watcher.wait_until(b"b", timeout=15)
    await writer.set("/cfg", b"c")
    await watcher.wait_until(b"c", timeout=5)
    await watcher.stop()


async def test_store_cas_history_and_rollback(env: Env) -> None:
    zk = await env.client()
    store = ConfigStore(zk, "/app/settings", "json", history=3)
    assert not (await store.get()).exists
    assert await store.set({"pool": 5}, version=-1) == 0
    with pytest.raises(NodeExistsError):
        await store.set({"pool": 6}, version=-1)
    assert await store.set({"pool": 6}, version=0) == 1
    with pytest.raises(BadVersionError):
        await store.set({"pool": 7}, version=0)  # stale version: refused
    assert await store.set({"pool": 7}) == 2  # unconditional
    assert await store.set({"pool": 8}) == 3
    hist = await store.history()
    assert [(h.value["pool"], h.version) for h in hist] == [(8, 3), (7, 2), (6, 1)]  # bounded
    assert await store.rollback(2) == 4
    current = await store.get()
    assert current.value == {"pool": 6} and current.version == 4
    assert [h.value["pool"] for h in await store.history()] == [6, 8, 7]


async def test_concurrent_unconditional_writes_all_land_in_history(env: Env) -> None:
    clients = [await env.client() for _ in range(3)]
    stores = [ConfigStore(c, "/cfg", "str", history=50) for c in clients]
    await stores[0].set("start")
    await asyncio.gather(*(s.set(f"w{i}-{k}") for i, s in enumerate(stores) for k in range(4)))
    hist = await stores[0].history()
    assert len(hist) == 13
    assert [h.version for h in hist] == list(range(12, -1, -1))  # one entry per version


async def test_every_value_watcher_sees_each_value_across_a_disconnect(env: Env) -> None:
    reader, writer = await env.client(), await env.client()
    await writer.create("/ev", b"0")
    seen: list[tuple[object, int]] = []
    watcher = ConfigWatcher(reader, "/ev", "str", every_value=True,
                            on_change=lambda v, ver: seen.append((v, ver)))
    if env.backend.kind == "zookeeper":
        with pytest.raises(HistoryUnsupportedError):
            await watcher.start()
        return
    await watcher.start()
    values: list[object] = []

    async def consume() -> None:
        async for v in watcher.values():
            values.append(v)
            if v == "30":
                return

    consumer = asyncio.ensure_future(consume())
    for n in range(1, 31):
        await writer.set("/ev", str(n).encode())
        if n == 15:
            reader.conn.drop_connection()  # the stream resumes on the next connection
    await writer.delete("/ev")
    await asyncio.wait_for(consumer, 10)
    assert values == [str(n) for n in range(31)]  # none coalesced
    await wait_until_async(lambda: seen and seen[-1] == (None, -1), what="deletion seen")
    assert seen == [("0", 0)] + [(str(n), n) for n in range(1, 31)] + [(None, -1)]
    await watcher.stop()


async def test_store_history_includes_writes_made_without_the_store(env: Env) -> None:
    zk = await env.client()
    store = ConfigStore(zk, "/plain", "str", history=0)  # no h- children at all
    await store.set("a")
    await zk.set("/plain", b"b")  # a write that bypasses the store
    await store.set("c")
    hist = [(h.value, h.version) for h in await store.history()]
    if env.backend.kind == "zookeeper":
        assert hist == []  # no history children, no stream
    else:
        assert hist == [("c", 2), ("b", 1), ("a", 0)]
