"""Client states, the events listeners receive, and the ordered callback dispatcher.

The I/O path never calls user code. It puts ``(callback, event)`` pairs on one
`Dispatcher` queue; a separate task takes them off in order and runs them. So
listeners see state changes and watch events in exactly the order the
connection produced them, and a slow callback delays only later callbacks,
never the socket, pings or replies.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from roost.wire.opcodes import EventType, KeeperState

log = logging.getLogger("roost.client")


class ClientState(enum.Enum):
    """Where the client's session stands; the names and meanings are Curator's.

    CONNECTING: started, no session yet (or a new one is being set up after LOST).
    CONNECTED: the first read-write connection and session.
    SUSPENDED: the connection dropped; the session may still be alive on the
        server (see `Client.lease_deadline`); the client is reconnecting.
    RECONNECTED: connected read-write again after SUSPENDED, LOST or READ_ONLY
        (after LOST, or after a read-only-only past, with a new session id).
    LOST: the session is gone: the server said it expired, or SUSPENDED lasted
        longer than the session timeout, so the server has surely expired it.
        Its ephemerals and watches are gone; the client goes on with a new session.
    READ_ONLY: connected to a server that has no quorum (only with ``read_only=True``):
        reads work, writes fail with `NotReadOnlyError`; the client keeps looking
        for a read-write server and moves there (RECONNECTED) when it finds one.
    CLOSED: `close()` was called; final.
    """

    CONNECTING = "CONNECTING"
    CONNECTED = "CONNECTED"
    SUSPENDED = "SUSPENDED"
    RECONNECTED = "RECONNECTED"
    LOST = "LOST"
    READ_ONLY = "READ_ONLY"
    CLOSED = "CLOSED"

    @property
    def is_connected(self) -> bool:
        """True for the states with a live connection (CONNECTED, RECONNECTED, READ_ONLY)."""
        return self in _LIVE

    @property
    def is_writable(self) -> bool:
        """True for CONNECTED and RECONNECTED: a live read-write session."""
        return self in _WRITABLE


_WRITABLE = frozenset({ClientState.CONNECTED, ClientState.RECONNECTED})
_LIVE = _WRITABLE | {ClientState.READ_ONLY}
#: the states `wait_for(CONNECTED)` and the recipes treat as "connected read-write"
WRITABLE_STATES: tuple[ClientState, ...] = (ClientState.CONNECTED, ClientState.RECONNECTED)


@dataclass(frozen=True, slots=True)
class StateChange:
    """One transition of the client's state machine, as delivered to state listeners."""

    state: ClientState
    previous: ClientState
    session_id: int


@dataclass(frozen=True, slots=True)
class WatchedEvent:
    """A watch notification. ``path`` is relative to the client's chroot.

    ``type`` is an `EventType`; ``state`` is SYNC_CONNECTED for server events and
    EXPIRED for the event that tells a watcher its watch died with the session.
    """

    type: EventType
    state: KeeperState
    path: str


Callback = Callable[[Any], "Awaitable[None] | None"]


class Dispatcher:
    """Runs callbacks one at a time, in submission order, off the I/O path.

    Coroutine functions are awaited on the loop. Plain functions run on the loop
    too, unless an ``executor`` is given (the sync facade passes a one-thread
    executor so blocking callbacks never hold the event loop).
    """

    def __init__(self, executor: Executor | None = None) -> None:
        self._queue: asyncio.Queue[tuple[Callback, Any] | None] = asyncio.Queue()
        self._executor = executor
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="roost-dispatch")

    def submit(self, callback: Callback, event: Any) -> None:
        self._queue.put_nowait((callback, event))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            item = await self._queue.get()
            if item is None:
                return
            callback, event = item
            try:
                if inspect.iscoroutinefunction(callback):
                    await callback(event)
                elif self._executor is not None:
                    res = await loop.run_in_executor(self._executor, callback, event)
                    if inspect.isawaitable(res):
                        await res
                else:
                    res = callback(event)
                    if inspect.isawaitable(res):
                        await res
            except Exception:
                log.exception("roost client callback %r failed", callback)

    async def stop(self, timeout: float = 5.0) -> None:
        """Run what is queued, then stop (cancel after ``timeout`` seconds)."""
        task = self._task
        if task is None:
            return
        self._queue.put_nowait(None)
        self._task = None
        if task is asyncio.current_task():
            return  # close() called from inside a callback: the task ends after it
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            task.cancel()


__all__ = [
    "WRITABLE_STATES",
    "Callback",
    "ClientState",
    "Dispatcher",
    "StateChange",
    "WatchedEvent",
]
