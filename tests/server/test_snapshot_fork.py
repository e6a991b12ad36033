"""Standalone servers and ensemble members write their periodic snapshots through the one
forked-writer path (`roost.server.snapfork`: no cyclic collector, dies with the server)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient

from roost.server import replicated, snapfork, standalone
from roost.server.config import Member
from roost.testing.server import RoostServer, free_port


@pytest.mark.parametrize("kind", ["standalone", "ensemble"])
def test_background_snapshots_use_the_forked_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    forked: list[int] = []

    def spy(write: Callable[[], object]) -> int:
        pid = snapfork.fork_writer(write)
        forked.append(pid)
        return pid

    monkeypatch.setattr(standalone if kind == "standalone" else replicated, "fork_writer", spy)
    port = free_port()
    extra: dict[str, Any] = {}
    if kind == "ensemble":
        extra = {"server_id": 1, "members": (Member(1, "127.0.0.1", port, free_port()),),
                 "peer_secret": "s"}
    srv = RoostServer(data_dir=tmp_path / "d", port=port, snapshot_every=10, **extra).start()
    try:
        c = KazooClient(hosts=srv.hosts, timeout=10)
        c.start(timeout=30)
        for i in range(40):
            c.create(f"/n{i}")
        c.stop()
        c.close()
        deadline = time.monotonic() + 20
        while not forked and time.monotonic() < deadline:
            time.sleep(0.02)  # polling for the snapshot to start
        assert forked
    finally:
        srv.stop()
    assert list((tmp_path / "d").rglob("*snap*")), "a snapshot file was written"
