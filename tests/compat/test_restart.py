"""Server restarts against both backends: data, sessions and zxids survive.

Each test starts its own server (roost as a subprocess, so it can be killed) on a data
directory of its own, then restarts it on the same port, cleanly or with SIGKILL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient

from roost.testing.zookeeper import ZooKeeperServer

from .conftest import BACKENDS, ROOST_SETTINGS, fast_retry

pytestmark = pytest.mark.compat


class Restartable:
    """The part of RoostServer / ZooKeeperServer these tests use."""

    def __init__(self, kind: str, data_dir: Path) -> None:
        self.kind = kind
        self.server: Any
        if kind == "roost":
            from roost.testing.server import RoostServer

            self.server = RoostServer(data_dir=data_dir, subprocess=True, **ROOST_SETTINGS)
        else:
            self.server = ZooKeeperServer(data_dir=data_dir)

    def start(self) -> None:
        self.server.start()

    @property
    def hosts(self) -> str:
        return str(self.server.hosts)

    def restart(self, kill: bool) -> None:
        if self.kind == "zookeeper":
            self.server.restart(kill=kill)
        elif kill:
            self.server.kill()
            self.server.start()
        else:
            self.server.restart()

    def stop(self) -> None:
        if self.kind == "roost":
            self.server.__exit__(None, None, None)
        else:
            self.server.stop()


@pytest.fixture(params=BACKENDS)
def own_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Restartable]:
    server = Restartable(request.param, tmp_path / "data")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("kill", [False, True], ids=["clean", "sigkill"])
def test_restart_keeps_data_sessions_and_zxids(own_server: Restartable, kill: bool) -> None:
    client = KazooClient(hosts=own_server.hosts, timeout=10.0, connection_retry=fast_retry())
    client.start(timeout=20)
    try:
        client.create("/data", b"kept")
        client.create("/eph", b"", ephemeral=True)
        seq = client.create("/s-", b"", sequence=True)
        session = client.client_id
        before = client.exists("/data")
        own_server.restart(kill=kill)
        # the client reconnects to its old session: its lastZxidSeen is not ahead
        assert client.retry(client.get, "/data")[0] == b"kept"
        assert client.client_id == session
        assert client.exists("/eph").ephemeralOwner == session[0]
        assert client.exists(seq) is not None
        # zxids keep growing; sequence numbers continue
        after = client.create("/after", b"")
        assert client.exists(after).czxid > before.czxid
        # the parent's creation counter survived: /after took one number
        assert client.create("/s-", b"", sequence=True) == f"/s-{int(seq[-10:]) + 2:010d}"
        # a fresh client sees the same tree
        other = KazooClient(hosts=own_server.hosts, timeout=10.0)
        other.start(timeout=20)
        try:
            assert other.get("/data")[0] == b"kept"
            assert other.exists("/eph") is not None
        finally:
            other.stop()
            other.close()
    finally:
        client.stop()
        client.close()
