"""The recipes through `SyncClient` (blocking use), against roost and ZooKeeper."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from client.helpers import Backend
from roost.client import SyncClient
from roost.recipes import (
    AcquireTimeout,
    ConfigWatcher,
    DistributedQueue,
    LeaderLatch,
    Lock,
    Semaphore,
    blocking,
)
from roost.testing.wait import wait_until


@pytest.fixture
def sync_clients(backend: Backend, request: pytest.FixtureRequest) -> Iterator[list[SyncClient]]:
    base = f"/recipesync/{request.node.name.replace('[', '_').replace(']', '')}"
    with SyncClient(backend.hosts) as root:
        root.ensure_path(base)
    clients = [SyncClient(backend.hosts + base).start() for _ in range(2)]
    yield clients
    for c in clients:
        c.close()


def test_blocking_lock_is_reentrant_per_thread(sync_clients: list[SyncClient]) -> None:
    a, b = sync_clients
    lock = blocking(a, Lock, "/lock", identifier="a")
    with lock:
        token = lock.token
        with lock:  # same thread: re-entered
            assert lock.hold_count == 2
        other = blocking(b, Lock, "/lock", identifier="b")
        with pytest.raises(AcquireTimeout):
            other.acquire(timeout=0.2)
        failed: list[BaseException] = []

        def from_another_thread() -> None:
            try:
                lock.acquire(timeout=0.2)  # same object, other thread: not re-entrant
            except AcquireTimeout as e:
                failed.append(e)

        t = threading.Thread(target=from_another_thread)
        t.start()
        t.join()
        assert len(failed) == 1
    assert not lock.is_held()
    assert other.acquire(timeout=5) > (token or 0)
    other.release()


def test_blocking_latch_listener_runs_on_the_callback_thread(
        sync_clients: list[SyncClient]) -> None:
    a, _ = sync_clients
    threads: list[str] = []
    latch = blocking(a, LeaderLatch, "/latch", "me")
    latch.add_listener(is_leader=lambda: threads.append(threading.current_thread().name))
    latch.start()
    assert latch.await_leadership(5)
    wait_until(lambda: threads)
    assert threads[0].startswith("roost-callbacks")
    latch.close()
    assert not latch.has_leadership()


def test_blocking_config_queue_and_semaphore(sync_clients: list[SyncClient]) -> None:
    a, b = sync_clients
    values: list[object] = []
    watcher = blocking(a, ConfigWatcher, "/cfg", "str", on_change=lambda v, _: values.append(v))
    watcher.start()
    b.create("/cfg", b"one")
    assert watcher.wait_for_value(5) == "one"
    b.set("/cfg", b"two")
    watcher.wait_until("two", 5)
    it = watcher.values()
    assert next(it) == "two"
    watcher.stop()
    wait_until(lambda: values[-1:] == ["two"])
    q = blocking(a, DistributedQueue, "/q")
    q.put(b"x")
    q.put(b"y")
    assert blocking(b, DistributedQueue, "/q").get(timeout=5) == b"x"
    assert q.get(timeout=5) == b"y"
    sem = blocking(a, Semaphore, "/sem", 1, "a")
    with sem as lease:
        assert lease.token > 0
        with pytest.raises(AcquireTimeout):
            blocking(b, Semaphore, "/sem", 1, "b").acquire(timeout=0.2)
    assert a.children("/sem") == []
