"""Watches: one-shot, persistent, recursive, removal, and callbacks kept off the I/O path."""

from __future__ import annotations

import asyncio
import threading

import pytest

from roost.client import EventType, NoWatcherError, SyncClient, WatchedEvent, WatcherType
from roost.testing.wait import wait_until_async

from .helpers import DEADLINE, Env


def kinds(events: list[WatchedEvent]) -> list[tuple[EventType, str]]:
    return [(e.type, e.path) for e in events]


async def test_one_shot_data_watch_fires_once(env: Env) -> None:
    zk = await env.client()
    other = await env.client()
    await zk.create("/d", b"0")
    events: list[WatchedEvent] = []
    await zk.get("/d", watch=events.append)
    await other.set("/d", b"1")
    await wait_until_async(lambda: events)
    await other.set("/d", b"2")
    await other.sync("/")
    await zk.sync("/")  # any second event would have arrived before this reply
    assert kinds(events) == [(EventType.NODE_DATA_CHANGED, "/d")]


async def test_exists_child_and_delete_watches(env: Env) -> None:
    zk = await env.client()
    other = await env.client()
    created: list[WatchedEvent] = []
    assert await zk.exists("/w", watch=created.append) is None
    await other.create("/w")
    await wait_until_async(lambda: created)
    assert kinds(created) == [(EventType.NODE_CREATED, "/w")]

    child: list[WatchedEvent] = []
    data: list[WatchedEvent] = []
    await zk.children("/w", watch=child.append)
    await zk.get("/w", watch=data.append)
    await other.create("/w/kid")
    await wait_until_async(lambda: child)
    assert kinds(child) == [(EventType.NODE_CHILDREN_CHANGED, "/w")]
    await other.delete("/w/kid")
    await other.delete("/w")
    await wait_until_async(lambda: data)
    assert kinds(data) == [(EventType.NODE_DELETED, "/w")]


async def test_persistent_watch_keeps_firing(env: Env) -> None:
    zk = await env.client()
    other = await env.client()
    await zk.create("/p")
    events: list[WatchedEvent] = []
    await zk.add_watch("/p", events.append)
    await other.set("/p", b"1")
    await other.set("/p", b"2")
    await other.create("/p/kid")
    await other.create("/p/kid/grandkid")  # not the watched node: no event
    await wait_until_async(lambda: len(events) >= 3)
    await zk.sync("/")
    assert kinds(events) == [
        (EventType.NODE_DATA_CHANGED, "/p"),
        (EventType.NODE_DATA_CHANGED, "/p"),
        (EventType.NODE_CHILDREN_CHANGED, "/p"),
    ]


async def test_recursive_watch_covers_the_subtree(env: Env) -> None:
    zk = await env.client()
    other = await env.client()
    await zk.create("/tree")
    events: list[WatchedEvent] = []
    await zk.add_watch("/tree", events.append, recursive=True)
    await other.create("/tree/a")
    await other.create("/tree/a/b", b"x")
    await other.set("/tree/a/b", b"y")
    await other.delete("/tree/a/b")
    await wait_until_async(lambda: len(events) >= 4)
    await zk.sync("/")
    assert kinds(events) == [
        (EventType.NODE_CREATED, "/tree/a"),
        (EventType.NODE_CREATED, "/tree/a/b"),
        (EventType.NODE_DATA_CHANGED, "/tree/a/b"),
        (EventType.NODE_DELETED, "/tree/a/b"),
    ]


async def test_remove_watches(env: Env) -> None:
    zk = await env.client()
    other = await env.client()
    await zk.create("/rw")
    events: list[WatchedEvent] = []
    await zk.get("/rw", watch=events.append)
    await zk.remove_watches("/rw", WatcherType.DATA)
    await wait_until_async(lambda: events)
    assert kinds(events) == [(EventType.DATA_WATCH_REMOVED, "/rw")]
    await other.set("/rw", b"changed")
    await other.sync("/")
    await zk.sync("/")
    assert len(events) == 1
    with pytest.raises(NoWatcherError):
        await zk.remove_watches("/rw", WatcherType.CHILDREN)


async def test_async_callbacks_run_in_order_and_do_not_block_requests(env: Env) -> None:
    zk = await env.client()
    other = await env.client()
    await zk.create("/slow")
    release = asyncio.Event()
    seen: list[str] = []

    async def slow(ev: WatchedEvent) -> None:
        seen.append("slow-start")
        await release.wait()
        seen.append("slow-end")

    def fast(ev: WatchedEvent) -> None:
        seen.append("fast")

    await zk.exists("/slow", watch=slow)
    await zk.children("/slow", watch=fast)
    await other.set("/slow", b"x")
    await wait_until_async(lambda: seen)
    await other.create("/slow/kid")
    # The client keeps working while the first callback is stuck.
    for _ in range(20):
        assert (await zk.get("/slow"))[0] == b"x"
    await zk.sync("/")
    assert seen == ["slow-start"]
    release.set()
    await wait_until_async(lambda: len(seen) == 3)
    assert seen == ["slow-start", "slow-end", "fast"]


def test_sync_facade_blocking_callback_does_not_stall_the_connection(env: Env) -> None:
    gate = threading.Event()
    fired = threading.Event()

    def blocking(ev: WatchedEvent) -> None:
        fired.set()
        gate.wait(DEADLINE)

    hosts = env.backend.hosts
    with SyncClient(hosts, session_timeout=10.0) as zk, SyncClient(hosts) as other:
        zk.ensure_path(env.base)
        path = env.base + "/blocking"
        zk.create(path, b"0")
        zk.get(path, watch=blocking)
        other.set(path, b"1")
        assert fired.wait(DEADLINE)
        # The callback thread is stuck, yet requests on the same client are answered.
        assert zk.get(path)[0] == b"1"
        assert zk.exists(path) is not None
        gate.set()
        zk.delete(path)


async def test_remove_persistent_watch(env: Env) -> None:
    zk = await env.client()
    other = await env.client()
    await zk.create("/pr")
    events: list[WatchedEvent] = []
    await zk.add_watch("/pr", events.append, recursive=True)
    await other.set("/pr", b"1")
    await wait_until_async(lambda: events)
    await zk.remove_watches("/pr", WatcherType.ANY)
    await wait_until_async(lambda: len(events) == 2)
    await other.create("/pr/kid")
    await other.sync("/")
    await zk.sync("/")
    assert kinds(events) == [
        (EventType.NODE_DATA_CHANGED, "/pr"),
        (EventType.PERSISTENT_WATCH_REMOVED, "/pr"),
    ]
