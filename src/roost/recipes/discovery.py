"""Service discovery and group membership.

`ServiceRegistry` registers instances as ephemeral nodes ``<base>/<name>/<id>`` holding JSON
(address, port, metadata, health) and registers them again after a session expiry.
`ServiceDiscovery` keeps the live set of one service (children watch plus a data watch on
each instance, re-read on every event) and picks an instance at random or round-robin.
`GroupMembership` is the same pair of ideas for plain members: join as an ephemeral child,
list and watch the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from roost.client import (
    Client,
    ClientClosedError,
    ClientState,
    NodeExistsError,
    NoNodeError,
    StateChange,
    WatchedEvent,
)
from roost.recipes._base import (
    RETRYABLE,
    Hook,
    cancel_and_wait,
    join,
    notify,
    reread_loop,
    wait_connected,
)


@dataclass(frozen=True)
class ServiceInstance:
    """One instance, stored as Apache Curator's service-discovery JSON (name, id, address,
    port, sslPort, payload, registrationTimeUTC, serviceType, uriSpec, enabled) plus
    "metadata" and "health", which Curator's default serializer ignores. So Curator clients
    and roost's Consul API (/v1/catalog/service, /v1/health/service) see these instances, and
    this recipe reads theirs (a disabled Curator instance reads as health "down")."""

    name: str
    id: str
    address: str
    port: int
    metadata: dict[str, Any] = field(default_factory=dict)
    health: str = "up"

    def to_json(self) -> bytes:
        d: dict[str, Any] = asdict(self)
        d.update(sslPort=None, payload=None, registrationTimeUTC=0, serviceType="DYNAMIC",
                 uriSpec=None, enabled=True)
        return json.dumps(d, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> ServiceInstance:
        d = json.loads(data)
        health = d.get("health") or ("down" if d.get("enabled") is False else "up")
        return cls(d["name"], d["id"], d.get("address") or "", int(d.get("port") or 0),
                   dict(d.get("metadata") or {}), str(health))


class EphemeralSet:
    """Ephemeral nodes this client keeps alive: re-created when a new session starts."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._nodes: dict[str, bytes] = {}
        self._listening = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.recreated = 0

    async def put(self, path: str, data: bytes) -> None:
        if not self._listening:
            self.client.add_listener(self._on_state)
            self._listening = True
        self._nodes[path] = data
        await self._create(path, data)

    async def update(self, path: str, data: bytes) -> None:
        self._nodes[path] = data
        await self.client.set(path, data)

    async def remove(self, path: str) -> None:
        self._nodes.pop(path, None)
        with contextlib.suppress(NoNodeError):
            await self.client.delete(path)

    async def _create(self, path: str, data: bytes) -> None:
        try:
            await self.client.create(path, data, ephemeral=True, make_parents=True)
        except NodeExistsError:
            stat = await self.client.exists(path)
            if stat is not None and stat.ephemeralOwner != self.client.session_id:
                # left by our previous session (not yet expired on this server): replace it
                with contextlib.suppress(NoNodeError):
                    await self.client.delete(path, stat.version)
                await self.client.create(path, data, ephemeral=True, make_parents=True)
            else:
                await self.client.set(path, data)

    async def _on_state(self, change: StateChange) -> None:
        # Runs on the loop (async listener); the work goes to a task so the dispatcher is free.
        if change.state.is_writable and change.previous is ClientState.LOST:
            task = asyncio.get_running_loop().create_task(self._recreate_all())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _recreate_all(self) -> None:
        for path, data in list(self._nodes.items()):
            for _ in range(5):
                try:
                    await self._create(path, data)
                except ClientClosedError:
                    return
                except RETRYABLE as e:
                    await wait_connected(self.client, after=e)
                    continue
                self.recreated += 1
                break


class ServiceRegistry:
    """Register this process's service instances under ``base`` (default ``/services``)."""

    def __init__(self, client: Client, base: str = "/services") -> None:
        self.base = base.rstrip("/")
        self._nodes = EphemeralSet(client)

    def path_of(self, instance: ServiceInstance) -> str:
        return f"{self.base}/{instance.name}/{instance.id}"

    async def register(self, instance: ServiceInstance) -> str:
        path = self.path_of(instance)
        await self._nodes.put(path, instance.to_json())
        return path

    async def update(self, instance: ServiceInstance) -> None:
        """Publish new metadata or health for a registered instance."""
        await self._nodes.update(self.path_of(instance), instance.to_json())

    async def unregister(self, instance: ServiceInstance) -> None:
        await self._nodes.remove(self.path_of(instance))

    @property
    def reregistrations(self) -> int:
        return self._nodes.recreated


class ChildrenCache:
    """Children of one path with their data, kept current by watches.

    ``on_change(snapshot)`` gets a ``{name: data}`` dict after each refresh that changed it.
    """

    def __init__(self, client: Client, path: str, *, on_change: Hook | None = None) -> None:
        self.client = client
        self.path = path
        self.on_change = on_change
        self.snapshot: dict[str, bytes] = {}
        self.refreshes = 0
        self._dirty = asyncio.Event()
        self._updated = asyncio.Condition()
        self._loaded = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._watch = self._on_event

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="roost-cache")
            await self._loaded.wait()

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def wait_until(self, predicate: Callable[[dict[str, bytes]], bool],
                         timeout: float | None = None) -> dict[str, bytes]:
        async with asyncio.timeout(timeout), self._updated:
            await self._updated.wait_for(lambda: predicate(self.snapshot))
        return self.snapshot

    async def _on_event(self, _: WatchedEvent) -> None:
        self._dirty.set()

    async def _run(self) -> None:
        await reread_loop(self.client, self._refresh, self._dirty, self._loaded)

    async def _refresh(self) -> None:
        try:
            names = await self.client.children(self.path, watch=self._watch)
        except NoNodeError:
            if await self.client.exists(self.path, watch=self._watch) is not None:
                self._dirty.set()
            names = []
        results = await asyncio.gather(
            *(self.client.get(join(self.path, n), watch=self._watch) for n in names),
            return_exceptions=True)
        snap: dict[str, bytes] = {}
        for name, res in zip(names, results, strict=True):
            if isinstance(res, NoNodeError):
                continue
            if isinstance(res, BaseException):
                raise res
            snap[name] = res[0] or b""
        self.refreshes += 1
        if snap != self.snapshot:
            self.snapshot = snap
            async with self._updated:
                self._updated.notify_all()
            notify(self.client, self.on_change, dict(snap))


class ServiceDiscovery:
    """The live instances of one service, and a way to pick one."""

    def __init__(self, client: Client, name: str, base: str = "/services", *,
                 rng: random.Random | None = None, on_change: Hook | None = None) -> None:
        self.name = name
        self._user_hook = on_change
        self._cache = ChildrenCache(client, f"{base.rstrip('/')}/{name}",
                                    on_change=self._changed if on_change else None)
        self._rng = rng or random.Random()
        self._next = 0

    async def start(self) -> None:
        await self._cache.start()

    async def stop(self) -> None:
        await self._cache.stop()

    def instances(self, healthy_only: bool = True) -> list[ServiceInstance]:
        out = []
        for data in self._cache.snapshot.values():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                inst = ServiceInstance.from_json(data)
                if inst.health == "up" or not healthy_only:
                    out.append(inst)
        return sorted(out, key=lambda i: i.id)

    def pick(self, strategy: str = "random") -> ServiceInstance | None:
        """One live, healthy instance: ``"random"`` or ``"round_robin"``; None if none."""
        live = self.instances()
        if not live:
            return None
        if strategy == "random":
            return self._rng.choice(live)
        if strategy == "round_robin":
            inst = live[self._next % len(live)]
            self._next += 1
            return inst
        raise ValueError(f"unknown strategy {strategy!r}")

    async def wait_for(self, count: int, timeout: float | None = None) -> list[ServiceInstance]:
        """Wait until exactly ``count`` healthy instances are live."""
        await self._cache.wait_until(lambda _: len(self.instances()) == count, timeout)
        return self.instances()

    def _changed(self, _: dict[str, bytes]) -> None:
        notify(self._cache.client, self._user_hook, self.instances())


class GroupMembership:
    """Join a group as ``<path>/<member_id>`` (ephemeral) and watch who else is in it."""

    def __init__(self, client: Client, path: str, member_id: str, data: bytes = b"", *,
                 on_change: Hook | None = None) -> None:
        self.path = path.rstrip("/")
        self.member_id = member_id
        self.data = data
        self._nodes = EphemeralSet(client)
        self._cache = ChildrenCache(client, self.path, on_change=on_change)

    async def join(self) -> None:
        await self._nodes.put(join(self.path, self.member_id), self.data)
        await self._cache.start()

    async def leave(self) -> None:
        await self._cache.stop()
        await self._nodes.remove(join(self.path, self.member_id))

    def members(self) -> dict[str, bytes]:
        return dict(self._cache.snapshot)

    async def wait_for(self, predicate: Callable[[dict[str, bytes]], bool],
                       timeout: float | None = None) -> dict[str, bytes]:
        return dict(await self._cache.wait_until(predicate, timeout))


__all__ = [
    "ChildrenCache",
    "EphemeralSet",
    "GroupMembership",
    "ServiceDiscovery",
    "ServiceInstance",
    "ServiceRegistry",
]
