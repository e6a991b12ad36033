"""Waiting in tests for something another thread or process brings about: poll a predicate
until it holds, with a deadline, never a bare sleep.

    leader = wait_until(lambda: ens.leader_index(), 20, what="a leader")

The predicate is called at once, then every ``interval`` seconds; the first truthy value it
returns is returned. At the deadline `WaitTimeout` says what was awaited and for how long.
In a coroutine, ``await wait_until_async(...)`` does the same without blocking the event
loop, and also takes a predicate that returns an awaitable (``lambda: zk.exists(path)``).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: seconds allowed when the caller names no timeout
DEFAULT_TIMEOUT = 10.0


class WaitTimeout(AssertionError):
    """The awaited condition did not hold in time: a test failure. (Deliberately not an
    OSError, as TimeoutError is: code that catches OSError around a wait must not swallow
    it.)"""


def wait_until(predicate: Callable[[], T], timeout: float = DEFAULT_TIMEOUT,
               interval: float = 0.05, what: str = "") -> T:
    """Call ``predicate`` until it returns something truthy and return that; raise
    `WaitTimeout` naming ``what`` (default: the predicate) once ``timeout`` seconds have
    passed. The predicate is called once more at the deadline, so a slow machine that wakes
    late still gets its answer."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:g} s waiting for {what or predicate}")
        time.sleep(max(0.0, min(interval, deadline - time.monotonic())))


async def wait_until_async(predicate: Callable[[], Any], timeout: float = DEFAULT_TIMEOUT,
                           interval: float = 0.01, what: str = "") -> Any:
    """`wait_until` on the running event loop: ``predicate`` may return a value or an
    awaitable (awaited each time); the pauses are ``asyncio.sleep``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:g} s waiting for {what or predicate}")
        await asyncio.sleep(max(0.0, min(interval, deadline - loop.time())))


__all__ = ["DEFAULT_TIMEOUT", "WaitTimeout", "wait_until", "wait_until_async"]
