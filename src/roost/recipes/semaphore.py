"""Semaphore: at most N leases at once, handed out in arrival order.

Each `acquire` creates an ephemeral sequential node ``<guid>__lease__<seq>``. The first
``max_leases`` nodes (by sequence) hold leases. Waiters wake without a herd:

- the first waiter (position N) keeps a children watch on the semaphore path: any release
  moves it up;
- every later waiter watches only its predecessor's node (a data watch);
- a waiter that gets its lease writes to its own node, which fires the data watch of the
  waiter behind it, who then becomes the first waiter.

A waiter that sees its predecessor already written (version > 0, so a holder) re-reads the
queue at once, which closes the window between listing the children and setting the watch.
The lease's token is the czxid of its node; leases are granted in node order.

    sem = Semaphore(zk, "/pools/db", max_leases=3, identifier="worker-7")
    async with await sem.acquire(timeout=10) as lease:
        use_connection(token=lease.token)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import TracebackType

from roost.client import Client, NoNodeError, Transaction, WatchedEvent
from roost.recipes import fencing
from roost.recipes._base import (
    RETRYABLE,
    AcquireTimeout,
    Deadline,
    basename,
    delete_quietly,
    join,
    new_guid,
    protected_create,
    sort_sequential,
    wait_connected,
)

NODE_NAME = "__lease__"


@dataclass
class Lease:
    """One granted lease. `release` (or leaving ``async with``) gives it back."""

    semaphore: Semaphore
    node: str
    token: int
    released: bool = field(default=False)

    async def release(self) -> None:
        if not self.released:
            self.released = True
            await delete_quietly(self.semaphore.client, self.node)

    def guard(self, txn: Transaction) -> Transaction:
        """Make ``txn`` commit only while this lease's node exists (as written at grant)."""
        return fencing.guard(txn, self.node, 1)

    async def __aenter__(self) -> Lease:
        return self

    async def __aexit__(self, et: type[BaseException] | None, ev: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.release()


class _Gone(Exception):
    pass


class Semaphore:
    """A counting semaphore of ``max_leases`` on ``path``; see the module docstring.

    All participants must agree on ``max_leases`` (it is not stored on the server).
    """

    def __init__(self, client: Client, path: str, max_leases: int, identifier: str = "") -> None:
        if max_leases < 1:
            raise ValueError("max_leases must be at least 1")
        self.client = client
        self.path = path.rstrip("/") or "/"
        self.max_leases = max_leases
        self.identifier = identifier

    async def acquire(self, timeout: float | None = None) -> Lease:
        """Wait for a lease (at most ``timeout`` s, else `AcquireTimeout`)."""
        deadline = Deadline(timeout)
        prefix = new_guid() + NODE_NAME
        data = self.identifier.encode()
        node: str | None = None
        try:
            while True:
                if node is None:
                    node = await protected_create(self.client, self.path, prefix, data,
                                                  deadline=deadline)
                try:
                    await self._wait_turn(basename(node), deadline)
                    stat = await self.client.set(node, data)  # wakes our successor
                    return Lease(self, node, stat.czxid)
                except (_Gone, NoNodeError):
                    node = None
                except RETRYABLE as e:
                    await wait_connected(self.client, deadline.remaining(), after=e)
        except BaseException:
            if node is not None:
                await asyncio.shield(delete_quietly(self.client, node))
            raise

    async def holders(self) -> list[str]:
        """Identifiers of the current lease holders, in grant order."""
        try:
            kids = sort_sequential(await self.client.children(self.path))
        except NoNodeError:
            return []
        out = []
        for name in kids[: self.max_leases]:
            try:
                data, _ = await self.client.get(join(self.path, name))
            except NoNodeError:
                continue
            out.append((data or b"").decode("utf-8", "replace"))
        return out

    async def _wait_turn(self, name: str, deadline: Deadline) -> None:
        while True:
            fired = asyncio.Event()

            async def wake(_: WatchedEvent, fired: asyncio.Event = fired) -> None:
                fired.set()

            kids = sort_sequential(await self.client.children(self.path))
            if name not in kids:
                raise _Gone()
            index = kids.index(name)
            if index < self.max_leases:
                return
            if deadline.expired():
                raise AcquireTimeout(f"semaphore {self.path}: no lease in time")
            if index == self.max_leases:
                again = sort_sequential(await self.client.children(self.path, watch=wake))
                if again != kids:
                    continue  # changed between the two listings: look again
            else:
                pred = join(self.path, kids[index - 1])
                try:
                    _, stat = await self.client.get(pred, watch=wake)
                except NoNodeError:
                    continue
                if stat.version > 0:
                    continue  # our predecessor already holds: we may be first in line now
            try:
                await asyncio.wait_for(fired.wait(), deadline.remaining())
            except TimeoutError:
                raise AcquireTimeout(f"semaphore {self.path}: no lease in time") from None


__all__ = ["Lease", "Semaphore"]
