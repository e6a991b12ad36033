"""connect(), the states() iterator, and Curator's LOST-by-timer (TN12): a client that
stays SUSPENDED for longer than the session timeout declares the session LOST itself."""

from __future__ import annotations

import asyncio

import pytest

from roost.client import (
    ClientState,
    EventType,
    KeeperState,
    SessionExpiredError,
    StateChange,
    WatchedEvent,
    connect,
)
from roost.testing.wait import wait_until_async
from roost.testing.zookeeper import free_port

from .helpers import Env

S = ClientState


async def _collect(stream: object, out: list[StateChange]) -> None:
    async for change in stream:  # type: ignore[attr-defined]
        out.append(change)


async def test_connect_gives_a_started_client_and_closes_it(env: Env) -> None:
    await env.ensure_base()
    hosts = env.backend.hosts + env.base
    async with connect(hosts, session_timeout=6, auth=[("digest", "alice:secret")]) as zk:
        assert zk.state is S.CONNECTED and zk.connected
        assert zk.chroot == env.base and 4.0 <= zk.session_timeout <= 6.0
        assert ("digest", "alice") in await zk.who_am_i()
        assert await zk.create("/made", b"x") == "/made"
    assert zk.state.name == "CLOSED" and not zk.connected
    async with connect(env.backend.hosts) as root:
        assert (await root.get(env.base + "/made"))[0] == b"x"


async def test_connect_fails_without_a_server() -> None:
    with pytest.raises(Exception, match="could not connect"):
        async with connect(f"127.0.0.1:{free_port()}", timeout=0.3):
            raise AssertionError("body must not run")


async def test_states_iterator_follows_suspend_reconnect_and_ends_on_close(env: Env) -> None:
    proxy = await env.proxy()
    zk = await env.client(hosts=proxy.hosts)
    seen: list[StateChange] = []
    reader = asyncio.ensure_future(_collect(zk.states(), seen))
    sid = zk.session_id
    proxy.cut()
    await wait_until_async(lambda: [c.state for c in seen] == [S.SUSPENDED, S.RECONNECTED],
                           what="SUSPENDED then RECONNECTED")
    assert seen[1].previous is S.SUSPENDED and seen[1].session_id == sid
    await zk.close()
    await asyncio.wait_for(reader, 5)  # the iteration ends by itself after CLOSED
    assert [c.state for c in seen] == [S.SUSPENDED, S.RECONNECTED, S.CLOSED]
    assert [c.state async for c in zk.states()] == []  # nothing more once closed


async def test_suspended_past_the_session_timeout_is_lost(env: Env) -> None:
    proxy = await env.proxy()
    other = await env.client()
    zk = await env.client(hosts=proxy.hosts, session_timeout=4.0)
    changes: list[StateChange] = []
    zk.add_listener(changes.append)
    old_sid = zk.session_id
    await zk.create("/eph", ephemeral=True)
    events: list[WatchedEvent] = []
    await zk.get("/eph", watch=events.append)
    loop = asyncio.get_running_loop()
    proxy.blocked = True
    proxy.cut()
    await wait_until_async(lambda: S.SUSPENDED in [c.state for c in changes], what="SUSPENDED")
    suspended_at = loop.time()
    waiting = asyncio.ensure_future(zk.exists("/eph"))  # queued while suspended
    await wait_until_async(lambda: S.LOST in [c.state for c in changes], timeout=10, what="LOST")
    # Declared by the timer, not by a server: no connection was possible meanwhile.
    assert loop.time() - suspended_at >= zk.session_timeout - 0.1
    assert [c.state for c in changes] == [S.SUSPENDED, S.LOST]
    with pytest.raises(SessionExpiredError):
        await waiting
    await wait_until_async(lambda: events, what="EXPIRED watch event")
    assert events == [WatchedEvent(EventType.NONE, KeeperState.EXPIRED, "/eph")]
    proxy.blocked = False
    await zk.wait_for(S.RECONNECTED, timeout=10)
    assert zk.session_id not in (0, old_sid)
    assert changes[-1].previous is S.LOST
    # The old session is gone on the server too (it expired there on its own).
    async def gone() -> bool:
        return await other.exists("/eph") is None

    await wait_until_async(gone, 10, interval=0.1, what="the old session's ephemeral to go")
