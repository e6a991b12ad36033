"""Watches as async iterators: watch_data / watch_children re-arm and re-read after each
event (so the final value is never missed), watch_events wraps a persistent watch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TypeVar

from roost.client import (
    ChildrenSnapshot,
    Client,
    DataSnapshot,
    EventType,
    KeeperState,
    WatchedEvent,
)
from roost.client.watches import WatchKind
from roost.testing.wait import wait_until_async

from .helpers import Env

T = TypeVar("T")


def consume(it: AsyncIterator[T], out: list[T]) -> asyncio.Future[None]:
    async def run() -> None:
        async for item in it:
            out.append(item)

    return asyncio.ensure_future(run())


async def test_watch_data_follows_create_changes_and_delete(env: Env) -> None:
    zk = await env.client()
    writer = await env.client()
    snaps: list[DataSnapshot] = []
    task = consume(zk.watch_data("/cfg"), snaps)
    await wait_until_async(lambda: snaps, what="first snapshot")
    assert snaps[0] == DataSnapshot(None, None, None) and not snaps[0].exists
    await writer.create("/cfg", b"v0")
    await wait_until_async(lambda: snaps[-1].data == b"v0", what="created")
    assert snaps[-1].event is not None and snaps[-1].event.type is EventType.NODE_CREATED
    # A burst of writes faster than the consumer: coalesced, but the last value arrives.
    await asyncio.gather(*(writer.set("/cfg", f"v{i}".encode()) for i in range(1, 21)))
    await wait_until_async(lambda: snaps[-1].data == b"v20", what="final value")
    versions = [s.stat.version for s in snaps if s.stat is not None]
    assert versions == sorted(set(versions)) and versions[-1] == 20
    await writer.delete("/cfg")
    await wait_until_async(lambda: not snaps[-1].exists, what="deleted")
    assert snaps[-1].event is not None and snaps[-1].event.type.name == "NODE_DELETED"
    await zk.close()
    await asyncio.wait_for(task, 5)  # ends when the client closes


async def test_watch_children_sees_the_final_child_list(env: Env) -> None:
    zk = await env.client()
    writer = await env.client()
    await writer.create("/jobs")
    snaps: list[ChildrenSnapshot] = []
    task = consume(zk.watch_children("/jobs"), snaps)
    await wait_until_async(lambda: snaps, what="first snapshot")
    assert snaps[0].children == []
    await asyncio.gather(*(writer.create(f"/jobs/j{i}") for i in range(10)))
    await writer.delete("/jobs/j3")
    expected = sorted(f"j{i}" for i in range(10) if i != 3)
    await wait_until_async(lambda: snaps[-1].children == expected, what="final children")
    await writer.delete("/jobs", recursive=True)
    await wait_until_async(lambda: snaps[-1].children is None, what="parent deleted")
    task.cancel()


async def test_leaving_the_loop_drops_the_watch_callback(env: Env) -> None:
    zk = await env.client()
    await zk.create("/x", b"1")
    it = zk.watch_data("/x")
    first = await anext(it)
    assert first.data == b"1" and zk.conn.watches.watching("/x")
    await it.aclose()  # type: ignore[attr-defined]
    assert not zk.conn.watches.watching("/x")


async def test_watch_data_carries_on_across_a_reconnect(env: Env) -> None:
    proxy = await env.proxy()
    zk = await env.client(hosts=proxy.hosts)
    writer = await env.client()
    await writer.create("/r", b"a")
    snaps: list[DataSnapshot] = []
    task = consume(zk.watch_data("/r"), snaps)
    await wait_until_async(lambda: snaps, what="first snapshot")
    proxy.blocked = True
    proxy.cut()
    await writer.set("/r", b"b")
    await writer.set("/r", b"c")
    proxy.blocked = False
    await wait_until_async(lambda: snaps[-1].data == b"c", what="value changed while disconnected")
    await writer.set("/r", b"d")
    await wait_until_async(lambda: snaps[-1].data == b"d", what="watch re-armed after reconnect")
    task.cancel()


async def test_watch_events_recursive_and_removed_on_exit(env: Env) -> None:
    zk = await env.client()
    writer = await env.client()
    await writer.create("/tree")
    events: list[WatchedEvent] = []
    it = zk.watch_events("/tree", recursive=True)
    task = consume(it, events)
    await wait_until_async(lambda: zk.conn.watches.paths(WatchKind.RECURSIVE), what="watch added")
    await writer.create("/tree/a", b"1")
    await writer.create("/tree/a/b")
    await writer.set("/tree/a", b"2")
    await writer.delete("/tree/a/b")
    await wait_until_async(lambda: len(events) >= 4, what="four events")
    assert [(e.type, e.path) for e in events] == [
        (EventType.NODE_CREATED, "/tree/a"),
        (EventType.NODE_CREATED, "/tree/a/b"),
        (EventType.NODE_DATA_CHANGED, "/tree/a"),
        (EventType.NODE_DELETED, "/tree/a/b"),
    ]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await wait_until_async(lambda: not zk.conn.watches.watching("/tree"), what="local removal")
    # Removed on the server as well: a later change reaches nobody, and removing again fails.
    await _assert_no_server_watch(zk, "/tree")


async def _assert_no_server_watch(zk: Client, path: str) -> None:
    from roost.client import NoWatcherError, WatcherType

    try:
        await zk.remove_watches(path, WatcherType.ANY)
    except NoWatcherError:
        return
    raise AssertionError(f"the server still had a watch on {path}")


async def test_watch_events_reports_expiry_and_rearms_on_the_new_session(env: Env) -> None:
    from .test_state import expire_session

    proxy = await env.proxy()
    zk = await env.client(hosts=proxy.hosts)
    writer = await env.client()
    await writer.create("/p", b"0")
    events: list[WatchedEvent] = []
    task = consume(zk.watch_events("/p"), events)
    await wait_until_async(lambda: zk.conn.watches.paths(WatchKind.PERSISTENT), what="watch added")
    old_sid = zk.session_id
    proxy.blocked = True
    proxy.cut()
    await expire_session(env.backend, *zk.client_id)
    proxy.blocked = False
    await wait_until_async(lambda: events, what="EXPIRED event")
    assert (events[0].type, events[0].state) == (EventType.NONE, KeeperState.EXPIRED)
    await wait_until_async(lambda: zk.session_id not in (0, old_sid) and zk.conn.watches.paths(
        WatchKind.PERSISTENT), what="watch added again on the new session")
    await writer.set("/p", b"1")
    await wait_until_async(lambda: len(events) >= 2, what="event on the new session")
    assert (events[1].type, events[1].path) == (EventType.NODE_DATA_CHANGED, "/p")
    task.cancel()
