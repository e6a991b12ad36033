"""The scenario examples run as subprocesses against roost and Apache ZooKeeper (they only
use ZooKeeper's API), each server shared by the whole module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from client.helpers import Backend
from compat.conftest import BACKENDS
from recipes.conftest import start_server, stop_server


@pytest.fixture(scope="package", params=BACKENDS)
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    kind: str = request.param
    srv = start_server(kind, tmp_path_factory.mktemp(f"examples-{kind}"))
    try:
        yield Backend(kind, srv.host, srv.port, srv)
    finally:
        stop_server(kind, srv)
