"""Blocking recipe objects shaped like kazoo's, returned by `SyncClient.Lock(...)` and friends.

    zk = SyncClient("127.0.0.1:2181").start()
    lock = zk.Lock("/locks/db", "worker-1")
    with lock:                                  # blocks until acquired
        ...
    if lock.acquire(blocking=False):            # True/False, no waiting
        lock.release()

    zk.Election("/election/db", "worker-1").run(lead)   # blocks; runs lead() as leader
    counter = zk.Counter("/counters/jobs")
    counter += 1

They are roost's recipes (`roost.recipes`) behind kazoo's method names and return values.
The locks (so the election) and the counter use kazoo's node layout, so a roost `Lock`,
`ReadLock`, `WriteLock`, `Election` or `Counter` and kazoo's on the same path work together;
`Semaphore` and `Queue` have roost's own layout (do not mix them with kazoo's on one path).

Differences from kazoo: a timeout raises `roost.recipes.AcquireTimeout` (a `TimeoutError`)
where kazoo raises ``LockTimeout``; a cancelled acquire raises
`concurrent.futures.CancelledError`; locks are reentrant for the thread that holds them;
locks and leases are always ephemeral; counters hold integers only.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

from roost.client import SyncClient
from roost.recipes import barrier, counter, lock, queue, semaphore
from roost.recipes._base import AcquireTimeout, new_guid
from roost.recipes.blocking import Blocking, blocking

T = TypeVar("T")


class _Cancellable:
    """Runs one waiting call at a time on the client's loop, so that `cancel` (from any
    thread) can end it."""

    def __init__(self, client: SyncClient) -> None:
        self.client = client
        self._pending: concurrent.futures.Future[Any] | None = None
        self._guard = threading.Lock()

    def _wait(self, coro: Coroutine[Any, Any, T]) -> T:
        fut = self.client.submit(coro)
        with self._guard:
            self._pending = fut
        try:
            return fut.result()
        finally:
            with self._guard:
                self._pending = None

    def cancel(self) -> None:
        """End a pending acquire (it raises `concurrent.futures.CancelledError`)."""
        with self._guard:
            if self._pending is not None:
                self._pending.cancel()


class Lock(_Cancellable):
    """kazoo's ``Lock(path, identifier)``: `acquire`, `release`, `contenders`, `cancel`,
    ``with lock:``, `is_acquired`. The roost recipe is `recipe` (its `token` is the fencing
    token of the current hold)."""

    recipe_class: type[lock.Lock] = lock.Lock

    def __init__(self, client: SyncClient, path: str, identifier: str | None = None) -> None:
        super().__init__(client)
        self.path = path
        self.identifier = identifier or ""
        self.recipe = _construct(client, self.recipe_class, path, self.identifier)

    @staticmethod
    def _owner() -> object:
        return ("thread", threading.get_ident())

    def acquire(self, blocking: bool = True, timeout: float | None = None,
                ephemeral: bool = True) -> bool:
        """Take the lock. ``blocking=False``: only if it is free now (else False);
        ``timeout``: wait at most that long (else `AcquireTimeout`)."""
        if not ephemeral:
            raise ValueError("roost's locks are always ephemeral")
        try:
            self._wait(self.recipe.acquire(timeout if blocking else 0, owner=self._owner()))
        except AcquireTimeout:
            if blocking:
                raise
            return False
        return True

    def release(self) -> bool:
        """Release the lock; False if this object did not hold it."""
        if not self.recipe.hold_count:
            return False
        self.client.run(self.recipe.release(owner=self._owner()))
        return True

    @property
    def is_acquired(self) -> bool:
        return self.recipe.is_held()

    @property
    def token(self) -> int | None:
        return self.recipe.token

    def contenders(self) -> list[str]:
        """Identifiers of the contenders, the holder first."""
        return self.client.run(self.recipe.contenders())

    def __enter__(self) -> Lock:
        self.acquire()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path} acquired={self.is_acquired}>"


class ReadLock(Lock):
    """kazoo's ``ReadLock``: shared with other readers, excluded by writers."""

    recipe_class = lock.ReadLock


class WriteLock(Lock):
    """kazoo's ``WriteLock``: excludes readers and writers."""

    recipe_class = lock.WriteLock


class Semaphore(_Cancellable):
    """kazoo's ``Semaphore(path, identifier, max_leases)``: `acquire`, `release`,
    `lease_holders`, `cancel`, ``with semaphore:``."""

    def __init__(self, client: SyncClient, path: str, identifier: str | None = None,
                 max_leases: int = 1) -> None:
        super().__init__(client)
        self.path = path
        self.recipe = _construct(client, semaphore.Semaphore, path, max_leases,
                                 identifier or "")
        self.lease: semaphore.Lease | None = None

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        if self.lease is not None:
            return True
        try:
            self.lease = self._wait(self.recipe.acquire(timeout if blocking else 0))
        except AcquireTimeout:
            if blocking:
                raise
            return False
        return True

    def release(self) -> bool:
        lease, self.lease = self.lease, None
        if lease is None:
            return False
        self.client.run(lease.release())
        return True

    @property
    def is_acquired(self) -> bool:
        return self.lease is not None

    def lease_holders(self) -> list[str]:
        return self.client.run(self.recipe.holders())

    def __enter__(self) -> Semaphore:
        self.acquire()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


class Election:
    """kazoo's ``Election(path, identifier)``: `run` blocks until this contender is elected,
    calls the function as leader, and steps down when it returns; `cancel` ends a pending
    `run` (not a running function). It is a `Lock` on ``path``, as in kazoo."""

    def __init__(self, client: SyncClient, path: str, identifier: str | None = None) -> None:
        self.lock = Lock(client, path, identifier)

    def run(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        if not callable(func):
            raise ValueError("leader function is not callable")
        try:
            with self.lock:
                func(*args, **kwargs)
        except concurrent.futures.CancelledError:
            pass

    def cancel(self) -> None:
        self.lock.cancel()

    def contenders(self) -> list[str]:
        return self.lock.contenders()


class Counter:
    """kazoo's ``Counter(path, default)`` for integers: ``counter += n``, ``counter -= n``,
    `value`, and `pre_value` / `post_value` of this object's last change."""

    def __init__(self, client: SyncClient, path: str, default: int = 0) -> None:
        if not isinstance(default, int):
            raise TypeError("roost's Counter holds integers")
        self.client = client
        self.path = path
        self.default = default
        self.recipe = _construct(client, counter.Counter, path, default)
        self.pre_value: int | None = None
        self.post_value: int | None = None

    @property
    def value(self) -> int:
        return self.client.run(self.recipe.value())

    def _change(self, delta: int) -> Counter:
        if not isinstance(delta, int):
            raise TypeError("invalid type for value change")
        new = self.client.run(self.recipe.add(delta))
        self.pre_value, self.post_value = new - delta, new
        return self

    def __add__(self, delta: int) -> Counter:
        return self._change(delta)

    def __sub__(self, delta: int) -> Counter:
        return self._change(-delta)


class Queue:
    """kazoo's ``Queue(path)``: `put`, `get` (the head item, or None at once if empty),
    ``len(queue)``. Items are taken exactly once (`roost.recipes.DistributedQueue`)."""

    def __init__(self, client: SyncClient, path: str) -> None:
        self.client = client
        self.path = path
        self.recipe = _construct(client, queue.DistributedQueue, path)

    def put(self, value: bytes) -> None:
        if not isinstance(value, bytes):
            raise TypeError("value must be bytes")
        self.client.run(self.recipe.put(value))

    def get(self) -> bytes | None:
        return self.client.run(self.recipe.get_nowait())

    def __len__(self) -> int:
        return len(self.client.run(self.recipe.items()))


def Barrier(client: SyncClient, path: str) -> Blocking[barrier.Barrier]:
    """kazoo's ``Barrier(path)``: `create`, `remove`, `wait(timeout)`."""
    return blocking(client, barrier.Barrier, path)


def DoubleBarrier(client: SyncClient, path: str, num_clients: int,
                  identifier: str | None = None) -> Blocking[barrier.DoubleBarrier]:
    """kazoo's ``DoubleBarrier(path, num_clients, identifier)``: `enter`, `leave`."""
    return blocking(client, barrier.DoubleBarrier, path, num_clients, identifier or new_guid())


def _construct(client: SyncClient, cls: Callable[..., T], *args: Any) -> T:
    """Build a recipe on the client's loop (recipes may look at the running loop)."""

    async def build() -> T:
        return cls(client.aio, *args)

    return client.run(build())


__all__ = ["Barrier", "Counter", "DoubleBarrier", "Election", "Lock", "Queue", "ReadLock",
           "Semaphore", "WriteLock"]
