"""Wakes blocking queries: a persistent recursive watch on the KV and session roots.

Each waiter names its region, the znode path its answer depends on (a key's znode, or
the directory a prefix scan starts from). An event wakes the waiters whose region
contains the event's path or lies below it; each re-checks its own index.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from roost.wire.records import ACL

#: how often a waiter re-checks its condition without any event (a member that installed a
#: snapshot from the leader fires no watch events for what the snapshot skipped)
RECHECK_S = 1.0


def related(region: str, path: str) -> bool:
    """Whether a change at `path` can change what is under `region`."""
    if path == region:
        return True
    if region == "/":
        return True
    return path.startswith(region + "/") or region.startswith(path.rstrip("/") + "/")


class Changes:
    """A watcher (for `WatchManager.add_persistent`) that wakes waiters by region."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        #: waiters on several regions at once, each with its own event
        self._multi: list[tuple[tuple[str, ...], asyncio.Event]] = []
        self.waiting = 0
        self.events = 0
        self.closed = False

    def notify(self, ev_type: int, path: str, acl: tuple[ACL, ...]) -> None:
        self.events += 1
        for region in [r for r in self._events if related(r, path)]:
            self._events.pop(region).set()
        if self._multi:
            keep = []
            for regions, ev in self._multi:
                if any(related(r, path) for r in regions):
                    ev.set()
                else:
                    keep.append((regions, ev))
            self._multi = keep

    def wake(self) -> None:
        """Wake every waiter."""
        events, self._events = self._events, {}
        multi, self._multi = self._multi, []
        for ev in [*events.values(), *(e for _r, e in multi)]:
            ev.set()

    def close(self) -> None:
        """The server stops: every waiter answers now."""
        self.closed = True
        self.wake()

    def _event(self, region: str) -> asyncio.Event:
        ev = self._events.get(region)
        if ev is None:
            ev = self._events[region] = asyncio.Event()
        return ev

    async def wait(self, region: str | tuple[str, ...], done: Callable[[], bool],
                   timeout_s: float) -> bool:
        """Wait until done() is true (checked after every change related to the region, or
        to any of the regions), the timeout ends or the server stops; returns done()'s last
        value."""
        deadline = time.monotonic() + timeout_s
        self.waiting += 1
        try:
            while True:
                if isinstance(region, str):
                    ev = self._event(region)
                    entry = None
                else:
                    ev = asyncio.Event()
                    entry = (region, ev)
                    self._multi.append(entry)
                try:
                    if done():
                        return True
                    left = deadline - time.monotonic()
                    if left <= 0 or self.closed:
                        return False
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(ev.wait(), min(left, RECHECK_S))
                finally:
                    if entry is not None and entry in self._multi:
                        self._multi.remove(entry)
        finally:
            self.waiting -= 1
