"""Shared helpers for the client tests: backends, clients, a cuttable TCP proxy, polling."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import random
from dataclasses import dataclass, field
from typing import Any

from roost.client import Client

#: Session timeout for test clients (seconds); the servers' tick of 2 s allows 4..40 s.
SESSION_TIMEOUT = 10.0
#: Default deadline for anything a test waits for (seconds).
DEADLINE = 10.0


@dataclass
class Backend:
    kind: str
    host: str
    port: int
    server: Any

    @property
    def hosts(self) -> str:
        return f"{self.host}:{self.port}"


def make_client(hosts: str, seed: int = 1, **kwargs: Any) -> Client:
    """A client with fast reconnects and a seeded server-order shuffle."""
    kwargs.setdefault("session_timeout", SESSION_TIMEOUT)
    kwargs.setdefault("retry_delay", 0.02)
    kwargs.setdefault("retry_max_delay", 0.2)
    return Client(hosts, rng=random.Random(seed), **kwargs)


@dataclass
class Env:
    """One test's view of a backend: a unique base path and clients chrooted to it."""

    backend: Backend
    base: str
    clients: list[Client] = field(default_factory=list)
    proxies: list[Proxy] = field(default_factory=list)
    _base_made: bool = False

    async def ensure_base(self) -> None:
        if not self._base_made:
            root = make_client(self.backend.hosts)
            await root.start()
            try:
                await root.ensure_path(self.base)
            finally:
                await root.close()
            self._base_made = True

    async def client(self, chroot: bool = True, hosts: str | None = None, start: bool = True,
                     **kwargs: Any) -> Client:
        """A client (started unless ``start=False``), via ``hosts`` if given."""
        if chroot:
            await self.ensure_base()
        c = make_client((hosts or self.backend.hosts) + (self.base if chroot else ""), **kwargs)
        self.clients.append(c)
        if start:
            await c.start()
        return c

    async def proxy(self) -> Proxy:
        p = Proxy(self.backend.host, self.backend.port)
        await p.start()
        self.proxies.append(p)
        return p

    async def aclose(self) -> None:
        for c in self.clients:
            with contextlib.suppress(Exception):
                await c.close()
        for p in self.proxies:
            await p.close()


class Proxy:
    """A TCP relay to the backend that a test can cut (drop every link) and block."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.blocked = False
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.accepted = 0

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.blocked:
            writer.transport.abort()
            return
        try:
            up_r, up_w = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.accepted += 1
        self._links.append((writer, up_w))
        for src, dst in ((reader, up_w), (up_r, writer)):
            task = asyncio.get_running_loop().create_task(self._pipe(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            dst.transport.abort()

    def cut(self) -> None:
        """Drop every open link (both sides see a reset)."""
        for a, b in self._links:
            a.transport.abort()
            b.transport.abort()
        self._links.clear()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for t in list(self._tasks):
            t.cancel()


def run_async_test(func: Any, funcargs: dict[str, Any], deadline: float) -> bool | None:
    """Run an ``async def`` test to completion in a new event loop (closing its `Env`);
    None for a plain test. Shared by the client and recipe suites' pytest_pyfunc_call."""
    if not inspect.iscoroutinefunction(func):
        return None
    kwargs = {n: funcargs[n] for n in inspect.signature(func).parameters}
    env = kwargs.get("env")

    async def body() -> None:
        try:
            async with asyncio.timeout(deadline):
                await func(**kwargs)
        finally:
            if isinstance(env, Env):
                await env.aclose()

    asyncio.run(body())
    return True
