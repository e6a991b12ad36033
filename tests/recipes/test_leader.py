"""LeaderLatch and LeaderSelector against roost and ZooKeeper: one leader at a time, hand-over
on close and on session expiry with growing tokens, SUSPENDED handling per policy, rotation
with auto-requeue and cancellation of take_leadership on a dropped connection."""

from __future__ import annotations

import asyncio

from roost.client import Client
from roost.recipes import CloseMode, FencingGate, LeaderLatch, LeaderSelector
from roost.testing.wait import wait_until_async

from .helpers import SHORT_SESSION, Env, GrantLog, Proxy, expire, states_of


def leaders(latches: list[LeaderLatch]) -> list[LeaderLatch]:
    return [lt for lt in latches if lt.has_leadership()]


async def test_latch_hands_over_when_the_leader_closes(env: Env) -> None:
    clients = [await env.client() for _ in range(3)]
    events: list[str] = []
    latches = []
    for i, c in enumerate(clients):
        latch = LeaderLatch(c, "/latch", f"c{i}", close_mode=CloseMode.NOTIFY_LEADER)
        latch.add_listener(is_leader=lambda i=i: events.append(f"c{i}+"),
                           not_leader=lambda i=i: events.append(f"c{i}-"))
        latches.append(latch)
        await latch.start()
    assert await latches[0].await_leadership(5)
    assert [lt.id for lt in leaders(latches)] == ["c0"]
    assert not await latches[1].await_leadership(0.2)
    parts = await latches[2].participants()
    assert [(p.id, p.is_leader) for p in parts] == [("c0", True), ("c1", False), ("c2", False)]
    from roost.client.watches import WatchKind

    def watched(i: int) -> list[str]:
        return clients[i].conn.watches.paths(WatchKind.DATA)

    for i in (1, 2):  # each follower watches only the node just before its own
        expected = [f"/latch/{parts[i - 1].node}"]
        await wait_until_async(lambda: watched(i) == expected, what=f"c{i} watch")  # noqa: B023
    tokens = [latches[0].token or 0]
    for i in range(2):
        await latches[i].close()
        nxt = latches[i + 1]
        assert await nxt.await_leadership(5)
        assert [lt.id for lt in leaders(latches)] == [nxt.id]
        tokens.append(nxt.token or 0)
    assert tokens == sorted(tokens) and len(set(tokens)) == 3
    await wait_until_async(lambda: len(events) == 5, what="listener calls")
    assert events == ["c0+", "c0-", "c1+", "c1-", "c2+"]
    assert (await latches[2].leader()).id == "c2"  # type: ignore[union-attr]
    await latches[2].close()
    assert not latches[2].has_leadership()


async def test_latch_leader_session_expiry_hands_over(env: Env) -> None:
    a = await env.client(session_timeout=SHORT_SESSION)
    b = await env.client()
    la, lb = LeaderLatch(a, "/latch", "a"), LeaderLatch(b, "/latch", "b")
    await la.start()
    assert await la.await_leadership(5)
    await lb.start()
    gate = FencingGate()
    old_token = la.token
    assert old_token is not None
    gate.admit(old_token)
    await expire(env.backend, a)
    assert await lb.await_leadership(15)
    assert not la.has_leadership()
    assert lb.token is not None and lb.token > old_token
    gate.admit(lb.token)
    assert not gate.would_admit(old_token)
    # the expired participant joins again, behind b
    await wait_until_async(lambda: la.node is not None and la.token is not None
                           and la.token > (lb.token or 0), what="rejoin")
    parts = await lb.participants()
    assert [p.id for p in parts] == ["b", "a"]
    await la.close()
    await lb.close()


async def _latch_through_proxy(env: Env, lose_on: str) -> tuple[Proxy, Client, LeaderLatch,
                                                                list[str]]:
    proxy = await env.proxy()
    await env.ensure_base()
    c = await env.client(hosts=proxy.hosts, session_timeout=SHORT_SESSION)
    latch = LeaderLatch(c, "/latch", "p", lose_on=lose_on)
    events: list[str] = []
    latch.add_listener(is_leader=lambda: events.append("+"), not_leader=lambda: events.append("-"))
    await latch.start()
    assert await latch.await_leadership(5)
    return proxy, c, latch, events


async def test_suspended_ends_leadership_and_reconnect_regains_it(env: Env) -> None:
    proxy, c, latch, events = await _latch_through_proxy(env, "suspended")
    token = latch.token
    seen = states_of(c)
    proxy.blocked = True
    proxy.cut()
    await wait_until_async(lambda: "SUSPENDED" in [s.value for s in seen], what="SUSPENDED")
    await wait_until_async(lambda: not latch.has_leadership(), what="leadership dropped")
    proxy.blocked = False
    await wait_until_async(lambda: latch.has_leadership(), what="leadership regained")
    assert latch.token == token  # same node, same session: same grant
    await wait_until_async(lambda: events == ["+", "-", "+"], what="listener calls")
    await latch.close()


async def test_lose_on_lost_keeps_leadership_over_a_short_disconnect(env: Env) -> None:
    proxy, c, latch, events = await _latch_through_proxy(env, "lost")
    seen = states_of(c)
    proxy.blocked = True
    proxy.cut()
    await wait_until_async(lambda: "SUSPENDED" in [s.value for s in seen], what="SUSPENDED")
    assert latch.has_leadership()  # the lease still covers us
    proxy.blocked = False
    await wait_until_async(lambda: seen[-1].value == "RECONNECTED", what="reconnect")
    # nothing should change: a bounded window in which the latch's re-check after
    # RECONNECTED (one round trip on loopback) would have called a listener
    await asyncio.sleep(0.1)
    assert latch.has_leadership() and events == ["+"]
    await latch.close()


async def test_lose_on_lost_gives_up_before_anyone_else_can_lead(env: Env) -> None:
    """A long partition: the old leader steps down at its lease deadline, before the
    server expires its session and the next participant is told it leads."""
    proxy, _, latch, events = await _latch_through_proxy(env, "lost")
    other_client = await env.client()
    other = LeaderLatch(other_client, "/latch", "other")
    await other.start()
    loop = asyncio.get_running_loop()
    stepped_down: list[float] = []
    took_over: list[float] = []
    latch.add_listener(not_leader=lambda: stepped_down.append(loop.time()))
    other.add_listener(is_leader=lambda: took_over.append(loop.time()))
    proxy.blocked = True
    proxy.cut()
    await wait_until_async(lambda: took_over, timeout=20, what="the other participant leads")
    assert stepped_down and stepped_down[0] < took_over[0]
    assert not latch.has_leadership() and events == ["+", "-"]
    proxy.blocked = False
    await other.close()
    await latch.close()


async def test_selector_rotates_with_auto_requeue(env: Env) -> None:
    clients = [await env.client() for _ in range(3)]
    log = GrantLog()
    turns: list[str] = []

    def make(i: int) -> LeaderSelector:
        async def lead(sel: LeaderSelector) -> None:
            assert sel.has_leadership() and sel.token is not None
            log.enter(sel.id, sel.token)
            turns.append(sel.id)
            await asyncio.sleep(0.05)  # the leader's work: a hold, not a wait
            log.leave(sel.id)

        return LeaderSelector(clients[i], "/sel", lead, f"s{i}", auto_requeue=True)

    selectors = [make(i) for i in range(3)]
    for s in selectors:
        await s.start()
    await wait_until_async(lambda: len(turns) >= 9, timeout=20, what="nine terms")
    for s in selectors:
        await s.close()
    # fair: in every window of three consecutive terms, each participant leads once
    assert all(sorted(turns[i:i + 3]) == ["s0", "s1", "s2"] for i in range(0, 9, 3)), turns
    tokens = [t for _, t in log.grants]
    assert tokens == sorted(tokens) and len(set(tokens)) == len(tokens)


async def test_selector_cancelled_at_once_when_suspended(env: Env) -> None:
    proxy = await env.proxy()
    await env.ensure_base()
    c = await env.client(hosts=proxy.hosts, session_timeout=SHORT_SESSION)
    watcher = await env.client()
    started: list[int] = []
    cancelled: list[int] = []

    async def lead(sel: LeaderSelector) -> None:
        started.append(sel.terms)
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(sel.terms)
            raise

    sel = LeaderSelector(c, "/sel", lead, "p", auto_requeue=True)
    await sel.start()
    await wait_until_async(lambda: started == [1], what="first term")
    assert await sel.leader_id() == "p"
    proxy.blocked = True
    proxy.cut()
    await wait_until_async(lambda: cancelled == [1], timeout=2, what="cancel on SUSPENDED")
    assert not sel.has_leadership()
    proxy.blocked = False
    await wait_until_async(lambda: started == [1, 2], what="queued again after RECONNECTED")
    assert len(await watcher.children("/sel")) == 1  # the old node was removed
    await sel.close()
    await wait_until_async(lambda: cancelled == [1, 2], what="close cancels the term")


async def test_selector_terms_under_leader_expiry_never_overlap(env: Env) -> None:
    """Expire the leading participant's session again and again: each time another one
    takes over, terms never overlap in the shared log, and tokens only grow."""
    clients = [await env.client(session_timeout=SHORT_SESSION) for _ in range(3)]
    log = GrantLog()
    current: dict[str, Client] = {}
    ended: list[str] = []

    def make(i: int) -> LeaderSelector:
        async def lead(sel: LeaderSelector) -> None:
            log.enter(sel.id, sel.token or 0)
            current["leader"] = sel.client
            try:
                await asyncio.sleep(60)
            finally:
                log.leave(sel.id)
                ended.append(sel.id)

        return LeaderSelector(clients[i], "/sel", lead, f"s{i}", auto_requeue=True)

    selectors = [make(i) for i in range(3)]
    for s in selectors:
        await s.start()
    for round_ in range(1, 4):
        await wait_until_async(lambda: len(log.grants) >= round_,  # noqa: B023
                               timeout=20, what="a term")
        await expire(env.backend, current["leader"])
    await wait_until_async(lambda: len(log.grants) == 4, timeout=20, what="fourth term")
    assert len(ended) == 3
    for s in selectors:
        await s.close()


async def test_close_returns_even_if_the_cancellation_is_lost(env: Env) -> None:
    # On Python 3.11 asyncio.wait_for can swallow a cancellation that arrives together with
    # the reply it waits for (CPython gh-86296); the latch's loop then goes on after
    # close() cancelled it. Simulate that: close() cancels the loop while it is inside
    # exists(), and that exists() swallows the cancellation and completes normally.
    a, b = await env.client(), await env.client()
    first, second = LeaderLatch(a, "/lost-cancel", "a"), LeaderLatch(b, "/lost-cancel", "b")
    await first.start()
    assert await first.await_leadership(5)
    await second.start()
    original_exists = b.exists
    entered, release = asyncio.Event(), asyncio.Event()
    swallowed: list[bool] = []

    async def exists_losing_the_cancel(*args: object, **kwargs: object) -> object:
        entered.set()
        try:
            await release.wait()
        except asyncio.CancelledError:
            swallowed.append(True)
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
        return await original_exists(*args, **kwargs)  # type: ignore[arg-type]

    b.exists = exists_losing_the_cancel  # type: ignore[method-assign]
    second._wake.set()  # send the waiting latch round its loop: it calls exists again
    await asyncio.wait_for(entered.wait(), 5)
    closing = asyncio.ensure_future(second.close())
    await wait_until_async(lambda: swallowed, what="close() to cancel the exists call")
    release.set()
    await asyncio.wait_for(closing, 10)
    assert swallowed == [True]
    assert second._task is not None and second._task.done()
    await first.close()
