"""Fixtures for the client tests: every test runs against roost AND Apache ZooKeeper.

`backend` is package-scoped (shared by this directory's tests, stopped after them) and
parametrized over ``roost`` and ``zookeeper`` (select one half with ``-k roost`` or
``-k zookeeper``); both servers get the settings of the compat suite. ``async def`` tests
run in a fresh event loop each (see `pytest_pyfunc_call`), and
the `env` fixture hands them clients chrooted to a unique base path, closed afterwards.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from roost.testing.zookeeper import SUPER_DIGEST, ZooKeeperServer

from .helpers import Backend, Env, run_async_test

BACKENDS = ["roost", "zookeeper"]

#: The same settings tests/compat gives roost, so both servers behave alike.
ROOST_SETTINGS: dict[str, Any] = {
    "tick_ms": 2000,
    "super_digest": SUPER_DIGEST,
    "ttl_enabled": True,
    "container_check_ms": 1000,
    "four_letter_words": "*",
    "max_client_connections": 0,
}

#: Upper bound for one async test body (seconds).
TEST_DEADLINE = 60.0


def _start(kind: str, data_dir: Path) -> Any:
    if kind == "roost":
        from roost.testing.server import RoostServer

        server = RoostServer(data_dir=data_dir, port=0, **ROOST_SETTINGS)
        server.__enter__()
        return server
    zk = ZooKeeperServer(data_dir=data_dir)
    zk.start()
    return zk


@pytest.fixture(scope="package", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    kind: str = request.param
    server = _start(kind, tmp_path_factory.mktemp(f"client-{kind}"))
    try:
        yield Backend(kind, server.host, server.port, server)
    finally:
        if kind == "roost":
            server.__exit__(None, None, None)
        else:
            server.stop()


_counter = itertools.count(1)


@pytest.fixture
def env(backend: Backend, request: pytest.FixtureRequest) -> Env:
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", request.node.name)[:60]
    return Env(backend, f"/clienttest/{name}-{next(_counter)}")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests to completion in a new event loop."""
    return run_async_test(pyfuncitem.obj, pyfuncitem.funcargs, TEST_DEADLINE)
