"""`SyncClient.Lock(...)` and the other kazoo-style recipe factories, against roost and
Apache ZooKeeper, side by side with kazoo's own recipes on the same paths."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kazoo.client import KazooClient

from client.helpers import DEADLINE, Env
from roost.client import SyncClient
from roost.recipes import AcquireTimeout
from roost.testing.wait import wait_until


@pytest.fixture
def clients(env: Env) -> Iterator[Callable[[], SyncClient]]:
    made: list[SyncClient] = []
    with SyncClient(env.backend.hosts) as root:
        root.ensure_path(env.base)

    def make() -> SyncClient:
        c = SyncClient(env.backend.hosts + env.base, session_timeout=10.0).start()
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def kazoo(env: Env, clients: Any) -> Iterator[KazooClient]:
    kz = KazooClient(hosts=env.backend.hosts + env.base, timeout=10)
    kz.start()
    yield kz
    kz.stop()
    kz.close()


def test_lock_factory(clients: Callable[[], SyncClient]) -> None:
    a, b = clients(), clients()
    lock_a, lock_b = a.Lock("/lk", "alpha"), b.Lock("/lk", "beta")
    with lock_a:
        assert lock_a.is_acquired and lock_a.token is not None
        started = time.monotonic()
        assert lock_b.acquire(blocking=False) is False
        # not waiting for the holder: a few round trips (generous for a loaded machine),
        # far below the 10 s session a wait would run into
        assert time.monotonic() - started < 2.0
        with pytest.raises(AcquireTimeout):
            lock_b.acquire(timeout=0.2)
        assert lock_b.contenders() == ["alpha"]
        assert b.get_children("/lk") and len(b.get_children("/lk")) == 1  # no leftovers
    assert not lock_a.is_acquired and lock_a.release() is False
    assert lock_b.acquire(blocking=False) is True
    assert lock_b.contenders() == ["beta"]
    assert lock_b.release() is True


def test_lock_cancel_ends_a_pending_acquire(clients: Callable[[], SyncClient]) -> None:
    a, b = clients(), clients()
    holder, waiter = a.Lock("/lk", "holder"), b.Lock("/lk", "waiter")
    holder.acquire()
    outcome: list[object] = []

    def wait() -> None:
        try:
            outcome.append(waiter.acquire())
        except concurrent.futures.CancelledError as e:
            outcome.append(e)

    t = threading.Thread(target=wait)
    t.start()
    wait_until(lambda: holder.contenders() == ["holder", "waiter"], what="the waiter's node")
    waiter.cancel()
    t.join(DEADLINE)
    assert len(outcome) == 1 and isinstance(outcome[0], concurrent.futures.CancelledError)
    wait_until(lambda: holder.contenders() == ["holder"], what="the cancelled node's removal")
    holder.release()


def test_lock_excludes_kazoo_lock(clients: Callable[[], SyncClient],
                                  kazoo: KazooClient) -> None:
    ours, theirs = clients().Lock("/shared", "roost"), kazoo.Lock("/shared", "kazoo")
    assert ours.acquire(blocking=False)
    assert theirs.acquire(blocking=False) is False
    assert theirs.contenders() == ["roost"]
    ours.release()
    assert theirs.acquire(blocking=False)
    assert ours.acquire(blocking=False) is False
    assert ours.contenders() == ["kazoo"]
    theirs.release()


def test_read_and_write_locks(clients: Callable[[], SyncClient], kazoo: KazooClient) -> None:
    a, b = clients(), clients()
    r1, r2, w = a.ReadLock("/rw", "r1"), b.ReadLock("/rw", "r2"), b.WriteLock("/rw", "w")
    assert r1.acquire(blocking=False) and r2.acquire(blocking=False)
    assert kazoo.ReadLock("/rw").acquire(blocking=False)  # readers share, kazoo's too
    assert w.acquire(blocking=False) is False
    assert kazoo.WriteLock("/rw").acquire(blocking=False) is False


def test_semaphore(clients: Callable[[], SyncClient]) -> None:
    a, b, c = clients(), clients(), clients()
    s1 = a.Semaphore("/sem", "one", max_leases=2)
    s2 = b.Semaphore("/sem", "two", max_leases=2)
    s3 = c.Semaphore("/sem", "three", max_leases=2)
    with s1:
        assert s2.acquire() and s2.is_acquired
        assert s3.acquire(blocking=False) is False
        assert sorted(s3.lease_holders()) == ["one", "two"]
    assert s3.acquire(timeout=DEADLINE)
    assert sorted(s3.lease_holders()) == ["three", "two"]
    assert s3.release() and s2.release() and not s2.release()


def test_election(clients: Callable[[], SyncClient]) -> None:
    a, b = clients(), clients()
    first, second = a.Election("/el", "first"), b.Election("/el", "second")
    leading = threading.Event()
    step_down = threading.Event()
    led: list[str] = []

    def lead(name: str) -> None:
        led.append(name)
        leading.set()
        assert step_down.wait(DEADLINE)

    t1 = threading.Thread(target=first.run, args=(lead, "first"))
    t1.start()
    assert leading.wait(DEADLINE)
    t2 = threading.Thread(target=second.run, args=(led.append, "second"))
    t2.start()
    wait_until(lambda: second.contenders() == ["first", "second"], what="both contenders")
    assert led == ["first"]
    step_down.set()
    t1.join(DEADLINE)
    t2.join(DEADLINE)
    assert led == ["first", "second"]
    # a cancelled contender returns without running its function
    holder = a.Lock("/el", "holder")
    holder.acquire()
    third = b.Election("/el", "third")
    t3 = threading.Thread(target=third.run, args=(led.append, "third"))
    t3.start()
    wait_until(lambda: third.contenders() == ["holder", "third"], what="the third contender")
    third.cancel()
    t3.join(DEADLINE)
    assert not t3.is_alive() and led == ["first", "second"]
    holder.release()
    with pytest.raises(ValueError):
        third.run("not callable")  # type: ignore[arg-type]


def test_counter_shared_with_kazoo(clients: Callable[[], SyncClient],
                                   kazoo: KazooClient) -> None:
    counter = clients().Counter("/cnt")
    assert counter.value == 0
    counter += 5
    assert (counter.pre_value, counter.post_value, counter.value) == (0, 5, 5)
    counter -= 2
    assert (counter.pre_value, counter.post_value) == (5, 3)
    theirs = kazoo.Counter("/cnt")
    theirs += 10
    assert theirs.value == 13 and counter.value == 13
    with pytest.raises(TypeError):
        counter += 1.5  # type: ignore[operator]


def test_queue_barrier_double_barrier(clients: Callable[[], SyncClient]) -> None:
    a, b = clients(), clients()
    q = a.Queue("/q")
    assert q.get() is None and len(q) == 0
    q.put(b"one")
    q.put(b"two")
    assert len(q) == 2
    assert b.Queue("/q").get() == b"one" and q.get() == b"two" and q.get() is None

    barrier = a.Barrier("/gate")
    assert barrier.create()
    assert b.Barrier("/gate").wait(0.1) is False
    assert barrier.remove()
    assert b.Barrier("/gate").wait(DEADLINE) is True

    entered: list[str] = []
    db_b = b.DoubleBarrier("/db", 2, "b")
    t = threading.Thread(target=lambda: (db_b.enter(), entered.append("b")))
    t.start()
    a.DoubleBarrier("/db", 2, "a").enter()
    t.join(DEADLINE)
    assert entered == ["b"]
