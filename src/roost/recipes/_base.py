"""Building blocks shared by the recipes: sequence names, protected creates, waits, notify.

Everything here runs on the client's event loop. User callbacks are never called directly:
`notify` hands them to the client's ordered dispatcher, so they run after the state change or
watch event that caused them, off the I/O path (and on the callback thread for `SyncClient`).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from roost.client import (
    Client,
    ClientClosedError,
    ClientState,
    ConnectionLossError,
    NoNodeError,
    SessionExpiredError,
    WatchedEvent,
)

#: The 10-character counter ZooKeeper appends ("%010d": a minus and 9 digits once it wraps).
SEQ_RE = re.compile(r"(-\d{9}|\d{10})$")

#: Errors after which a recipe waits for the client to reconnect and tries again.
RETRYABLE = (ConnectionLossError, SessionExpiredError)

Hook = Callable[..., "Awaitable[None] | None"]


class RecipeError(Exception):
    """Base class of the errors the recipes raise themselves (timeouts, misuse)."""


class AcquireTimeout(RecipeError, TimeoutError):
    """A lock, semaphore, barrier or leadership wait did not succeed in time."""


def sequence_of(name: str) -> int | None:
    """The sequence number at the end of a sequential node's name, or None."""
    m = SEQ_RE.search(name)
    return int(m.group(1)) if m else None


def sort_sequential(names: Iterable[str]) -> list[str]:
    """Names that carry a sequence suffix, in sequence order (others are dropped)."""
    seq = [(s, n) for n in names if (s := sequence_of(n)) is not None]
    return [n for _, n in sorted(seq)]


def join(parent: str, name: str) -> str:
    return f"{parent.rstrip('/')}/{name}" if parent != "/" else f"/{name}"


def basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def new_guid() -> str:
    """A random id for protected node names (uuid4 hex, as kazoo and Curator use)."""
    return uuid.uuid4().hex


class Deadline:
    """A point in loop time; ``remaining()`` is None for "no deadline"."""

    def __init__(self, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        self._at = None if timeout is None else loop.time() + timeout

    def remaining(self) -> float | None:
        if self._at is None:
            return None
        return max(0.0, self._at - asyncio.get_running_loop().time())

    def expired(self) -> bool:
        r = self.remaining()
        return r is not None and r <= 0


async def wait_connected(client: Client, timeout: float | None = None, *,
                         after: BaseException | None = None) -> None:
    """Wait until the client is CONNECTED or RECONNECTED (raise `ClientClosedError` if it
    closes).

    ``after``: the error that made the caller wait; a `ClientClosedError` is re-raised.
    """
    if isinstance(after, ClientClosedError):
        raise after
    await client.wait_for(ClientState.CONNECTED, ClientState.RECONNECTED, ClientState.CLOSED,
                          timeout=timeout)
    if client.state is ClientState.CLOSED:
        raise ClientClosedError()


async def reread_loop(client: Client, read: Callable[[], Awaitable[None]],
                      dirty: asyncio.Event, loaded: asyncio.Event) -> None:
    """Keep a cached view fresh: run ``read`` (which re-arms its watches), mark ``loaded``,
    wait until a watch sets ``dirty``, repeat; after a connection error wait for the client
    to reconnect and read again. Returns once the client is closed."""
    while True:
        dirty.clear()
        try:
            await read()
        except ClientClosedError:
            return
        except RETRYABLE as e:
            await wait_connected(client, after=e)
            continue
        loaded.set()
        await dirty.wait()


async def find_child(client: Client, parent: str, prefix: str) -> str | None:
    """The path of ``parent``'s child whose name starts with ``prefix``, if any."""
    try:
        kids = await client.children(parent)
    except NoNodeError:
        return None
    for k in kids:
        if k.startswith(prefix):
            return join(parent, k)
    return None


async def protected_create(
    client: Client, parent: str, prefix: str, data: bytes, *, ephemeral: bool = True,
    sequence: bool = True, deadline: Deadline | None = None,
) -> str:
    """Create ``parent/prefix<seq>``, surviving a connection loss during the create.

    If the reply is lost, the node may or may not exist. ``prefix`` holds a unique guid, so
    after reconnecting we look for a child with that prefix and adopt it instead of
    creating a second node (the "protected" create of Curator and kazoo).
    """
    deadline = deadline or Deadline(None)
    tried = False
    while True:
        if tried:
            found = await find_child(client, parent, prefix)
            if found is not None:
                return found
        tried = True
        try:
            return await client.create(join(parent, prefix), data, ephemeral=ephemeral,
                                       sequence=sequence, make_parents=True)
        except RETRYABLE as e:
            if deadline.expired():
                raise
            await wait_connected(client, deadline.remaining(), after=e)


async def wait_changed(client: Client, path: str, timeout: float | None) -> bool:
    """Set a data watch on ``path`` and wait for it to fire.

    Returns True if the node is already gone or the watch fired (deleted, changed, or the
    session expired), False if ``timeout`` passed first.
    """
    fired = asyncio.Event()

    async def on_event(_: WatchedEvent) -> None:
        fired.set()

    if await client.exists(path, watch=on_event) is None:
        return True
    try:
        await asyncio.wait_for(fired.wait(), timeout)
    except TimeoutError:
        return False
    return True


def notify(client: Client, hook: Hook | None, *args: Any) -> None:
    """Run ``hook(*args)`` on the client's ordered dispatcher (never inline)."""
    if hook is None:
        return
    if inspect.iscoroutinefunction(hook):
        async def run_async(_: object) -> None:
            await hook(*args)
        client.dispatch(run_async)
    else:
        client.dispatch(lambda _: hook(*args))


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel a recipe's background task and wait until it has ended; its own outcome is
    not the caller's concern, but a cancellation of the caller still reaches the caller.

    The cancellation is repeated until the task ends: on Python 3.11 `asyncio.wait_for`
    can swallow a cancellation that arrives together with what it waits for (CPython
    gh-86296), and the task would otherwise go on waiting for something that never comes.
    """
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)
    if not task.cancelled():
        task.exception()  # retrieved, so that asyncio does not log it as unhandled


async def delete_quietly(client: Client, path: str, timeout: float = 5.0) -> bool:
    """Delete ``path`` if it exists, retrying over short disconnects; True if gone."""
    deadline = Deadline(timeout)
    while True:
        try:
            await client.delete(path)
            return True
        except NoNodeError:
            return True
        except SessionExpiredError:
            return True  # an ephemeral of the expired session is gone with it
        except ClientClosedError:
            return False
        except ConnectionLossError:
            if deadline.expired() or client.state is ClientState.CLOSED:
                return False
            with contextlib.suppress(TimeoutError, ClientClosedError):
                await wait_connected(client, deadline.remaining())


async def czxid_of(client: Client, path: str) -> int | None:
    stat = await client.exists(path)
    return None if stat is None else stat.czxid


__all__ = [
    "RETRYABLE",
    "SEQ_RE",
    "AcquireTimeout",
    "Deadline",
    "RecipeError",
    "basename",
    "czxid_of",
    "delete_quietly",
    "find_child",
    "join",
    "new_guid",
    "notify",
    "protected_create",
    "sequence_of",
    "sort_sequential",
    "wait_changed",
    "wait_connected",
]
