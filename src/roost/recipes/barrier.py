"""Barrier (wait while a node exists) and DoubleBarrier (enter and leave together).

DoubleBarrier follows ZooKeeper's recipe: each participant creates an ephemeral child; the
one that brings the count to ``count`` creates ``ready``, which everyone is waiting for with
an exists-watch. To leave, a participant deletes its node and waits (children watch) until
no participant nodes remain; the last one out removes ``ready``.
"""

from __future__ import annotations

import asyncio
import contextlib

from roost.client import Client, NodeExistsError, NoNodeError, WatchedEvent
from roost.client.events import Callback
from roost.recipes._base import AcquireTimeout, Deadline, join, wait_changed

READY = "ready"


class Barrier:
    """Hold others back while the barrier node exists."""

    def __init__(self, client: Client, path: str) -> None:
        self.client = client
        self.path = path

    async def create(self) -> bool:
        """Raise the barrier; False if it was already up."""
        try:
            await self.client.create(self.path, make_parents=True)
        except NodeExistsError:
            return False
        return True

    async def remove(self) -> bool:
        """Lower the barrier; False if it was not up."""
        try:
            await self.client.delete(self.path)
        except NoNodeError:
            return False
        return True

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until the barrier is down; False on timeout."""
        deadline = Deadline(timeout)
        while await self.client.exists(self.path) is not None:
            remaining = deadline.remaining()
            if remaining is not None and remaining <= 0:
                return False
            await wait_changed(self.client, self.path, remaining)
        return True


class DoubleBarrier:
    """``count`` participants enter together and leave together."""

    def __init__(self, client: Client, path: str, count: int, member_id: str) -> None:
        self.client = client
        self.path = path.rstrip("/")
        self.count = count
        self.member_id = member_id
        self.node = join(self.path, member_id)

    async def enter(self, timeout: float | None = None) -> None:
        deadline = Deadline(timeout)
        ready = asyncio.Event()

        async def on_ready(_: WatchedEvent) -> None:
            ready.set()

        ready_path = join(self.path, READY)
        if await self.client.exists(ready_path, watch=on_ready) is not None:
            ready.set()
        await self.client.create(self.node, ephemeral=True, make_parents=True)
        if not ready.is_set() and len(await self._members()) >= self.count:
            with contextlib.suppress(NodeExistsError):
                await self.client.create(ready_path)
            ready.set()
        try:
            await asyncio.wait_for(ready.wait(), deadline.remaining())
        except TimeoutError:
            with contextlib.suppress(NoNodeError):
                await self.client.delete(self.node)
            raise AcquireTimeout(f"double barrier {self.path}: not enough members") from None

    async def leave(self, timeout: float | None = None) -> None:
        deadline = Deadline(timeout)
        with contextlib.suppress(NoNodeError):
            await self.client.delete(self.node)
        while True:
            gone = asyncio.Event()

            async def wake(_: WatchedEvent, gone: asyncio.Event = gone) -> None:
                gone.set()

            if not await self._members(wake):
                with contextlib.suppress(NoNodeError):
                    await self.client.delete(join(self.path, READY))
                return
            try:
                await asyncio.wait_for(gone.wait(), deadline.remaining())
            except TimeoutError:
                raise AcquireTimeout(f"double barrier {self.path}: others still in") from None

    async def _members(self, watch: Callback | None = None) -> list[str]:
        kids = await self.client.children(self.path, watch=watch)
        return [k for k in kids if k != READY]


__all__ = ["Barrier", "DoubleBarrier"]
