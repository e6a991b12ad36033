"""Configuration values: `ConfigWatcher` (follow a node) and `ConfigStore` (versioned writes).

`ConfigWatcher` keeps the current value of one node: a data watch, and on every event a
re-read that re-arms the watch, so under rapid changes the last value is always the one it
ends on (intermediate values may be coalesced). A missing node is not an error: the watcher
waits for it with an exists-watch. After a session expiry it reads again. With
``every_value=True`` (roost servers only) it follows the node's watch-history stream
instead and delivers every intermediate value, in order, across reconnects.

`ConfigStore` writes with compare-and-set (the node version) and keeps a bounded history of
earlier values as children ``h-<version>-<seq>`` of the node, written in the same transaction
as the value, for `rollback`. On a roost server, `ConfigStore.history` reads the node's
watch-history stream (every value since the node was created, whoever wrote it) and falls
back to those children when the server's history no longer reaches the node's creation or
the server is Apache ZooKeeper.

Values are typed by a codec: ``"bytes"``, ``"str"`` (UTF-8) or ``"json"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from roost.client import (
    BadVersionError,
    Client,
    ClientClosedError,
    CompactedError,
    EventType,
    HistoryEvent,
    HistoryUnsupportedError,
    NodeExistsError,
    NoNodeError,
    WatchedEvent,
)
from roost.recipes._base import (
    RETRYABLE,
    Hook,
    cancel_and_wait,
    join,
    notify,
    reread_loop,
    sequence_of,
    wait_connected,
)

CODECS = ("bytes", "str", "json")


def encode(codec: str, value: Any) -> bytes:
    if codec == "bytes":
        return bytes(value)
    if codec == "str":
        return str(value).encode()
    if codec == "json":
        return json.dumps(value, sort_keys=True).encode()
    raise ValueError(f"unknown codec {codec!r} (use one of {CODECS})")


def decode(codec: str, data: bytes | None) -> Any:
    raw = data or b""
    if codec == "bytes":
        return raw
    if codec == "str":
        return raw.decode()
    if codec == "json":
        return json.loads(raw) if raw else None
    raise ValueError(f"unknown codec {codec!r} (use one of {CODECS})")


@dataclass(frozen=True, slots=True)
class Versioned:
    """A value with the node version it was read at (-1: the node does not exist)."""

    value: Any
    version: int

    @property
    def exists(self) -> bool:
        return self.version >= 0


MISSING = Versioned(None, -1)


class ConfigWatcher:
    """Follow one node's value; see the module docstring.

    ``on_change(value, version)`` is called for every value read that differs from the
    previous one (through the client's dispatcher, in order); ``version`` is -1 when the
    node is deleted (``value`` is then None).

    ``every_value=True``: follow the watch-history stream (a roost extension), so that
    ``on_change`` and `values` see every value the node took, none coalesced; `start`
    raises `HistoryUnsupportedError` against a server without it. If the server's history
    no longer reaches the last value seen (a long disconnection), the watcher reads the
    node again and goes on from there: values in between are then skipped.
    """

    def __init__(self, client: Client, path: str, codec: str = "bytes", *,
                 on_change: Hook | None = None, every_value: bool = False) -> None:
        if codec not in CODECS:
            raise ValueError(f"unknown codec {codec!r}")
        self.client = client
        self.path = path
        self.codec = codec
        self.on_change = on_change
        self.every_value = every_value
        self.resyncs = 0  # every_value: times the history was compacted past us
        self._queues: list[asyncio.Queue[Versioned]] = []
        self._error: BaseException | None = None
        self.current: Versioned = MISSING
        self.reads = 0
        self._mzxid = -1
        self._dirty = asyncio.Event()
        self._changed = asyncio.Condition()
        self._loaded = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # every_value: the stream reports changes, the reads need no watch
        self._watch: Callable[[WatchedEvent], Awaitable[None]] | None = (
            None if every_value else self._on_event
        )

    @property
    def value(self) -> Any:
        return self.current.value

    async def start(self) -> None:
        """Read the node (or arm an exists-watch) and follow it in the background."""
        if self._task is None:
            run = self._run_stream() if self.every_value else self._run()
            self._task = asyncio.get_running_loop().create_task(run, name="roost-config")
            await self._loaded.wait()
            if self._error is not None:
                self._task = None
                raise self._error

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def __aenter__(self) -> ConfigWatcher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def wait_for_value(self, timeout: float | None = None) -> Any:
        """Wait until the node exists and return its value (TimeoutError after ``timeout``)."""
        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(lambda: self.current.exists)
        return self.current.value

    async def wait_until(self, value: Any, timeout: float | None = None) -> None:
        """Wait until the current value equals ``value``."""
        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(lambda: self.current.exists and
                                             self.current.value == value)

    async def values(self) -> AsyncIterator[Any]:
        """Yield the current value, then each newer value (coalesced if they come fast,
        unless ``every_value``)."""
        if self.every_value:
            queue: asyncio.Queue[Versioned] = asyncio.Queue()
            self._queues.append(queue)
            try:
                if self.current.exists:
                    yield self.current.value
                while True:
                    new = await queue.get()
                    if new.exists:
                        yield new.value
            finally:
                self._queues.remove(queue)
        seen = [-2]
        while True:
            async with self._changed:
                await self._changed.wait_for(lambda: self._mzxid != seen[0])
                seen[0] = self._mzxid
                current = self.current
            if current.exists:
                yield current.value

    # --- internals ------------------------------------------------------------------------
    async def _on_event(self, _: WatchedEvent) -> None:
        self._dirty.set()

    async def _run(self) -> None:
        await reread_loop(self.client, self._read, self._dirty, self._loaded)

    async def _run_stream(self) -> None:
        while True:
            since = self.client.last_zxid
            try:
                await self._read()
            except ClientClosedError:
                return
            except RETRYABLE as e:
                await wait_connected(self.client, after=e)
                continue
            stream = self.client.watch_history(self.path, since=since, with_data=True)
            try:
                await stream.wait_open()
                self._loaded.set()
                async for ev in stream:
                    await self._apply(ev)
                return  # the client closed
            except CompactedError:
                self.resyncs += 1
            except HistoryUnsupportedError as e:
                self._error = e
                self._loaded.set()
                return
            finally:
                await stream.aclose()

    async def _apply(self, ev: HistoryEvent) -> None:
        """One event of the stream; those the first read already reflected are skipped."""
        if ev.zxid <= self._mzxid:
            return
        if ev.type == EventType.NODE_CREATED:
            await self._publish(Versioned(decode(self.codec, ev.data), 0), ev.zxid)
        elif ev.type == EventType.NODE_DATA_CHANGED:
            version = self.current.version + 1
            await self._publish(Versioned(decode(self.codec, ev.data), version), ev.zxid)
        elif ev.type == EventType.NODE_DELETED and self.current.exists:
            await self._publish(MISSING, ev.zxid)

    async def _read(self) -> None:
        try:
            data, stat = await self.client.get(self.path, watch=self._watch)
        except NoNodeError:
            if await self.client.exists(self.path, watch=self._watch) is not None:
                self._dirty.set()  # created between the two calls: read it
                return
            await self._publish(MISSING, 0)
            return
        self.reads += 1
        await self._publish(Versioned(decode(self.codec, data), stat.version), stat.mzxid)

    async def _publish(self, new: Versioned, mzxid: int) -> None:
        if mzxid == self._mzxid and new.version == self.current.version:
            return
        self.current, self._mzxid = new, mzxid
        for q in self._queues:
            q.put_nowait(new)
        async with self._changed:
            self._changed.notify_all()
        notify(self.client, self.on_change, new.value, new.version)


class ConfigStore:
    """Versioned reads and compare-and-set writes of one node, with a bounded history."""

    def __init__(self, client: Client, path: str, codec: str = "bytes", *,
                 history: int = 10) -> None:
        if codec not in CODECS:
            raise ValueError(f"unknown codec {codec!r}")
        self.client = client
        self.path = path
        self.codec = codec
        self.history_size = history

    async def get(self) -> Versioned:
        try:
            data, stat = await self.client.get(self.path)
        except NoNodeError:
            return MISSING
        return Versioned(decode(self.codec, data), stat.version)

    async def set(self, value: Any, version: int | None = None) -> int:
        """Write ``value``; with ``version`` only if the node is still at that version.

        ``version=-1`` means "only if the node does not exist yet". Returns the new version.
        Raises `BadVersionError` (or `NodeExistsError`) when the compare fails.
        """
        data = encode(self.codec, value)
        while True:
            current = version
            if current is None:
                current = (await self.get()).version
            try:
                return await self._write(data, current)
            except (BadVersionError, NodeExistsError, NoNodeError):
                if version is not None:
                    raise
            # unconditional write raced with another writer: read the version again

    async def _write(self, data: bytes, current: int) -> int:
        txn = self.client.transaction()
        if current < 0:
            txn.create(self.path, data)
            new_version = 0
        else:
            txn.set(self.path, data, current)
            new_version = current + 1
        if self.history_size > 0:
            txn.create(join(self.path, f"h-{new_version:010d}-"), data, sequence=True)
        if current < 0:
            await self._ensure_parent()
        await txn.commit()
        await self._trim()
        return new_version

    async def _ensure_parent(self) -> None:
        parent = self.path.rsplit("/", 1)[0]
        if parent:
            await self.client.ensure_path(parent)

    async def history(self) -> list[Versioned]:
        """Earlier values (newest first), including the current one, at most ``history``
        (all the server's history holds when ``history`` is 0).

        From the node's watch-history stream on roost (every value since the node was
        created, also those written without this class); from the ``h-`` children when
        the server's history does not reach back to the node's creation, or on ZooKeeper.
        """
        try:
            return await self._stream_history()
        except (CompactedError, HistoryUnsupportedError, TimeoutError):
            pass  # (TimeoutError: the stream did not reach the version read, e.g. no READ)
        names = await self._history_names()
        out: list[Versioned] = []
        for name in reversed(names):
            try:
                data, _ = await self.client.get(join(self.path, name))
            except NoNodeError:
                continue
            out.append(Versioned(decode(self.codec, data), int(name.split("-")[1])))
        return out

    async def _stream_history(self) -> list[Versioned]:
        stat = await self.client.exists(self.path)
        if stat is None:
            return []
        stream = self.client.watch_history(self.path, since=stat.czxid - 1, with_data=True)
        out: list[Versioned] = []
        try:
            async with asyncio.timeout(self.client.session_timeout or 10.0):
                while not out or out[-1].version < stat.version:  # up to what exists saw
                    ev = await anext(stream)
                    if ev.type == EventType.NODE_CREATED:
                        out = [Versioned(decode(self.codec, ev.data), 0)]
                    elif ev.type == EventType.NODE_DATA_CHANGED and out:
                        out.append(Versioned(decode(self.codec, ev.data), out[-1].version + 1))
                    elif ev.type == EventType.NODE_DELETED:
                        out = []
        finally:
            await stream.aclose()
        out.reverse()
        return out[: self.history_size] if self.history_size > 0 else out

    async def rollback(self, steps: int = 1) -> int:
        """Write back the value from ``steps`` writes ago (CAS on the current version)."""
        hist = await self.history()
        if steps < 1 or steps >= len(hist):
            raise ValueError(f"no history entry {steps} writes back (have {len(hist)})")
        current = await self.get()
        return await self.set(hist[steps].value, current.version)

    async def _history_names(self) -> list[str]:
        try:
            kids = await self.client.children(self.path)
        except NoNodeError:
            return []
        hist = [k for k in kids if k.startswith("h-") and sequence_of(k) is not None]
        return sorted(hist, key=lambda k: sequence_of(k) or 0)

    async def _trim(self) -> None:
        names = await self._history_names()
        for name in names[: max(0, len(names) - self.history_size)]:
            with contextlib.suppress(NoNodeError):
                await self.client.delete(join(self.path, name))


__all__ = ["CODECS", "MISSING", "ConfigStore", "ConfigWatcher", "Versioned", "decode", "encode"]
