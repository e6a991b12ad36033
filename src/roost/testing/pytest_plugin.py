"""pytest fixtures shipped with roost (registered through the ``pytest11`` entry point, so
installing roost is enough; ``pytest --fixtures`` lists them).

    def test_my_code(roost_server):                 # a fresh server for this test
        client = KazooClient(hosts=roost_server.hosts)

    def test_fast(roost_server_session):            # one server for the whole run
        ...

    @pytest.mark.roost_ensemble(voters=5)
    def test_failover(roost_ensemble):              # a fresh ensemble for this test
        roost_ensemble.kill(roost_ensemble.leader())

Every server listens on a free 127.0.0.1 port with its data in pytest's temporary
directory. Servers shared by several tests (the session and module fixtures) keep
everything the tests wrote: give each test its own path, for instance with the
``roost_path`` fixture.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from roost.client import SyncClient
    from roost.testing.ensemble import RoostEnsemble
    from roost.testing.server import RoostServer


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "roost_server(**settings): server settings (roost.server.ServerConfig fields, e.g. "
        "ttl_enabled=True) for the roost_server fixture",
    )
    config.addinivalue_line(
        "markers",
        "roost_ensemble(voters=3, observers=0, subprocess=False, proxied=False, **settings): "
        "the shape of the roost_ensemble fixture",
    )


def _marker_kwargs(request: pytest.FixtureRequest, name: str) -> dict[str, Any]:
    marker = request.node.get_closest_marker(name)
    return dict(marker.kwargs) if marker is not None else {}


def _serve(factory: pytest.TempPathFactory, label: str, **settings: Any) -> Iterator[RoostServer]:
    from roost.testing.server import RoostServer

    with RoostServer(data_dir=factory.mktemp(label), **settings) as srv:
        yield srv


@pytest.fixture
def roost_server(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoostServer]:
    """A fresh standalone roost server for one test, stopped after it.

    ``roost_server.hosts`` is its "127.0.0.1:PORT" (``.host``, ``.port``); ``.server`` is
    the running `roost.server.Server`. Settings come from ``@pytest.mark.roost_server(...)``
    (ServerConfig fields, e.g. ``ttl_enabled=True, four_letter_words="*"``).
    """
    yield from _serve(tmp_path_factory, "roost-data", **_marker_kwargs(request, "roost_server"))


@pytest.fixture(scope="module")
def roost_server_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoostServer]:
    """One standalone roost server shared by the tests of a module (default settings).

    The tests see each other's nodes: use a path of their own (``roost_path``).
    """
    yield from _serve(tmp_path_factory, "roost-module-data")


@pytest.fixture(scope="session")
def roost_server_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoostServer]:
    """One standalone roost server for the whole test session (default settings): the
    cheapest fixture. The tests see each other's nodes: use a path of their own
    (``roost_path``)."""
    yield from _serve(tmp_path_factory, "roost-session-data")


@pytest.fixture
def roost_ensemble(request: pytest.FixtureRequest,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoostEnsemble]:
    """A fresh roost ensemble for one test (3 voters unless marked), started and settled
    (one leader that every member follows), stopped after the test.

    ``roost_ensemble.hosts`` is the connect string of all members; ``leader()``,
    ``kill(i)``, ``stop_member(i)``/``start_member(i)``, ``isolate(i)``/``heal()``
    (with ``proxied=True``) inject failures. Shape and settings come from
    ``@pytest.mark.roost_ensemble(voters=5, observers=1, subprocess=True, proxied=True,
    ...)``; ``subprocess=True`` runs members as processes (needed for ``kill``/``pause``).
    """
    from roost.testing.ensemble import RoostEnsemble

    kwargs = _marker_kwargs(request, "roost_ensemble")
    with RoostEnsemble(base_dir=tmp_path_factory.mktemp("roost-ensemble"), **kwargs) as ens:
        yield ens


@pytest.fixture
def roost_client(roost_server: RoostServer) -> Iterator[SyncClient]:
    """A connected `roost.client.SyncClient` (kazoo's method names work too) on this test's
    ``roost_server``, closed after the test."""
    from roost.client import SyncClient

    with SyncClient(roost_server.hosts) as client:
        yield client


@pytest.fixture
def roost_path(request: pytest.FixtureRequest) -> str:
    """A znode path unique to this test (not created), e.g. "/test_foo-3", for tests that
    share a server; use it as a chroot (``hosts + roost_path``) after creating it."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:80]
    _counter[0] += 1
    return f"/{name}-{_counter[0]}"


_counter = [0]
