"""kazoo's own recipes against both backends, each with several clients."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import LockTimeout
from kazoo.recipe.barrier import Barrier, DoubleBarrier
from kazoo.recipe.cache import TreeCache, TreeEvent
from kazoo.recipe.counter import Counter
from kazoo.recipe.election import Election
from kazoo.recipe.lock import Lock, ReadLock, Semaphore, WriteLock
from kazoo.recipe.party import Party, ShallowParty
from kazoo.recipe.queue import LockingQueue, Queue
from kazoo.recipe.watchers import ChildrenWatch, DataWatch

from roost.testing.wait import wait_until

from .conftest import ClientFactory
from .helpers import Collector

pytestmark = pytest.mark.compat

JOIN = 30.0


def run_threads(targets: list[Callable[[], None]]) -> list[BaseException]:
    """Run each target in a thread, join them all, return what they raised."""
    errors: list[BaseException] = []

    def wrap(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as e:  # collected for the assertion in the test
                errors.append(e)

        return run

    threads = [threading.Thread(target=wrap(t), daemon=True) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN)
        assert not t.is_alive(), "a worker thread hung"
    return errors


def test_lock_mutual_exclusion(make_client: ClientFactory) -> None:
    clients = [make_client() for _ in range(3)]
    holders: list[str] = []
    inside = [0]
    guard = threading.Lock()

    def worker(name: str, zk: KazooClient) -> Callable[[], None]:
        def run() -> None:
            lock = Lock(zk, "/lock", identifier=name)
            for _ in range(5):
                with lock:
                    with guard:
                        inside[0] += 1
                        assert inside[0] == 1, "two holders at once"
                    holders.append(name)
                    zk.exists("/lock")  # a round trip while holding the lock
                    with guard:
                        inside[0] -= 1

        return run

    errors = run_threads([worker(f"w{i}", c) for i, c in enumerate(clients)])
    assert errors == []
    assert sorted(holders) == sorted([f"w{i}" for i in range(3)] * 5)
    assert clients[0].get_children("/lock") == []


def test_lock_contenders_and_timeout(make_client: ClientFactory) -> None:
    a, b, c = make_client(), make_client(), make_client()
    first = Lock(a, "/lk", identifier="first")
    assert first.acquire(timeout=5)
    second = Lock(b, "/lk", identifier="second")
    with pytest.raises(LockTimeout):  # times out while held
        second.acquire(timeout=0.3)
    acquired = threading.Event()

    def wait_for_lock() -> None:
        if second.acquire(timeout=JOIN):
            acquired.set()

    waiter = threading.Thread(target=wait_for_lock, daemon=True)
    waiter.start()
    observer = Lock(c, "/lk")
    wait_until(lambda: observer.contenders() == ["first", "second"], what="two contenders")
    assert not acquired.is_set()
    first.release()
    assert acquired.wait(JOIN)
    assert observer.contenders() == ["second"]
    second.release()
    waiter.join(JOIN)
    wait_until(lambda: observer.contenders() == [], what="no contenders")


def test_lock_released_when_holder_session_closes(make_client: ClientFactory) -> None:
    a, b = make_client(), make_client()
    assert Lock(a, "/lk").acquire(timeout=5)
    other = Lock(b, "/lk")
    assert other.acquire(blocking=False) is False
    a.stop()
    assert other.acquire(timeout=10)
    other.release()


def contenders_left(election: Election, count: int) -> bool:
    return len(election.contenders()) == count


def test_election(make_client: ClientFactory) -> None:
    clients = [make_client() for _ in range(3)]
    elections = [Election(c, "/election", identifier=f"c{i}") for i, c in enumerate(clients)]
    leading = Collector()
    release = {i: threading.Event() for i in range(3)}

    def lead(i: int) -> None:
        leading(i)
        release[i].wait(JOIN)

    threads = [
        threading.Thread(target=e.run, args=(lead, i), daemon=True) for i, e in enumerate(elections)
    ]
    for t in threads:
        t.start()
    order = []
    for n in range(1, 4):
        current = leading.wait_for(n)[-1]
        wait_until(partial(contenders_left, elections[0], 4 - n), what="contenders")
        assert len(leading) == n  # only one leader at a time
        order.append(current)
        release[current].set()
    for t in threads:
        t.join(JOIN)
    assert sorted(order) == [0, 1, 2]


def test_counter(make_client: ClientFactory) -> None:
    clients = [make_client() for _ in range(3)]

    def bump(zk: KazooClient) -> Callable[[], None]:
        def run() -> None:
            counter = Counter(zk, "/counter")
            for _ in range(10):
                counter += 1

        return run

    assert run_threads([bump(c) for c in clients]) == []
    assert Counter(clients[0], "/counter").value == 30
    floaty = Counter(clients[1], "/fcounter", default=0.5)
    floaty += 1.25
    floaty -= 0.5
    assert Counter(clients[2], "/fcounter", default=0.5).value == 1.25


def test_queue_fifo_and_priority(make_client: ClientFactory) -> None:
    producer, consumer = make_client(), make_client()
    q = Queue(producer, "/queue")
    for item in (b"one", b"two", b"three"):
        q.put(item)
    q.put(b"urgent", priority=1)
    assert len(q) == 4
    got = Queue(consumer, "/queue")
    assert [got.get() for _ in range(4)] == [b"urgent", b"one", b"two", b"three"]
    assert got.get() is None


def test_locking_queue(make_client: ClientFactory) -> None:
    producer, c1, c2 = make_client(), make_client(), make_client()
    LockingQueue(producer, "/lq").put_all([b"a", b"b"])
    q1, q2 = LockingQueue(c1, "/lq"), LockingQueue(c2, "/lq")
    assert q1.get(timeout=5) == b"a"
    assert q1.holds_lock()
    # the second consumer gets the next unlocked item, not the one q1 holds
    assert q2.get(timeout=5) == b"b"
    assert q2.release()  # give b back unconsumed
    assert q1.consume()
    assert len(LockingQueue(producer, "/lq")) == 1
    assert q2.get(timeout=5) == b"b"
    assert q2.consume()
    assert q1.get(timeout=0.2) is None
    assert len(LockingQueue(producer, "/lq")) == 0


def test_barrier(make_client: ClientFactory) -> None:
    owner, waiter = make_client(), make_client()
    Barrier(owner, "/barrier").create()
    b = Barrier(waiter, "/barrier")
    assert b.wait(timeout=0.2) is False
    passed = threading.Event()

    def wait() -> None:
        if b.wait(timeout=JOIN):
            passed.set()

    t = threading.Thread(target=wait, daemon=True)
    t.start()
    assert not passed.is_set()
    Barrier(owner, "/barrier").remove()
    assert passed.wait(JOIN)
    t.join(JOIN)
    assert owner.exists("/barrier") is None


def test_double_barrier(make_client: ClientFactory) -> None:
    clients = [make_client() for _ in range(3)]
    entered = Collector()
    left = Collector()

    def participant(i: int, zk: KazooClient) -> Callable[[], None]:
        def run() -> None:
            barrier = DoubleBarrier(zk, "/dbar", 3, identifier=f"p{i}")
            barrier.enter()
            entered(i)
            barrier.leave()
            left(i)

        return run

    errors = run_threads([participant(i, c) for i, c in enumerate(clients)])
    assert errors == []
    assert sorted(entered.items) == [0, 1, 2]
    assert sorted(left.items) == [0, 1, 2]
    assert clients[0].get_children("/dbar") == []


def test_double_barrier_waits_for_everyone(make_client: ClientFactory) -> None:
    a, b = make_client(), make_client()
    entered = threading.Event()

    def first() -> None:
        DoubleBarrier(a, "/dbar2", 2, identifier="a").enter()
        entered.set()

    t = threading.Thread(target=first, daemon=True)
    t.start()
    wait_until(lambda: b.exists("/dbar2") and b.get_children("/dbar2"), what="first participant")
    assert not entered.is_set()
    second = DoubleBarrier(b, "/dbar2", 2, identifier="b")
    second.enter()
    assert entered.wait(JOIN)
    t.join(JOIN)


@pytest.mark.parametrize("party_class", [Party, ShallowParty])
def test_party(make_client: ClientFactory, party_class: type) -> None:
    a, b, watcher = make_client(), make_client(), make_client()
    pa = party_class(a, "/party", identifier="alice")
    pb = party_class(b, "/party", identifier="bob")
    pa.join()
    pb.join()
    view = party_class(watcher, "/party")
    assert sorted(view) == ["alice", "bob"]
    assert len(view) == 2
    pb.leave()
    assert list(view) == ["alice"]
    a.stop()  # members are ephemeral
    assert len(view) == 0


def test_semaphore(make_client: ClientFactory) -> None:
    clients = [make_client() for _ in range(4)]
    active = [0]
    peak = [0]
    guard = threading.Lock()

    def worker(i: int, zk: KazooClient) -> Callable[[], None]:
        def run() -> None:
            sem = Semaphore(zk, "/sem", identifier=f"s{i}", max_leases=2)
            for _ in range(3):
                with sem:
                    with guard:
                        active[0] += 1
                        peak[0] = max(peak[0], active[0])
                        assert active[0] <= 2, "more than max_leases holders"
                    zk.exists("/sem")
                    with guard:
                        active[0] -= 1

        return run

    assert run_threads([worker(i, c) for i, c in enumerate(clients)]) == []
    assert 1 <= peak[0] <= 2


def test_semaphore_lease_holders(make_client: ClientFactory) -> None:
    a, b, c = make_client(), make_client(), make_client()
    s1 = Semaphore(a, "/sem2", identifier="one", max_leases=2)
    s2 = Semaphore(b, "/sem2", identifier="two", max_leases=2)
    assert s1.acquire(timeout=5)
    assert s2.acquire(timeout=5)
    s3 = Semaphore(c, "/sem2", identifier="three", max_leases=2)
    assert s3.acquire(blocking=False) is False
    assert sorted(s3.lease_holders()) == ["one", "two"]
    s1.release()
    assert s3.acquire(timeout=10)
    assert sorted(s3.lease_holders()) == ["three", "two"]
    s2.release()
    s3.release()


def test_data_watch_recipe(make_client: ClientFactory) -> None:
    zk, writer = make_client(), make_client()
    seen = Collector()

    def on_change(data: bytes | None, stat: object) -> None:
        seen(data)

    DataWatch(zk, "/dw", on_change)
    assert seen.wait_for(1) == [None]  # called at once: the node does not exist yet
    writer.create("/dw", b"v1")
    seen.wait_for(2)
    writer.set("/dw", b"v2")
    seen.wait_for(3)
    writer.delete("/dw")
    assert seen.wait_for(4) == [None, b"v1", b"v2", None]


def test_children_watch_recipe(make_client: ClientFactory) -> None:
    zk, writer = make_client(), make_client()
    writer.create("/cw", b"")
    seen = Collector()
    ChildrenWatch(zk, "/cw", lambda children: seen(sorted(children)))
    assert seen.wait_for(1) == [[]]
    writer.create("/cw/a", b"")
    seen.wait_for(2)
    writer.create("/cw/b", b"")
    seen.wait_for(3)
    writer.delete("/cw/a")
    assert seen.wait_for(4) == [[], ["a"], ["a", "b"], ["b"]]


def test_tree_cache(make_client: ClientFactory) -> None:
    zk, writer = make_client(), make_client()
    writer.create("/tc/a", b"1", makepath=True)
    cache = TreeCache(zk, "/tc")
    events = Collector()
    cache.listen(events)
    cache.start()
    try:
        wait_until(lambda: any(e.event_type == TreeEvent.INITIALIZED for e in events.items),
                   what="cache initialized")
        assert cache.get_children("/tc") == frozenset({"a"})
        writer.create("/tc/a/deep", b"2")
        writer.set("/tc/a", b"changed")
        wait_until(lambda: cache.get_data("/tc/a/deep") is not None, what="deep node cached")
        wait_until(lambda: cache.get_data("/tc/a").data == b"changed", what="update cached")
        node = cache.get_data("/tc/a")
        assert node.stat == writer.exists("/tc/a")
        writer.delete("/tc/a/deep")
        wait_until(lambda: cache.get_data("/tc/a/deep") is None, what="removal cached")
        wanted = {TreeEvent.NODE_ADDED, TreeEvent.NODE_UPDATED, TreeEvent.NODE_REMOVED}
        wait_until(lambda: wanted <= {e.event_type for e in events.items}, what="cache events")
    finally:
        cache.close()


def test_read_write_lock(make_client: ClientFactory) -> None:
    a, b, c = make_client(), make_client(), make_client()
    r1, r2 = ReadLock(a, "/rw"), ReadLock(b, "/rw")
    assert r1.acquire(timeout=5)
    assert r2.acquire(timeout=5)  # readers share
    writer = WriteLock(c, "/rw")
    with pytest.raises(LockTimeout):
        writer.acquire(timeout=0.3)
    r1.release()
    r2.release()
    assert writer.acquire(timeout=10)
    with pytest.raises(LockTimeout):
        ReadLock(a, "/rw").acquire(timeout=0.3)
    writer.release()
    assert ReadLock(b, "/rw").acquire(timeout=5)
