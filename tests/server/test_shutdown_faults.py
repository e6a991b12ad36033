"""A server whose final snapshot fails at shutdown still stops, says why, and loses no
acknowledged write (disk full, I/O error, data directory gone)."""

from __future__ import annotations

import errno
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient

from roost.replica.member import Member
from roost.storage.snapshots import SnapshotStore
from roost.testing.server import RoostServer, free_port


def ensemble_of_one(port: int) -> dict[str, Any]:
    return {
        "server_id": 1,
        "members": (Member(1, "127.0.0.1", port, free_port()),),
        "peer_secret": "s",
    }


def write_some(srv: RoostServer, n: int = 30) -> None:
    c = KazooClient(hosts=srv.hosts, timeout=10)
    c.start(timeout=30)
    c.create("/w")
    for i in range(n):
        c.create(f"/w/n{i}", b"x")
    c.stop()
    c.close()


def children(srv: RoostServer) -> int:
    c = KazooClient(hosts=srv.hosts, timeout=10)
    c.start(timeout=30)
    try:
        return len(c.get_children("/w"))
    finally:
        c.stop()
        c.close()


@pytest.mark.parametrize("kind", ["standalone", "ensemble"])
@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EIO])
def test_failed_final_snapshot_still_stops_and_keeps_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, kind: str,
    err: int,
) -> None:
    port = free_port()
    extra = ensemble_of_one(port) if kind == "ensemble" else {}
    srv = RoostServer(data_dir=tmp_path / "d", port=port, **extra).start()
    write_some(srv)

    def fail(self: SnapshotStore, index: int, term: int, data: bytes) -> Path:
        raise OSError(err, "injected")

    monkeypatch.setattr(SnapshotStore, "save", fail)
    assert srv.server is not None
    server = srv.server
    srv.stop()
    assert srv._thread is None  # the serving thread ended
    assert server.stopped.is_set()
    assert "snapshot" in caplog.text and "injected" in caplog.text
    monkeypatch.undo()
    again = RoostServer(data_dir=tmp_path / "d", port=port, **extra).start()
    try:
        assert children(again) == 30
    finally:
        again.stop()


@pytest.mark.parametrize("kind", ["standalone", "ensemble"])
def test_sigterm_with_the_data_dir_gone_exits(tmp_path: Path, kind: str) -> None:
    port = free_port()
    extra = ensemble_of_one(port) if kind == "ensemble" else {}
    srv = RoostServer(data_dir=tmp_path / "d", port=port, subprocess=True, **extra).start()
    try:
        write_some(srv)
        shutil.rmtree(tmp_path / "d")
        assert srv.process is not None
        proc = srv.process
        proc.terminate()
        t0 = time.monotonic()
        code = proc.wait(20)  # raises TimeoutExpired if it hangs
        assert time.monotonic() - t0 < 20
        log = srv.log_path.read_text()
        assert "snapshot" in log.lower() and code == 0, log[-2000:]
    finally:
        srv.stop()
