"""kazoo-style `DataWatch` and `ChildrenWatch` callbacks on the blocking facade.

    @zk.DataWatch("/config")
    def on_config(data, stat):             # or (data, stat, event)
        ...

    @zk.ChildrenWatch("/workers")
    def on_workers(children):              # (children, event) with send_event=True
        ...

As in kazoo: the function is called at once, in the registering thread, with the current
value, and then after every change, one call at a time, on the facade's callback thread.
Returning ``False`` stops the watch (so does `stop()`, or closing the client).

* `DataWatch` calls ``func(data, stat)`` (``func(data, stat, event)`` if it takes three
  arguments; ``event`` is None on the first call). While the node does not exist, data and
  stat are None, and the watch waits for it to appear. A call follows each change of the
  node's mzxid (a write, a deletion, a re-creation).
* `ChildrenWatch` calls ``func(children)`` (``func(children, event)`` with
  ``send_event=True``) with the child names, sorted. The node must exist: if it does not
  when the watch starts, the function is never called; when it is deleted, the watch ends.

Both are built on `Client.watch_data` / `Client.watch_children`, so they carry on across
reconnects and session expiry, and changes that come faster than the function returns are
coalesced into one call with the newest value (kazoo behaves the same way, since it re-reads
after each event). An exception raised by the function is logged and the watch goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from roost.client.iterators import ChildrenSnapshot, DataSnapshot

if TYPE_CHECKING:
    from roost.client.client import Client

log = logging.getLogger(__name__)

S = TypeVar("S", DataSnapshot, ChildrenSnapshot)
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


class BlockingClient(Protocol):
    """What a watcher needs of its blocking client (`roost.client.sync.SyncClient`): the
    asyncio client it wraps, the loop runner, and the executor callbacks run on."""

    @property
    def aio(self) -> Client: ...
    @property
    def closed(self) -> bool: ...
    @property
    def _executor(self) -> Executor: ...
    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T: ...


class _Watch(Generic[S]):
    def __init__(self, client: BlockingClient, path: str,
                 func: Callable[..., Any] | None = None) -> None:
        self._client = client
        self.path = path
        self._func: Callable[..., Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self.stopped = False
        if func is not None:
            self._begin(func)

    def __call__(self, func: F) -> F:
        """Use as a decorator: start watching with ``func``; returns ``func``."""
        if self._func is not None:
            raise RuntimeError(f"{type(self).__name__} on {self.path} already has a function")
        self._begin(func)
        return func

    # --- to be defined by each kind ----------------------------------------------------------
    def _snapshots(self) -> AsyncIterator[S]:
        raise NotImplementedError

    def _ended(self, snap: S) -> bool:
        """True when ``snap`` ends the watch without a call."""
        raise NotImplementedError

    def _args(self, snap: S) -> tuple[Any, ...]:
        raise NotImplementedError

    # --- machinery -----------------------------------------------------------------------------
    def _begin(self, func: Callable[..., Any]) -> None:
        self._func = func
        client = self._client

        async def first() -> tuple[AsyncIterator[S], S | None]:
            snaps = self._snapshots()
            try:
                return snaps, await snaps.__anext__()
            except StopAsyncIteration:  # the client closed
                return snaps, None

        snaps, snap = client.run(first())
        if snap is None or not self._deliver(snap):
            self.stopped = True
            client.run(_aclose(snaps))
            return

        async def start() -> None:
            self._task = asyncio.get_running_loop().create_task(self._follow(snaps))

        client.run(start())

    async def _follow(self, snaps: AsyncIterator[S]) -> None:
        loop = asyncio.get_running_loop()
        try:
            async for snap in snaps:
                if not await loop.run_in_executor(self._client._executor, self._deliver, snap):
                    break
        finally:
            self.stopped = True
            await _aclose(snaps)

    def _deliver(self, snap: S) -> bool:
        """Call the function for ``snap``; False when the watch is to end."""
        if self.stopped or self._ended(snap):
            return False
        assert self._func is not None
        try:
            result = self._func(*self._args(snap))
        except Exception:
            log.exception("%s on %s: the function raised", type(self).__name__, self.path)
            return True
        return result is not False

    def stop(self) -> None:
        """End the watch: the function is not called again (idempotent)."""
        self.stopped = True
        task = self._task
        if task is None or task.done():
            return

        async def cancel() -> None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        if not self._client.closed:
            self._client.run(cancel())

    def __repr__(self) -> str:
        state = "stopped" if self.stopped else "watching"
        return f"<{type(self).__name__} {self.path} {state}>"


async def _aclose(snaps: AsyncIterator[Any]) -> None:
    close = getattr(snaps, "aclose", None)
    if close is not None:
        await close()


def _takes(func: Callable[..., Any], n: int) -> bool:
    try:
        inspect.signature(func).bind(*([None] * n))
    except (TypeError, ValueError):
        return False
    return True


class DataWatch(_Watch[DataSnapshot]):
    """Call ``func(data, stat[, event])`` now and after every change of ``path``."""

    def _begin(self, func: Callable[..., Any]) -> None:
        self._with_event = _takes(func, 3)
        super()._begin(func)

    def _snapshots(self) -> AsyncIterator[DataSnapshot]:
        return self._client.aio.watch_data(self.path)

    def _ended(self, snap: DataSnapshot) -> bool:
        return False

    def _args(self, snap: DataSnapshot) -> tuple[Any, ...]:
        if self._with_event:
            return snap.data, snap.stat, snap.event
        return snap.data, snap.stat


class ChildrenWatch(_Watch[ChildrenSnapshot]):
    """Call ``func(children[, event])`` now and after every change of ``path``'s children."""

    def __init__(self, client: BlockingClient, path: str, func: Callable[..., Any] | None = None,
                 allow_session_lost: bool = True, send_event: bool = False) -> None:
        if not allow_session_lost:
            raise ValueError("roost's ChildrenWatch always carries on after a session loss")
        self.send_event = send_event
        super().__init__(client, path, func)

    def _snapshots(self) -> AsyncIterator[ChildrenSnapshot]:
        return self._client.aio.watch_children(self.path)

    def _ended(self, snap: ChildrenSnapshot) -> bool:
        return snap.children is None

    def _args(self, snap: ChildrenSnapshot) -> tuple[Any, ...]:
        if self.send_event:
            return snap.children, snap.event
        return (snap.children,)


__all__ = ["ChildrenWatch", "DataWatch"]
