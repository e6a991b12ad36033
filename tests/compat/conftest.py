"""Fixtures for the compatibility suite: every test runs against roost AND Apache ZooKeeper.

`backend` is package-scoped (shared by this directory's tests and stopped after them, so
no server or client outlives the suite) and parametrized over ``roost`` (standalone),
``zookeeper`` and ``roost-ensemble`` (a 3-member roost ensemble; each test talks to the
next member in turn, so every member serves a third of the suite), so test ids carry the
backend name (select one with ``-k zookeeper`` or ``-k "roost and not ensemble"``). All
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

#: the backends other suites (recipes, examples, interop) run against
BACKENDS = ["roost", "zookeeper"]
#: the compatibility suite also runs through every member of a roost ensemble
COMPAT_BACKENDS = [*BACKENDS, "roost-ensemble"]

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
    """A running server of one kind, as the tests see it. For an ensemble, `host` and `port`
    are those of the member the current test talks to (see `rotate`)."""

    kind: str
    members: list[tuple[str, int]]
    server: Any
    current: int = 0

    @property
    def host(self) -> str:
        return self.members[self.current][0]

    @property
    def port(self) -> int:
        return self.members[self.current][1]

    @property
    def hosts(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def is_ensemble(self) -> bool:
        return self.kind == "roost-ensemble"

    def rotate(self) -> None:
        self.current = (self.current + 1) % len(self.members)

    @property
    def is_zookeeper(self) -> bool:
        return self.kind == "zookeeper"


def _start_roost(data_dir: Path) -> Any:
    # Imported lazily: the zookeeper half of the suite runs even before roost's server exists.
    from roost.testing.server import RoostServer

    server = RoostServer(data_dir=data_dir, port=0, **ROOST_SETTINGS)
    server.__enter__()
    return server


def _start_ensemble(data_dir: Path) -> Any:
    from roost.testing.ensemble import RoostEnsemble

    ens = RoostEnsemble(3, base_dir=data_dir, **ROOST_SETTINGS)
    ens.__enter__()
    return ens


def _start_zookeeper(data_dir: Path) -> ZooKeeperServer:
    server = ZooKeeperServer(data_dir=data_dir)
    server.start()
    return server


def start_backend(kind: str, data_dir: Path) -> Backend:
    if kind == "roost":
        server = _start_roost(data_dir)
        return Backend(kind, [(server.host, server.port)], server)
    if kind == "roost-ensemble":
        ens = _start_ensemble(data_dir)
        return Backend(kind, [(s.host, s.port) for s in ens.servers], ens)
    zk = _start_zookeeper(data_dir)
    return Backend(kind, [(zk.host, zk.port)], zk)


def stop_backend(b: Backend) -> None:
    if b.kind == "zookeeper":
        b.server.stop()
    else:
        b.server.__exit__(None, None, None)


@pytest.fixture(scope="package", params=COMPAT_BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    kind: str = request.param
    b = start_backend(kind, tmp_path_factory.mktemp(f"{kind}-data"))
    try:
        yield b
    finally:
        stop_backend(b)


def fast_retry() -> KazooRetry:
    """Reconnect quickly (the default backoff makes reconnect tests slow)."""
    return KazooRetry(max_tries=-1, delay=0.05, backoff=1.5, max_delay=0.5)


_counter = itertools.count(1)


@pytest.fixture(scope="package")
def admin(backend: Backend) -> Iterator[KazooClient]:
    """An unchrooted client per backend, used to create each test's base path."""
    hosts = ",".join(f"{h}:{p}" for h, p in backend.members)
    client = KazooClient(hosts=hosts, timeout=SESSION_TIMEOUT,
                         connection_retry=fast_retry())
    client.start(timeout=20)
    try:
        yield client
    finally:
        client.stop()
        client.close()


@pytest.fixture
def base(admin: KazooClient, backend: Backend, request: pytest.FixtureRequest) -> str:
    """A fresh, empty, unique absolute path for this test (in an ensemble, the test's
    clients talk to the next member, which has applied the path's creation once their
    sessions exist: a session's creation comes after it in the log)."""
    backend.rotate()
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
