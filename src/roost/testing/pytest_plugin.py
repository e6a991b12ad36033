"""pytest fixtures shipped with roost (registered through the `pytest11` entry point).

``roost_server`` gives each test a fresh standalone roost server on a free port:

    def test_my_code(roost_server):
        client = KazooClient(hosts=roost_server.hosts)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from roost.testing.server import RoostServer


@pytest.fixture
def roost_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoostServer]:
    from roost.testing.server import RoostServer

    data = tmp_path_factory.mktemp("roost-data")
    with RoostServer(data_dir=data) as srv:
        yield srv
