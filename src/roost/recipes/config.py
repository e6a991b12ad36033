"""Configuration values: `ConfigWatcher` (follow a node) and `ConfigStore` (versioned writes).

`ConfigWatcher` keeps the current value of one node: a data watch, and on every event a
re-read that re-arms the watch, so under rapid changes the last value is always the one it
ends on (intermediate values may be coalesced). A missing node is not an error: the watcher
waits for it with an exists-watch. After a session expiry it reads again.

`ConfigStore` writes with compare-and-set (the node version) and keeps a bounded history of
earlier values as children ``h-<version>-<seq>`` of the node, written in the same transaction
as the value, for `rollback`.

Values are typed by a codec: ``"bytes"``, ``"str"`` (UTF-8) or ``"json"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from roost.client import (
    BadVersionError,
    Client,
    NodeExistsError,
    NoNodeError,
    WatchedEvent,
)
from roost.recipes._base import (
    Hook,
    cancel_and_wait,
    join,
    notify,
    reread_loop,
    sequence_of,
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
    """

    def __init__(self, client: Client, path: str, codec: str = "bytes", *,
                 on_change: Hook | None = None) -> None:
        if codec not in CODECS:
            raise ValueError(f"unknown codec {codec!r}")
        self.client = client
        self.path = path
        self.codec = codec
        self.on_change = on_change
        self.current: Versioned = MISSING
        self.reads = 0
        self._mzxid = -1
        self._dirty = asyncio.Event()
        self._changed = asyncio.Condition()
        self._loaded = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._watch = self._on_event

    @property
    def value(self) -> Any:
        return self.current.value

    async def start(self) -> None:
        """Read the node (or arm an exists-watch) and follow it in the background."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="roost-config")
            await self._loaded.wait()

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
        """Yield the current value, then each newer value (coalesced if they come fast)."""
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
        """Earlier values (newest first), including the current one, at most ``history``."""
        names = await self._history_names()
        out: list[Versioned] = []
        for name in reversed(names):
            try:
                data, _ = await self.client.get(join(self.path, name))
            except NoNodeError:
                continue
            out.append(Versioned(decode(self.codec, data), int(name.split("-")[1])))
        return out

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
