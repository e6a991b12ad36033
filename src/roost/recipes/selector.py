"""LeaderSelector: run a coroutine while leading, with Apache Curator's semantics.

Participants queue on a `Lock` at the selector path (so the order is fair: first come, first
served). The winner's ``take_leadership(selector)`` runs; leadership is released when it
returns (or raises). With ``auto_requeue`` the participant then queues again at the back, so
leadership rotates among the live participants; otherwise call `requeue()`.

When the connection is SUSPENDED or the session LOST, the running ``take_leadership`` is
cancelled at once: it must not go on believing it leads. The node is removed as soon as the
client can reach a server again, and (with auto-requeue) the participant queues again.

    async def lead(sel: LeaderSelector) -> None:
        await do_leader_work(token=sel.token)

    sel = LeaderSelector(zk, "/app/selector", lead, id="node-1", auto_requeue=True)
    await sel.start()
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from roost.client import Client, ClientClosedError, ClientState, StateChange
from roost.recipes._base import RETRYABLE, RecipeError, cancel_and_wait, wait_connected
from roost.recipes.fencing import lease_valid
from roost.recipes.leader import Participant, read_participants
from roost.recipes.lock import Lock

log = logging.getLogger("roost.recipes")

TakeLeadership = Callable[["LeaderSelector"], Awaitable[None]]


class LeaderSelector:
    """Take turns running ``take_leadership``; see the module docstring."""

    _loop: asyncio.AbstractEventLoop | None = None

    def __init__(self, client: Client, path: str, take_leadership: TakeLeadership,
                 id: str = "", *, auto_requeue: bool = False) -> None:
        self.client = client
        self.path = path.rstrip("/") or "/"
        self.id = id
        self.auto_requeue = auto_requeue
        self._take = take_leadership
        self._lock = Lock(client, self.path, id)
        self._leading = False
        self._requeue = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._work: asyncio.Future[None] | None = None
        self._closed = False
        self.token: int | None = None
        self.terms = 0  # how many times take_leadership has been started

    async def start(self) -> None:
        """Queue for leadership (once; later turns need auto_requeue or `requeue()`)."""
        if self._task is not None:
            raise RecipeError("selector already started")
        self.client.add_listener(self._on_state)
        self._requeue.set()
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name="roost-selector")

    def requeue(self) -> None:
        """Queue again after the current (or last) term of leadership."""
        self._requeue.set()

    async def close(self) -> None:
        """Leave: cancel a running term, remove our node, stop."""
        if self._closed:
            return
        self._closed = True
        self.client.remove_listener(self._on_state)
        if self._work is not None:
            self._work.cancel()
        await cancel_and_wait(self._task)

    def has_leadership(self) -> bool:
        """True while leading and the session is certainly alive (its lease,
        docs/client.md, has not run out)."""
        return self._leading and self._loop is not None and lease_valid(self.client, self._loop)

    async def participants(self) -> list[Participant]:
        return await read_participants(self.client, self.path)

    async def leader_id(self) -> str | None:
        parts = await self.participants()
        return parts[0].id if parts else None

    # --- internals ------------------------------------------------------------------------
    async def _on_state(self, change: StateChange) -> None:
        if change.state in (ClientState.SUSPENDED, ClientState.LOST):
            self._leading = False
            if self._work is not None and not self._work.done():
                self._work.cancel()

    async def _watch_lease(self, work: asyncio.Future[None]) -> None:
        """Wait for `work`; cancel it once the session lease runs out (the ensemble may
        then expire the session and let another participant lead)."""
        loop = asyncio.get_running_loop()
        while not work.done():
            left = self.client.lease_deadline - loop.time()
            if left <= 0:
                log.warning("selector %s: session lease ran out; cancelling leadership", self.id)
                self._leading = False
                work.cancel()
                await asyncio.wait({work})
                return
            await asyncio.wait({work}, timeout=left)

    async def _run(self) -> None:
        while not self._closed:
            await self._requeue.wait()
            self._requeue.clear()
            try:
                await self._one_turn()
            except ClientClosedError:
                return
            except RETRYABLE as e:
                self._requeue.set()  # never got to lead: queue again once connected
                await wait_connected(self.client, after=e)
                continue
            if self.auto_requeue:
                self._requeue.set()

    async def _one_turn(self) -> None:
        token = await self._lock.acquire(owner=self)
        try:
            if not self.client.state.is_writable:
                return
            self.token = token
            self._leading = True
            self.terms += 1
            work: asyncio.Future[None] = asyncio.ensure_future(self._take(self))
            self._work = work
            await self._watch_lease(work)
            if not work.cancelled() and work.exception() is not None:
                log.error("take_leadership of %s failed", self.id, exc_info=work.exception())
        finally:
            self._leading = False
            self._work = None
            await self._lock.release(owner=self)


__all__ = ["LeaderSelector", "TakeLeadership"]
