"""Lock and ReadWriteLock against roost and ZooKeeper: exclusion, reentrancy, timeouts,
holder expiry with fencing, the partial-create race, and kazoo interoperability."""

from __future__ import annotations

import asyncio
import random

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import LockTimeout
from kazoo.recipe.lock import Lock as KazooLock

from roost.recipes import AcquireTimeout, FencingGate, Lock, ReadWriteLock, StaleTokenError
from roost.testing.proxy import TcpProxy
from roost.testing.wait import wait_until_async

from .helpers import SHORT_SESSION, Env, GrantLog, expire, states_of


async def test_contenders_exclude_each_other_and_tokens_grow(env: Env) -> None:
    clients = [await env.client() for _ in range(4)]
    log = GrantLog()
    rng = random.Random(7)

    async def worker(i: int) -> None:
        lock = Lock(clients[i], "/lock", identifier=f"w{i}")
        for _ in range(3):
            async with lock:
                assert lock.token is not None and lock.is_held()
                log.enter(f"w{i}", lock.token)
                await asyncio.sleep(rng.uniform(0, 0.02))  # work while held (seeded)
                log.leave(f"w{i}")

    await asyncio.gather(*(worker(i) for i in range(4)))
    assert len(log.grants) == 12
    assert sorted({w for w, _ in log.grants}) == ["w0", "w1", "w2", "w3"]
    assert await clients[0].children("/lock") == []


async def test_reentrant_per_owner_and_timeout_cleans_up(env: Env) -> None:
    a, b = await env.client(), await env.client()
    lock = Lock(a, "/lock", "a")
    t1 = await lock.acquire()
    assert await lock.acquire() == t1 and lock.hold_count == 2
    other = Lock(b, "/lock", "b")
    with pytest.raises(AcquireTimeout):
        await other.acquire(timeout=0.3)
    assert len(await a.children("/lock")) == 1  # the timed-out waiter removed its node
    # a second owner of the same object waits for the first one, it does not re-enter
    with pytest.raises(AcquireTimeout):
        await lock.acquire(timeout=0.2, owner="someone-else")
    assert await lock.contenders() == ["a"]
    await lock.release()
    assert lock.is_held()
    await lock.release()
    assert not lock.is_held()
    t2 = await other.acquire(timeout=5)
    assert t2 > t1
    await other.release()


async def test_waiters_watch_only_their_predecessor(env: Env) -> None:
    clients = [await env.client() for _ in range(3)]
    locks = [Lock(c, "/lock", f"c{i}") for i, c in enumerate(clients)]
    await locks[0].acquire()
    tasks = [asyncio.ensure_future(locks[1].acquire())]
    await wait_until_kids(clients[0], 2)
    tasks.append(asyncio.ensure_future(locks[2].acquire()))
    kids = await wait_until_kids(clients[0], 3)
    ordered = sorted(kids, key=lambda n: n[-10:])
    from roost.client.watches import WatchKind

    await wait_until_async(lambda: clients[2].conn.watches.paths(WatchKind.DATA)
                           == [f"/lock/{ordered[1]}"], what="third contender watches the second")
    assert clients[1].conn.watches.paths(WatchKind.DATA) == [f"/lock/{ordered[0]}"]
    # the third contender waits on the second, not on the holder: deleting the holder's
    # node wakes only the second one
    await locks[0].release()
    await asyncio.wait_for(tasks[0], 5)
    assert not tasks[1].done()
    assert locks[1].is_held() and len(kids) == 3
    await locks[1].release()
    await asyncio.wait_for(tasks[1], 5)
    await locks[2].release()


async def wait_until_kids(client: object, n: int) -> list[str]:
    from roost.client import Client

    assert isinstance(client, Client)
    kids: list[str] = []

    async def count() -> int:
        nonlocal kids
        kids = await client.children("/lock")
        return len(kids)

    async def queued() -> bool:
        return await count() >= n

    await wait_until_async(queued, 10, what="the contenders to queue")
    return kids


async def test_holder_session_expiry_hands_over_with_a_larger_token(env: Env) -> None:
    a = await env.client(session_timeout=SHORT_SESSION)
    b = await env.client()
    lost: list[str] = []
    la = Lock(a, "/lock", "a", on_lost=lambda: lost.append("lost"))
    lb = Lock(b, "/lock", "b")
    gate = FencingGate()
    ta = await la.acquire()
    gate.admit(ta)
    waiting = asyncio.ensure_future(lb.acquire())
    await wait_until_kids(b, 2)
    seen = states_of(a)
    await expire(env.backend, a)
    tb = await asyncio.wait_for(waiting, 15)
    assert tb > ta
    gate.admit(tb)
    with pytest.raises(StaleTokenError):
        gate.admit(ta)  # the deposed holder's write is refused
    await wait_until_async(lambda: "lost" in lost, what="on_lost")
    assert not la.is_held()
    assert "LOST" in [s.value for s in seen]
    await la.release()  # releasing a lost lock is harmless
    assert lb.is_held()
    await lb.release()


async def test_guard_makes_a_transaction_depend_on_holding(env: Env) -> None:
    a = await env.client()
    lock = Lock(a, "/lock", "a")
    await a.create("/data", b"0")
    async with lock:
        await lock.guard(a.transaction().set("/data", b"1")).commit()
        node = lock.node
    assert node is not None
    # after release the node is gone, so a guarded write fails and changes nothing
    from roost.client import NoNodeError

    with pytest.raises(NoNodeError):
        await a.transaction().check(node, 0).set("/data", b"2").commit()
    assert (await a.get("/data"))[0] == b"1"


async def test_partial_create_is_adopted_not_duplicated(env: Env) -> None:
    """The create reaches the server but its reply is lost: no second node appears."""
    await env.ensure_base()
    proxy = TcpProxy((env.backend.host, env.backend.port)).start()
    try:
        a = await env.client(hosts=f"127.0.0.1:{proxy.port}", session_timeout=SHORT_SESSION)
        watcher = await env.client()
        lock = Lock(a, "/lock", "a")
        await watcher.ensure_path("/lock")
        proxy.blackhole("down")  # requests reach the server, replies are dropped
        task = asyncio.ensure_future(lock.acquire(timeout=20))
        await wait_until_kids(watcher, 1)
        proxy.heal()  # the link is reset; the client reconnects within its session
        token = await asyncio.wait_for(task, 20)
        kids = await watcher.children("/lock")
        assert len(kids) == 1 and lock.node is not None and lock.node.endswith(kids[0])
        stat = await watcher.exists(lock.node)
        assert stat is not None and stat.czxid == token
        await lock.release()
        assert await watcher.children("/lock") == []
    finally:
        proxy.stop()


async def test_read_write_lock(env: Env) -> None:
    c1, c2, c3 = await env.client(), await env.client(), await env.client()
    r1 = ReadWriteLock(c1, "/rw", "r1").read_lock
    r2 = ReadWriteLock(c2, "/rw", "r2").read_lock
    w = ReadWriteLock(c3, "/rw", "w").write_lock
    await r1.acquire(timeout=5)
    await r2.acquire(timeout=5)  # readers share
    writer = asyncio.ensure_future(w.acquire(timeout=10))
    await wait_until_kids_at(c1, "/rw", 3)
    late_reader = ReadWriteLock(c1, "/rw", "r3").read_lock
    with pytest.raises(AcquireTimeout):
        await late_reader.acquire(timeout=0.3)  # queued behind the writer
    await r1.release()
    assert not writer.done()
    await r2.release()
    tw = await asyncio.wait_for(writer, 10)
    assert tw > 0 and w.is_held()
    await w.release()


async def wait_until_kids_at(client: object, path: str, n: int) -> None:
    from roost.client import Client

    assert isinstance(client, Client)
    async def there() -> bool:
        return len(await client.children(path)) >= n

    await wait_until_async(there, 10, what=f"{n} children of {path}")


async def test_kazoo_and_roost_locks_exclude_each_other(env: Env) -> None:
    roost_client = await env.client()
    kz = KazooClient(hosts=env.backend.hosts + env.base, timeout=10)
    await asyncio.to_thread(kz.start, 20)
    try:
        klock = KazooLock(kz, "/shared", identifier="kazoo")
        rlock = Lock(roost_client, "/shared", identifier="roost")
        assert await asyncio.to_thread(klock.acquire, True, 5)
        with pytest.raises(AcquireTimeout):
            await rlock.acquire(timeout=0.5)
        waiting = asyncio.ensure_future(rlock.acquire(timeout=10))
        await wait_until_kids_at(roost_client, "/shared", 2)
        assert sorted(await asyncio.to_thread(klock.contenders)) == ["kazoo", "roost"]
        await asyncio.to_thread(klock.release)
        await asyncio.wait_for(waiting, 10)
        klock2 = KazooLock(kz, "/shared", identifier="kazoo2")
        with pytest.raises(LockTimeout):
            await asyncio.to_thread(klock2.acquire, True, 0.5)
        await rlock.release()
        assert await asyncio.to_thread(klock2.acquire, True, 5)
        await asyncio.to_thread(klock2.release)
    finally:
        await asyncio.to_thread(kz.stop)
        await asyncio.to_thread(kz.close)


async def test_short_disconnect_keeps_the_lock(env: Env) -> None:
    proxy = await env.proxy()
    await env.ensure_base()
    a = await env.client(hosts=proxy.hosts, session_timeout=SHORT_SESSION)
    lost: list[str] = []
    lock = Lock(a, "/lock", "a", on_lost=lambda: lost.append("lost"))
    token = await lock.acquire()
    seen = states_of(a)
    proxy.blocked = True
    proxy.cut()
    await wait_until_async(lambda: "SUSPENDED" in [s.value for s in seen], what="SUSPENDED")
    assert lock.is_held()  # the session is certainly alive until the lease deadline
    proxy.blocked = False
    await wait_until_async(lambda: seen[-1].value == "RECONNECTED", what="reconnect")
    assert lock.is_held() and not lost
    stat = await a.exists(lock.node or "/")
    assert stat is not None and stat.czxid == token
    await lock.release()


async def test_lock_is_not_held_once_the_lease_runs_out(env: Env) -> None:
    proxy = await env.proxy()
    await env.ensure_base()
    a = await env.client(hosts=proxy.hosts, session_timeout=SHORT_SESSION)
    lock = Lock(a, "/lock", "a")
    await lock.acquire()
    proxy.blocked = True
    proxy.cut()
    await wait_until_async(lambda: not lock.is_held(), timeout=SHORT_SESSION + 2,
                           what="lease deadline")
    assert a.lease_remaining() <= 0
    proxy.blocked = False


async def test_kazoo_read_write_locks_pair_with_roost(env: Env) -> None:
    from kazoo.recipe.lock import ReadLock as KazooReadLock
    from kazoo.recipe.lock import WriteLock as KazooWriteLock

    roost_client = await env.client()
    kz = KazooClient(hosts=env.backend.hosts + env.base, timeout=10)
    await asyncio.to_thread(kz.start, 20)
    try:
        kread = KazooReadLock(kz, "/rw", "kazoo-reader")
        assert await asyncio.to_thread(kread.acquire, True, 5)
        rread = ReadWriteLock(roost_client, "/rw", "roost-reader").read_lock
        await rread.acquire(timeout=5)  # readers share across libraries
        rwrite = ReadWriteLock(roost_client, "/rw", "roost-writer").write_lock
        with pytest.raises(AcquireTimeout):
            await rwrite.acquire(timeout=0.3)
        await asyncio.to_thread(kread.release)
        await rread.release()
        await rwrite.acquire(timeout=5)
        kwrite = KazooWriteLock(kz, "/rw", "kazoo-writer")
        with pytest.raises(LockTimeout):
            await asyncio.to_thread(kwrite.acquire, True, 0.3)
        kread2 = KazooReadLock(kz, "/rw", "kazoo-reader-2")
        with pytest.raises(LockTimeout):
            await asyncio.to_thread(kread2.acquire, True, 0.3)
        await rwrite.release()
        assert await asyncio.to_thread(kread2.acquire, True, 5)
        await asyncio.to_thread(kread2.release)
    finally:
        await asyncio.to_thread(kz.stop)
        await asyncio.to_thread(kz.close)


async def test_acquire_fails_fast_on_a_closed_or_unstarted_client(env: Env) -> None:
    from roost.client import Client, ClientClosedError

    closed = await env.client()
    await closed.close()
    with pytest.raises(ClientClosedError):
        await asyncio.wait_for(Lock(closed, "/lock").acquire(), 5)
    with pytest.raises(RuntimeError, match="not started"):
        await asyncio.wait_for(Lock(Client(env.backend.hosts), "/lock").acquire(), 5)
