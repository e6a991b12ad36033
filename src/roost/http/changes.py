"""Wakes blocking queries: a persistent recursive watch on the KV and session roots."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from roost.wire.records import ACL

#: how often a waiter re-checks its condition without any event (a member that installed a
#: snapshot from the leader fires no watch events for what the snapshot skipped)
RECHECK_S = 1.0


class Changes:
    """A watcher (for `WatchManager.add_persistent`) that wakes every waiter on any
    change below the roots it is registered on; each waiter re-checks its own index."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.waiting = 0
        self.events = 0
        self.closed = False

    def notify(self, ev_type: int, path: str, acl: tuple[ACL, ...]) -> None:
        self.events += 1
        self.wake()

    def wake(self) -> None:
        ev, self._event = self._event, asyncio.Event()
        ev.set()

    def close(self) -> None:
        """The server stops: every waiter answers now."""
        self.closed = True
        self.wake()

    async def wait(self, done: Callable[[], bool], timeout_s: float) -> bool:
        """Wait until done() is true (checked after every change), the timeout ends or
        the server stops; returns done()'s last value."""
        deadline = time.monotonic() + timeout_s
        self.waiting += 1
        try:
            while True:
                ev = self._event
                if done():
                    return True
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    return False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ev.wait(), min(left, RECHECK_S))
        finally:
            self.waiting -= 1
