"""DistributedQueue: FIFO items, each consumed exactly once.

Producers create persistent sequential nodes ``q-<seq>``. A consumer reads the smallest
item and claims it with one transaction: delete the item (at the version it read) and create
a marker ``claim-q-<seq>`` holding a token unique to this `get`. Only one consumer's
transaction can delete an item. If the connection drops before the reply, the consumer
reconnects and reads the marker: its own token means the item is its, anything else (or no
marker) means it is not. The marker is persistent, so this works even if the session expired
meanwhile; it is deleted once the item is handed over. A consumer that crashes between the
claim and that point leaves its marker behind (the item counts as taken).

`put` is not retried after a connection loss (the item may or may not have been added).
"""

from __future__ import annotations

import asyncio
import contextlib

from roost.client import (
    BadVersionError,
    Client,
    NodeExistsError,
    NoNodeError,
    WatchedEvent,
)
from roost.client.events import Callback
from roost.recipes._base import (
    RETRYABLE,
    AcquireTimeout,
    Deadline,
    join,
    new_guid,
    sort_sequential,
    wait_connected,
)

ITEM = "q-"
CLAIM = "claim-"


class DistributedQueue:
    """A FIFO queue of byte strings on ``path``."""

    def __init__(self, client: Client, path: str) -> None:
        self.client = client
        self.path = path.rstrip("/")

    async def put(self, data: bytes) -> str:
        """Append an item; returns its node name."""
        path = await self.client.create(join(self.path, ITEM), data, sequence=True,
                                        make_parents=True)
        return path.rsplit("/", 1)[-1]

    async def items(self) -> list[str]:
        try:
            kids = await self.client.children(self.path)
        except NoNodeError:
            return []
        return sort_sequential(k for k in kids if k.startswith(ITEM))

    async def get(self, timeout: float | None = None) -> bytes:
        """Take the oldest item, waiting for one (at most ``timeout`` s, else AcquireTimeout)."""
        deadline = Deadline(timeout)
        while True:
            fired = asyncio.Event()

            async def wake(_: WatchedEvent, fired: asyncio.Event = fired) -> None:
                fired.set()

            try:
                names = await self._items_with_watch(wake)
                for name in names:
                    data = await self._claim(name, deadline)
                    if data is not None:
                        return data
            except RETRYABLE as e:
                await wait_connected(self.client, deadline.remaining(), after=e)
                continue
            if names:
                continue  # all taken by others meanwhile: list again
            try:
                await asyncio.wait_for(fired.wait(), deadline.remaining())
            except TimeoutError:
                raise AcquireTimeout(f"queue {self.path}: empty") from None

    async def get_nowait(self) -> bytes | None:
        try:
            return await self.get(timeout=0)
        except AcquireTimeout:
            return None

    async def _items_with_watch(self, wake: Callback) -> list[str]:
        try:
            kids = await self.client.children(self.path, watch=wake)
        except NoNodeError:
            await self.client.ensure_path(self.path)
            kids = await self.client.children(self.path, watch=wake)
        return sort_sequential(k for k in kids if k.startswith(ITEM))

    async def _claim(self, name: str, deadline: Deadline) -> bytes | None:
        """Try to take item ``name``: its data if we got it, None if someone else did."""
        item = join(self.path, name)
        try:
            data, stat = await self.client.get(item)
        except NoNodeError:
            return None
        marker = join(self.path, CLAIM + name)
        token = new_guid().encode()
        txn = self.client.transaction().delete(item, stat.version)
        txn.create(marker, token)
        try:
            await txn.commit()
        except (NoNodeError, BadVersionError, NodeExistsError):
            return None
        except RETRYABLE as e:
            await wait_connected(self.client, deadline.remaining(), after=e)
            if not await self._marker_is(marker, token):
                return None
        with contextlib.suppress(NoNodeError, *RETRYABLE):
            await self.client.delete(marker)
        return data or b""

    async def _marker_is(self, marker: str, token: bytes) -> bool:
        try:
            got, _ = await self.client.get(marker)
        except NoNodeError:
            return False
        return got == token


__all__ = ["DistributedQueue"]
