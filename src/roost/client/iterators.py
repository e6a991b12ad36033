"""Async iterators over state changes and watches.

    async for change in zk.states(): ...            # StateChange, until CLOSED
    async for snap in zk.watch_data("/cfg"): ...    # DataSnapshot after every change
    async for snap in zk.watch_children("/jobs"): ...
    async for event in zk.watch_events("/app", recursive=True): ...

The data and children iterators re-arm their one-shot watch on every read and
re-read after every event, so the last value they yield is always the node's
current value: changes that come faster than the consumer are coalesced, never
lost. They carry on across reconnects and session loss (the read waits for a
connection) and end when the client is closed or the watch is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from roost.client.errors import ClientClosedError, NoNodeError, NoWatcherError
from roost.client.events import Callback, ClientState, StateChange, WatchedEvent
from roost.client.retry import RETRYABLE
from roost.client.watches import WatchKind
from roost.wire.opcodes import EventType, KeeperState, WatcherType
from roost.wire.records import Stat

if TYPE_CHECKING:
    from roost.client.connection import Connection


class WatchingClient(Protocol):
    """What the iterators need of their client (`roost.client.client.Client`)."""

    @property
    def state(self) -> ClientState: ...
    @property
    def conn(self) -> Connection: ...
    def add_listener(self, callback: Callback) -> None: ...
    def remove_listener(self, callback: Callback) -> None: ...
    async def wait_for(self, *states: ClientState, timeout: float | None = None) -> None: ...
    async def get(self, path: str, watch: Callback | None = None
                  ) -> tuple[bytes | None, Stat]: ...
    async def exists(self, path: str, watch: Callback | None = None) -> Stat | None: ...
    async def children_with_stat(self, path: str, watch: Callback | None = None
                                 ) -> tuple[list[str], Stat]: ...
    async def add_watch(self, path: str, callback: Callback, recursive: bool = False
                        ) -> None: ...
    async def remove_watches(self, path: str, watcher_type: int = WatcherType.ANY) -> None: ...

_T = TypeVar("_T")

_REMOVED = (
    EventType.DATA_WATCH_REMOVED,
    EventType.CHILD_WATCH_REMOVED,
    EventType.PERSISTENT_WATCH_REMOVED,
)


@dataclass(frozen=True, slots=True)
class DataSnapshot:
    """A node's value as read after ``event`` (None for the first read).

    ``stat`` and ``data`` are None while the node does not exist.
    """

    data: bytes | None
    stat: Stat | None
    event: WatchedEvent | None = None

    @property
    def exists(self) -> bool:
        return self.stat is not None


@dataclass(frozen=True, slots=True)
class ChildrenSnapshot:
    """A node's children (sorted) as read after ``event``; None while the node is missing."""

    children: list[str] | None
    stat: Stat | None
    event: WatchedEvent | None = None


class StateStream:
    """`Client.states()`: every `StateChange` from its creation on, ending after CLOSED."""

    def __init__(self, client: WatchingClient) -> None:
        self._client = client
        self._queue: asyncio.Queue[StateChange] = asyncio.Queue()
        self._done = client.state is ClientState.CLOSED

        async def on_change(change: StateChange) -> None:  # async: always on the loop
            self._queue.put_nowait(change)

        self._listener = on_change
        if not self._done:
            client.add_listener(on_change)

    def __aiter__(self) -> StateStream:
        return self

    async def __anext__(self) -> StateChange:
        if self._done:
            raise StopAsyncIteration
        change = await self._queue.get()
        if change.state is ClientState.CLOSED:
            await self.aclose()
        return change

    async def aclose(self) -> None:
        """Stop listening (done by itself after CLOSED)."""
        self._done = True
        self._client.remove_listener(self._listener)


class _Events:
    """A watch callback feeding a queue, plus the coalescing wait on it.

    It also listens to the client's state, so that closing the client ends the wait
    (with a ``KeeperState.CLOSED`` event, as ZooKeeper's Java client reports it).
    """

    def __init__(self, client: WatchingClient) -> None:
        self.queue: asyncio.Queue[WatchedEvent] = asyncio.Queue()
        self._client = client
        client.add_listener(self._on_state)

    async def __call__(self, event: WatchedEvent) -> None:
        self.queue.put_nowait(event)

    async def _on_state(self, change: StateChange) -> None:
        if change.state is ClientState.CLOSED:
            self.queue.put_nowait(WatchedEvent(EventType.NONE, KeeperState.CLOSED, ""))

    def detach(self) -> None:
        self._client.remove_listener(self._on_state)

    async def get(self) -> WatchedEvent | None:
        """The next event (None once the watch was removed or the client closed)."""
        event = await self.queue.get()
        return None if _is_end(event) else event

    async def next(self) -> WatchedEvent | None:
        """The newest of the waiting events (None if the watch was removed or the client
        closed)."""
        event = await self.queue.get()
        while True:
            if _is_end(event):
                return None
            if self.queue.empty():
                return event
            event = self.queue.get_nowait()


def _is_end(event: WatchedEvent) -> bool:
    return event.type in _REMOVED or event.state is KeeperState.CLOSED


async def _until_usable(client: WatchingClient) -> bool:
    """Wait to be connected (read-only will do); False if the client closed."""
    await client.wait_for(ClientState.CONNECTED, ClientState.RECONNECTED, ClientState.READ_ONLY,
                          ClientState.CLOSED)
    return client.state is not ClientState.CLOSED


async def _snapshots(
    client: WatchingClient,
    path: str,
    read: Callable[[_Events], Awaitable[_T]],
    key: Callable[[_T], Hashable],
    with_event: Callable[[_T, WatchedEvent | None], _T],
    kinds: tuple[WatchKind, ...],
) -> AsyncIterator[_T]:
    events = _Events(client)
    last: Hashable = object()
    trigger: WatchedEvent | None = None
    try:
        while True:
            try:
                snap = await read(events)
            except ClientClosedError:
                return
            except RETRYABLE:
                if not await _until_usable(client):
                    return
                continue
            if key(snap) != last:
                last = key(snap)
                yield with_event(snap, trigger)
            trigger = await events.next()
            if trigger is None:
                return
    finally:
        events.detach()
        if client.state is not ClientState.CLOSED:
            client.conn.watches.remove(path, kinds, events)


def watch_data(client: WatchingClient, path: str) -> AsyncIterator[DataSnapshot]:
    """See `Client.watch_data`."""

    async def read(events: _Events) -> DataSnapshot:
        while True:
            try:
                data, stat = await client.get(path, watch=events)
                return DataSnapshot(data, stat)
            except NoNodeError:
                if await client.exists(path, watch=events) is None:
                    return DataSnapshot(None, None)

    def key(s: DataSnapshot) -> Hashable:
        return None if s.stat is None else (s.stat.czxid, s.stat.mzxid)

    def with_event(s: DataSnapshot, ev: WatchedEvent | None) -> DataSnapshot:
        return DataSnapshot(s.data, s.stat, ev)

    return _snapshots(client, path, read, key, with_event, (WatchKind.DATA, WatchKind.EXIST))


def watch_children(client: WatchingClient, path: str) -> AsyncIterator[ChildrenSnapshot]:
    """See `Client.watch_children`."""

    async def read(events: _Events) -> ChildrenSnapshot:
        while True:
            try:
                kids, stat = await client.children_with_stat(path, watch=events)
                return ChildrenSnapshot(sorted(kids), stat)
            except NoNodeError:
                if await client.exists(path, watch=events) is None:
                    return ChildrenSnapshot(None, None)

    def key(s: ChildrenSnapshot) -> Hashable:
        return None if s.stat is None else (s.stat.czxid, s.stat.cversion)

    def with_event(s: ChildrenSnapshot, ev: WatchedEvent | None) -> ChildrenSnapshot:
        return ChildrenSnapshot(s.children, s.stat, ev)

    kinds = (WatchKind.CHILD, WatchKind.DATA, WatchKind.EXIST)
    return _snapshots(client, path, read, key, with_event, kinds)


async def watch_events(
    client: WatchingClient, path: str, recursive: bool = False
) -> AsyncIterator[WatchedEvent]:
    """See `Client.watch_events`."""
    events = _Events(client)
    kind = WatchKind.RECURSIVE if recursive else WatchKind.PERSISTENT
    try:
        await client.add_watch(path, events, recursive=recursive)
        while True:
            event = await events.get()
            if event is None:
                return
            yield event
            if event.state is KeeperState.EXPIRED:  # the session and its watches are gone
                while True:
                    if not await _until_usable(client):
                        return
                    try:
                        await client.add_watch(path, events, recursive=recursive)
                        break
                    except ClientClosedError:
                        return
                    except RETRYABLE:
                        continue
    except ClientClosedError:
        return
    finally:
        events.detach()
        if client.state is not ClientState.CLOSED:
            reg = client.conn.watches
            reg.remove(path, (kind,), events)
            if not reg.watching(path):
                with contextlib.suppress(NoWatcherError, *RETRYABLE):
                    await client.remove_watches(path, WatcherType.ANY)


__all__ = [
    "ChildrenSnapshot",
    "DataSnapshot",
    "StateStream",
    "watch_children",
    "watch_data",
    "watch_events",
]
