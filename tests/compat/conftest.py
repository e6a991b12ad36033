"""Fixtures for the compatibility suite: every test runs against roost AND Apache ZooKeeper.

`backend` is session-scoped and parametrized over ``roost`` and ``zookeeper``, so test ids
carry the backend name (select one half with ``-k zookeeper`` or ``-k roost``). Both
servers are started with the same settings: tickTime 2000 ms, the ``super:test`` digest,
TTL nodes enabled, a 1 s container sweep and every four-letter word allowed.

Each test gets its own base path (`base`) and kazoo clients chrooted to it (`zk`,
`make_client`), so tests sharing one server never see each other's nodes.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.retry import KazooRetry

from roost.testing.zookeeper import SUPER_DIGEST, ZooKeeperServer

from .rawclient import RawClient

BACKENDS = ["roost", "zookeeper"]

#: Settings handed to roost's test server so it matches the ZooKeeper harness.
ROOST_SETTINGS: dict[str, Any] = {
    "tick_ms": 2000,
    "super_digest": SUPER_DIGEST,
    "ttl_enabled": True,
    "container_check_ms": 1000,
    "four_letter_words": "*",
    "max_client_connections": 0,
}

#: kazoo session timeout for ordinary clients (seconds); tick 2000 allows 4..40 s.
SESSION_TIMEOUT = 10.0


@dataclass
class Backend:
    """A running server of one kind, as the tests see it."""

    kind: str
    host: str
    port: int
    server: Any

    @property
    def hosts(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def is_zookeeper(self) -> bool:
        return self.kind == "zookeeper"


def _start_roost(data_dir: Path) -> Any:
    # Imported lazily: the zookeeper half of the suite runs even before roost's server exists.
    from roost.testing.server import RoostServer

    server = RoostServer(data_dir=data_dir, port=0, **ROOST_SETTINGS)
    server.__enter__()
    return server


def _start_zookeeper(data_dir: Path) -> ZooKeeperServer:
    server = ZooKeeperServer(data_dir=data_dir)
    server.start()
    return server


@pytest.fixture(scope="session", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    kind: str = request.param
    data_dir = tmp_path_factory.mktemp(f"{kind}-data")
    server = _start_roost(data_dir) if kind == "roost" else _start_zookeeper(data_dir)
    try:
        yield Backend(kind, server.host, server.port, server)
    finally:
        if kind == "roost":
            server.__exit__(None, None, None)
        else:
            server.stop()


def fast_retry() -> KazooRetry:
    """Reconnect quickly (the default backoff makes reconnect tests slow)."""
    return KazooRetry(max_tries=-1, delay=0.05, backoff=1.5, max_delay=0.5)


_counter = itertools.count(1)


@pytest.fixture(scope="session")
def admin(backend: Backend) -> Iterator[KazooClient]:
    """An unchrooted client per backend, used to create each test's base path."""
    client = KazooClient(hosts=backend.hosts, timeout=SESSION_TIMEOUT,
                         connection_retry=fast_retry())
    client.start(timeout=20)
    try:
        yield client
    finally:
        client.stop()
        client.close()


@pytest.fixture
def base(admin: KazooClient, request: pytest.FixtureRequest) -> str:
    """A fresh, empty, unique absolute path for this test."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", request.node.name)[:80]
    path = f"/compat/{name}-{next(_counter)}"
    admin.ensure_path(path)
    return path


ClientFactory = Callable[..., KazooClient]


@pytest.fixture
def make_client(backend: Backend, base: str) -> Iterator[ClientFactory]:
    """Build started kazoo clients chrooted to `base` (``chroot=False`` for none)."""
    clients: list[KazooClient] = []

    def factory(chroot: bool | str = True, start: bool = True, **kwargs: Any) -> KazooClient:
        suffix = base if chroot is True else (chroot or "")
        kwargs.setdefault("timeout", SESSION_TIMEOUT)
        kwargs.setdefault("connection_retry", fast_retry())
        client = KazooClient(hosts=backend.hosts + suffix, **kwargs)
        clients.append(client)
        if start:
            client.start(timeout=20)
        return client

    yield factory
    for client in clients:
        try:
            client.stop()
        finally:
            client.close()


@pytest.fixture
def zk(make_client: ClientFactory) -> KazooClient:
    """A connected kazoo client chrooted to this test's base path."""
    return make_client()


@pytest.fixture
def raw(backend: Backend) -> Iterator[Callable[..., RawClient]]:
    """Build connected raw-protocol clients; all are closed at the end of the test."""
    clients: list[RawClient] = []

    def factory(connect: bool = True, **kwargs: Any) -> RawClient:
        client = RawClient(backend.host, backend.port)
        clients.append(client)
        if connect:
            client.connect(**kwargs)
        return client

    yield factory
    for client in clients:
        client.shutdown()
