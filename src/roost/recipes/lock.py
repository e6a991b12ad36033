"""Distributed locks: `Lock` (reentrant per owner) and `ReadWriteLock`.

Each contender creates an ephemeral sequential node ``<guid>__lock__<seq>`` (readers:
``<guid>__rlock__<seq>``) under the lock path, the naming kazoo uses, so roost and kazoo
locks on the same path exclude each other. The holder is the contender with no blocking node
of a smaller sequence; every waiter watches only the blocking node just before it (no herd).
A writer is blocked by every earlier node; a reader only by earlier writers.

The guid prefix makes the create safe against a lost reply: after a connection loss the
recipe looks for its guid among the children before creating again. A grant's fencing token
is the czxid of the node that won (see `roost.recipes.fencing`).

    lock = Lock(zk, "/locks/orders", identifier="worker-1")
    async with lock:
        await store.write(data, token=lock.token)
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from types import TracebackType
from typing import Any

from roost.client import Client, ClientState, NoNodeError, StateChange, Transaction
from roost.recipes import fencing
from roost.recipes._base import (
    RETRYABLE,
    AcquireTimeout,
    Deadline,
    Hook,
    RecipeError,
    basename,
    delete_quietly,
    join,
    new_guid,
    notify,
    protected_create,
    wait_changed,
    wait_connected,
)


class _Gone(Exception):
    """Our node vanished (its session expired): create a new one."""


class Lock:
    """An exclusive lock, reentrant for the owner that holds it.

    The owner is the current asyncio task unless ``owner=`` is passed (the blocking facade
    passes the calling thread). Another owner using the same `Lock` object waits for the
    holder to release, then competes for the lock like any other contender.

    ``on_lost`` is called (through the client's dispatcher) if the session that held the
    lock expires. `is_held()` turns False at once on LOST, and while SUSPENDED once the
    client's lease deadline has passed.
    """

    node_name = "__lock__"
    blockers: tuple[str, ...] = ("__lock__",)

    def __init__(self, client: Client, path: str, identifier: str = "", *,
                 on_lost: Hook | None = None) -> None:
        self.client = client
        self.path = path.rstrip("/") or "/"
        self.identifier = identifier
        self.on_lost = on_lost
        self._prefix = new_guid() + self.node_name
        pattern = "|".join(re.escape(b) for b in self.blockers)
        self._blocker_re = re.compile(rf"(?:{pattern})(-\d{{9}}|\d{{10}})$")
        self.node: str | None = None
        self.token: int | None = None
        self._owner: object = None
        self._count = 0
        self._lost = False
        self._orphans: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._local = asyncio.Lock()

    # --- public API -----------------------------------------------------------------------
    async def acquire(self, timeout: float | None = None, *, owner: object = None) -> int:
        """Wait for the lock (at most ``timeout`` s, else `AcquireTimeout`); return the token.

        ``timeout=0`` waits for no other contender: the lock is taken if it is free now.
        """
        key = owner if owner is not None else asyncio.current_task()
        self._loop = asyncio.get_running_loop()
        if self._count and self._owner == key:
            if self._lost:
                raise RecipeError(f"lock {self.path} was lost with its session; release it")
            self._count += 1
            assert self.token is not None
            return self.token
        deadline = Deadline(timeout)
        try:
            # asyncio.timeout, not wait_for: with timeout=0 (kazoo's blocking=False) an
            # uncontended local lock is still taken, and only the contenders are not waited for
            async with asyncio.timeout(deadline.remaining()):
                await self._local.acquire()
        except TimeoutError:
            raise AcquireTimeout(f"lock {self.path}: held by another owner here") from None
        try:
            token = await self._acquire_node(deadline)
        except BaseException:
            self._local.release()
            raise
        self._owner, self._count = key, 1
        self.client.add_listener(self._on_state)
        return token

    async def release(self, *, owner: object = None) -> None:
        """Release one level of holding; the node is deleted when the count reaches zero."""
        if not self._count:
            raise RecipeError(f"lock {self.path} is not held")
        if owner is not None and owner != self._owner:
            raise RecipeError(f"lock {self.path} is held by another owner")
        self._count -= 1
        if self._count:
            return
        node, self.node, self.token, self._owner = self.node, None, None, None
        self.client.remove_listener(self._on_state)
        try:
            if node is not None:
                await self._delete_or_remember(node)
        finally:
            self._local.release()

    def is_held(self) -> bool:
        """True while this object holds the lock and its session is known to be alive."""
        if not self._count or self._lost:
            return False
        state = self.client.state
        if not (state.is_writable or state is ClientState.SUSPENDED) or self._loop is None:
            return False
        # Even while CONNECTED: without a recent answered ping the ensemble may have
        # expired the session before this client hears of it (the lease, docs/client.md).
        # loop.time() is safe to read from any thread (the blocking facade calls this)
        return fencing.lease_valid(self.client, self._loop)

    @property
    def hold_count(self) -> int:
        return self._count

    def guard(self, txn: Transaction) -> Transaction:
        """Make ``txn`` commit only while this lock's node still exists."""
        if self.node is None:
            raise RecipeError(f"lock {self.path} is not held")
        return fencing.guard(txn, self.node, 0)

    async def contenders(self) -> list[str]:
        """Identifiers (node data) of the contenders, holder first."""
        try:
            kids = await self.client.children(self.path)
        except NoNodeError:
            return []
        ordered = sorted(
            (int(m.group(1)), k) for k in kids if (m := _ANY_LOCK.search(k)) is not None
        )
        out: list[str] = []
        for _, name in ordered:
            with contextlib.suppress(NoNodeError):
                data, _stat = await self.client.get(join(self.path, name))
                out.append((data or b"").decode("utf-8", "replace"))
        return out

    async def __aenter__(self) -> Lock:
        await self.acquire()
        return self

    async def __aexit__(self, et: type[BaseException] | None, ev: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.release()

    # --- internals --------------------------------------------------------------------------
    async def _on_state(self, change: StateChange) -> None:
        if change.state is ClientState.LOST and self._count and not self._lost:
            self._lost = True
            notify(self.client, self.on_lost)

    async def _acquire_node(self, deadline: Deadline) -> int:
        self._lost = False
        data = self.identifier.encode()
        node: str | None = None
        await self._clear_orphans(deadline)
        try:
            while True:
                if node is None:
                    node = await protected_create(self.client, self.path, self._prefix, data,
                                                  deadline=deadline)
                    self.node = node
                try:
                    if await self._wait_turn(basename(node), deadline):
                        stat = await self.client.exists(node)
                        if stat is None:
                            raise _Gone()
                        self.token = stat.czxid
                        return stat.czxid
                except _Gone:
                    node = None
                except RETRYABLE as e:
                    await wait_connected(self.client, deadline.remaining(), after=e)
        except BaseException:
            self.node = None
            if node is not None:
                await self._delete_or_remember(node)
            raise

    async def _delete_or_remember(self, node: str) -> None:
        """Delete our node; if the server cannot be reached, retry before the next acquire."""
        if not await asyncio.shield(delete_quietly(self.client, node)):
            self._orphans.append(node)

    async def _clear_orphans(self, deadline: Deadline) -> None:
        while self._orphans:
            await wait_connected(self.client, deadline.remaining())
            if await delete_quietly(self.client, self._orphans[0]):
                self._orphans.pop(0)

    async def _wait_turn(self, name: str, deadline: Deadline) -> bool:
        """Wait until nothing blocks ``name``; True then, AcquireTimeout at the deadline."""
        while True:
            blocker = await self._blocker(name)
            if blocker is None:
                return True
            remaining = deadline.remaining()
            if remaining is not None and remaining <= 0:
                raise AcquireTimeout(f"lock {self.path}: not acquired in time")
            if not await wait_changed(self.client, join(self.path, blocker), remaining):
                raise AcquireTimeout(f"lock {self.path}: not acquired in time")

    async def _blocker(self, name: str) -> str | None:
        """The blocking node just before ``name``, or None when ``name`` may hold."""
        kids = await self.client.children(self.path)
        if name not in kids:
            raise _Gone()
        mine = _seq(name)
        best: tuple[int, str] | None = None
        for k in kids:
            m = self._blocker_re.search(k)
            if m is None:
                continue
            seq = int(m.group(1))
            if seq < mine and (best is None or seq > best[0]):
                best = (seq, k)
        return None if best is None else best[1]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path} held={self._count}>"


_ANY_LOCK = re.compile(r"(?:__lock__|__rlock__)(-\d{9}|\d{10})$")


def _seq(name: str) -> int:
    m = re.search(r"(-\d{9}|\d{10})$", name)
    if m is None:
        raise RecipeError(f"not a sequential lock node: {name}")
    return int(m.group(1))


class ReadLock(Lock):
    """The shared side of a `ReadWriteLock`: blocked only by earlier writers."""

    node_name = "__rlock__"
    blockers = ("__lock__",)


class WriteLock(Lock):
    """The exclusive side of a `ReadWriteLock`: blocked by every earlier node."""

    node_name = "__lock__"
    blockers = ("__lock__", "__rlock__")


class ReadWriteLock:
    """A pair of locks on one path: many readers or one writer (kazoo's node names)."""

    def __init__(self, client: Client, path: str, identifier: str = "", **kwargs: Any) -> None:
        self.read_lock = ReadLock(client, path, identifier, **kwargs)
        self.write_lock = WriteLock(client, path, identifier, **kwargs)


__all__ = ["Lock", "ReadLock", "ReadWriteLock", "WriteLock"]
