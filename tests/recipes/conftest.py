"""Fixtures for the recipe tests: every test runs against roost AND Apache ZooKeeper.

`backend` is package-scoped (shared by this directory's tests, stopped after them) and
parametrized over ``roost`` and ``zookeeper`` (the compat suite's server settings: tick
2000 ms, so sessions of 4..40 s). ``async def`` tests run in a
fresh event loop each, under a deadline; `env` hands them clients chrooted to a unique base
path (and proxies for fault injection), all closed afterwards.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest

from client.helpers import Backend, Env, run_async_test
from compat.conftest import BACKENDS, ROOST_SETTINGS
from roost.testing.zookeeper import ZooKeeperServer

#: Upper bound for one async test body (seconds).
TEST_DEADLINE = 60.0


def start_server(kind: str, data_dir: Any, port: int = 0) -> Any:
    if kind == "roost":
        from roost.testing.server import RoostServer

        server = RoostServer(data_dir=data_dir, port=port, **ROOST_SETTINGS)
        server.__enter__()
        return server
    zk = ZooKeeperServer(data_dir=data_dir, port=port)
    zk.start()
    return zk


def stop_server(kind: str, server: Any) -> None:
    if kind == "roost":
        server.__exit__(None, None, None)
    else:
        server.stop()


@pytest.fixture(scope="package", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    kind: str = request.param
    server = start_server(kind, tmp_path_factory.mktemp(f"recipes-{kind}"))
    try:
        yield Backend(kind, server.host, server.port, server)
    finally:
        stop_server(kind, server)


_counter = itertools.count(1)


@pytest.fixture
def env(backend: Backend, request: pytest.FixtureRequest) -> Env:
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", request.node.name)[:60]
    return Env(backend, f"/recipetest/{name}-{next(_counter)}")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests to completion in a new event loop."""
    return run_async_test(pyfuncitem.obj, pyfuncitem.funcargs, TEST_DEADLINE)
