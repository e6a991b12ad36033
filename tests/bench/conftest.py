"""Fixtures for the benchmark tools' smoke tests: servers to aim the scripts at."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient

from .scripts import SERVERS


@pytest.fixture(scope="module", params=SERVERS)
def server_hosts(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh server ("127.0.0.1:PORT") per test module and server kind."""
    if request.param == "zookeeper":
        from roost.testing.zookeeper import ZooKeeperServer

        with ZooKeeperServer() as zk:
            yield zk.hosts
    else:
        from roost.testing.server import RoostServer

        with RoostServer(data_dir=None, port=0, subprocess=True) as srv:
            yield srv.hosts


@pytest.fixture
def kazoo(server_hosts: str) -> Iterator[KazooClient]:
    client = KazooClient(hosts=server_hosts, timeout=10.0)
    client.start(timeout=30.0)
    try:
        yield client
    finally:
        client.stop()
        client.close()
