"""Semaphore, DistributedQueue, Counter, Barrier and DoubleBarrier against roost and ZooKeeper."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable

import pytest
from kazoo.client import KazooClient
from kazoo.recipe.counter import Counter as KazooCounter

from roost.recipes import (
    AcquireTimeout,
    Barrier,
    Counter,
    DistributedQueue,
    DoubleBarrier,
    Semaphore,
)
from roost.testing.wait import wait_until_async

from .helpers import Env, GrantLog, expire


async def at_least(children: Awaitable[list[str]], n: int) -> bool:
    return len(await children) >= n


async def test_semaphore_never_exceeds_its_leases(env: Env) -> None:
    clients = [await env.client() for _ in range(5)]
    log = GrantLog(limit=2)
    rng = random.Random(11)
    tokens: list[int] = []

    async def worker(i: int) -> None:
        sem = Semaphore(clients[i], "/sem", 2, f"w{i}")
        for _ in range(3):
            async with await sem.acquire(timeout=20) as lease:
                log.enter(f"w{i}", lease.token)
                tokens.append(lease.token)
                await asyncio.sleep(rng.uniform(0, 0.02))  # work while held (seeded)
                log.leave(f"w{i}")

    await asyncio.gather(*(worker(i) for i in range(5)))
    assert len(log.grants) == 15 and log.max_seen == 2
    assert len(set(tokens)) == 15
    assert await clients[0].children("/sem") == []


async def test_semaphore_timeout_and_holders(env: Env) -> None:
    a, b = await env.client(), await env.client()
    sa, sb = Semaphore(a, "/sem", 1, "a"), Semaphore(b, "/sem", 1, "b")
    lease = await sa.acquire()
    assert await sb.holders() == ["a"]
    with pytest.raises(AcquireTimeout):
        await sb.acquire(timeout=0.3)
    waiting = asyncio.ensure_future(sb.acquire(timeout=15))
    await wait_until_async(lambda: at_least(a.children("/sem"), 2), what="b queued")
    await expire(env.backend, a)  # the holder's session ends: its lease goes with it
    lease_b = await asyncio.wait_for(waiting, 15)
    assert lease_b.token > lease.token
    assert await sb.holders() == ["b"]
    await lease_b.release()


async def test_queue_is_fifo_and_each_item_is_taken_once(env: Env) -> None:
    producer = await env.client()
    consumers = [await env.client() for _ in range(3)]
    q = DistributedQueue(producer, "/queue")
    for i in range(30):
        await q.put(f"item-{i}".encode())
    taken: list[tuple[int, bytes]] = []

    async def consume(k: int) -> None:
        cq = DistributedQueue(consumers[k], "/queue")
        while (item := await cq.get_nowait()) is not None:
            taken.append((k, item))

    await asyncio.gather(*(consume(k) for k in range(3)))
    items = [item for _, item in taken]
    assert sorted(items) == sorted(f"item-{i}".encode() for i in range(30))
    assert len(items) == len(set(items)) == 30  # exactly once
    one = [item for k, item in taken if k == 0]
    assert one == sorted(one, key=lambda b: int(b.split(b"-")[1]))  # FIFO per consumer
    assert await q.items() == []
    assert [k for k in await producer.children("/queue") if k.startswith("claim-")] == []


async def test_queue_get_waits_for_a_put(env: Env) -> None:
    a, b = await env.client(), await env.client()
    getter = asyncio.ensure_future(DistributedQueue(a, "/q").get(timeout=10))
    await DistributedQueue(b, "/q").put(b"late")
    assert await asyncio.wait_for(getter, 10) == b"late"
    with pytest.raises(AcquireTimeout):
        await DistributedQueue(a, "/q").get(timeout=0.2)


async def test_counter_is_atomic_and_kazoo_compatible(env: Env) -> None:
    clients = [await env.client() for _ in range(4)]
    counters = [Counter(c, "/count") for c in clients]
    await asyncio.gather(*(c.add(1) for c in counters for _ in range(10)))
    assert await counters[0].value() == 40
    assert await counters[1].subtract(5) == 35
    kz = KazooClient(hosts=env.backend.hosts + env.base, timeout=10)
    await asyncio.to_thread(kz.start, 20)
    try:
        kc = KazooCounter(kz, "/count")
        assert kc.value == 35
        await asyncio.to_thread(kc.__add__, 5)
    finally:
        await asyncio.to_thread(kz.stop)
        await asyncio.to_thread(kz.close)
    assert await counters[2].value() == 40


async def test_barrier_holds_until_removed(env: Env) -> None:
    a, b = await env.client(), await env.client()
    gate = Barrier(a, "/barrier")
    assert await gate.create() and not await gate.create()
    waiter = asyncio.ensure_future(Barrier(b, "/barrier").wait(timeout=10))
    assert not await Barrier(b, "/barrier").wait(timeout=0.2)
    assert not waiter.done()
    assert await gate.remove() and not await gate.remove()
    assert await asyncio.wait_for(waiter, 10)


async def test_double_barrier_enters_and_leaves_together(env: Env) -> None:
    clients = [await env.client() for _ in range(3)]
    events: list[str] = []

    async def member(i: int) -> None:
        db = DoubleBarrier(clients[i], "/db", 3, f"m{i}")
        # staggered arrivals and departures are the scenario, not waits: the assertions
        # below hold for any timing
        await asyncio.sleep(0.05 * i)
        events.append(f"arrive{i}")
        await db.enter(timeout=10)
        events.append(f"in{i}")
        await asyncio.sleep(0.05 * (2 - i))
        events.append(f"done{i}")
        await db.leave(timeout=10)
        events.append(f"out{i}")

    await asyncio.gather(*(member(i) for i in range(3)))
    first_in = min(events.index(f"in{i}") for i in range(3))
    assert all(events.index(f"arrive{i}") < first_in for i in range(3))
    first_out = min(events.index(f"out{i}") for i in range(3))
    assert all(events.index(f"done{i}") < first_out for i in range(3))
    assert await clients[0].children("/db") == []
    with pytest.raises(AcquireTimeout):
        await DoubleBarrier(clients[0], "/db", 2, "alone").enter(timeout=0.3)


async def test_semaphore_waiters_do_not_herd(env: Env) -> None:
    from roost.client.watches import WatchKind

    clients = [await env.client() for _ in range(5)]
    sems = [Semaphore(c, "/sem", 2, f"p{i}") for i, c in enumerate(clients)]
    leases = [await sems[0].acquire(), await sems[1].acquire()]
    tasks = []
    for i in (2, 3, 4):  # queue one by one, so node order is participant order
        tasks.append(asyncio.ensure_future(sems[i].acquire(timeout=20)))
        await wait_until_async(lambda n=i + 1: at_least(clients[0].children("/sem"), n),
                               what=f"participant {i} queued")
    names = sorted(await clients[0].children("/sem"), key=lambda n: n[-10:])

    def watches(i: int) -> tuple[list[str], list[str]]:
        reg = clients[i].conn.watches
        return reg.paths(WatchKind.CHILD), reg.paths(WatchKind.DATA)

    async def settled(i: int, child: list[str], data: list[str]) -> None:
        await wait_until_async(lambda: watches(i) == (child, data), 10,
                               what=f"p{i} to watch {(child, data)}")

    await settled(2, ["/sem"], [])  # the first waiter watches the children
    await settled(3, [], [f"/sem/{names[2]}"])  # later waiters: only their predecessor
    await settled(4, [], [f"/sem/{names[3]}"])
    await leases[0].release()
    lease2 = await asyncio.wait_for(tasks[0], 10)
    await settled(3, ["/sem"], [])  # woken by p2's grant, now first in line
    await settled(4, [], [f"/sem/{names[3]}"])  # still on its predecessor only
    for lease in (leases[1], lease2):
        await lease.release()
    for t in tasks[1:]:
        await (await asyncio.wait_for(t, 10)).release()
