"""Blocking use of the recipes with `SyncClient`.

    from roost.client import SyncClient
    from roost.recipes import Lock
    from roost.recipes.blocking import blocking

    with SyncClient("127.0.0.1:2181") as zk:
        lock = blocking(zk, Lock, "/locks/a", identifier="me")
        with lock:                     # acquire() ... release()
            print("token", lock.token)

`blocking(sync_client, RecipeClass, *args, **kwargs)` builds the recipe on the client's
event loop (with the asyncio client behind the facade) and returns a proxy: coroutine methods
become blocking calls, async iterators become plain iterators, everything else (attributes,
plain methods) passes through. Methods that take an ``owner`` get the calling thread as
owner, so a blocking `Lock` is reentrant per thread. Plain-function callbacks given to a
recipe run on the facade's callback thread, like the client's own callbacks.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType
from typing import Any, Generic, TypeVar

from roost.client import SyncClient

R = TypeVar("R")


class Blocking(Generic[R]):
    """A blocking proxy for one recipe object (see the module docstring)."""

    def __init__(self, client: SyncClient, recipe: R) -> None:
        self._client = client
        self.recipe = recipe
        self._leases: list[Any] = []

    def _run(self, coro: Any, timeout: float | None = None) -> Any:
        return self._client.run(coro, timeout)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.recipe, name)
        if inspect.iscoroutinefunction(attr):
            return self._wrap(attr)
        if inspect.isasyncgenfunction(attr):
            return lambda *a, **kw: self._iterate(attr(*a, **kw))
        return attr

    def _wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        takes_owner = "owner" in inspect.signature(fn).parameters

        def call(*args: Any, **kwargs: Any) -> Any:
            if takes_owner and kwargs.get("owner") is None:
                kwargs["owner"] = ("thread", threading.get_ident())
            return self._run(fn(*args, **kwargs))

        call.__name__ = fn.__name__
        call.__doc__ = fn.__doc__
        return call

    def _iterate(self, agen: AsyncIterator[Any]) -> Iterator[Any]:
        try:
            while True:
                try:
                    yield self._run(agen.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            self._run(_aclose(agen))

    def __enter__(self) -> Any:
        got = self.__getattr__("acquire")()
        if hasattr(got, "release"):  # a semaphore's Lease: released on exit
            self._leases.append(got)
            return got
        self._leases.append(None)
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        lease = self._leases.pop()
        if lease is not None:
            self._run(lease.release())
        else:
            self.__getattr__("release")()

    def __repr__(self) -> str:
        return f"<blocking {self.recipe!r}>"


async def _aclose(agen: AsyncIterator[Any]) -> None:
    close = getattr(agen, "aclose", None)
    if close is not None:
        await close()


async def _construct(cls: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any]) -> R:
    return cls(*args, **kwargs)


def blocking(client: SyncClient, cls: Callable[..., R], *args: Any, **kwargs: Any) -> Blocking[R]:
    """Build ``cls(client.aio, *args, **kwargs)`` on the client's loop; return a blocking proxy."""
    recipe = client._run(_construct(cls, (client.aio, *args), kwargs))
    return Blocking(client, recipe)


def run(client: SyncClient, coro: Any, timeout: float | None = None) -> Any:
    """Run one coroutine on the facade's loop and wait for it (e.g. ``lease.release()``)."""
    if asyncio.iscoroutine(coro):
        return client._run(coro, timeout)
    raise TypeError("run() needs a coroutine")


__all__ = ["Blocking", "blocking", "run"]
