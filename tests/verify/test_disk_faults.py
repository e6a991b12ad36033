"""Disk faults at the server level: a full disk (ENOSPC from the WAL's test hook) while
writing, and a log torn at every offset of its last record. The server must refuse to
acknowledge what it could not store, say why, and lose nothing it acknowledged."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException

from roost.testing.server import RoostServer


def _children(data: Path) -> set[str]:
    with RoostServer(data_dir=data) as srv:
        zk = KazooClient(hosts=srv.hosts, timeout=10)
        zk.start(timeout=30)
        try:
            return set(zk.get_children("/")) - {"zookeeper"}
        finally:
            zk.stop()
            zk.close()


def _write_until_refused(hosts: str, limit: int) -> tuple[list[str], list[str]]:
    """Create /d0, /d1, ... (500 bytes each); returns (acknowledged, refused or unknown)."""
    zk = KazooClient(hosts=hosts, timeout=10, connection_retry={"max_tries": 3})
    zk.start(timeout=30)
    acked: list[str] = []
    refused: list[str] = []
    try:
        for i in range(limit):
            name = f"d{i}"
            try:
                zk.create_async(f"/{name}", b"x" * 500).get(timeout=5)
            except (KazooException, TimeoutError, OSError):
                refused.append(name)
                if len(refused) >= 3:
                    break
                continue
            acked.append(name)
    finally:
        zk.stop()
        zk.close()
    return acked, refused


@pytest.mark.timeout(120)
def test_full_disk_refuses_acks_reports_and_keeps_acknowledged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("ROOST_TEST_ENOSPC_AFTER_BYTES", "40000")
    srv = RoostServer(data_dir=data, subprocess=True)
    srv.start()
    try:
        acked, refused = _write_until_refused(srv.hosts, limit=400)
    finally:
        proc = srv.process
        if proc is not None and proc.poll() is None:
            srv.kill()
        else:
            srv.stop()
    log_text = (tmp_path / "data.log").read_text(errors="replace")
    assert 20 < len(acked) < 400, "the hook let some writes through, then the disk was full"
    assert refused, "writes after the disk filled up were refused"
    # no acknowledgement after the first refusal: a write refused once stays refused
    first_refused = int(refused[0][1:])
    assert all(int(a[1:]) < first_refused for a in acked)
    assert "No space left on device" in log_text
    monkeypatch.delenv("ROOST_TEST_ENOSPC_AFTER_BYTES")
    present = _children(data)
    assert set(acked) <= present
    assert present <= set(acked) | set(refused)


@pytest.mark.timeout(120)
def test_torn_last_record_at_every_offset_keeps_earlier_acknowledged_writes(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = RoostServer(data_dir=data, subprocess=True)
    with srv:
        zk = KazooClient(hosts=srv.hosts, timeout=10)
        zk.start(timeout=30)
        for i in range(5):
            zk.create(f"/t{i}", b"v" * 40)
        srv.kill()  # before the session closes: the last log record is the create of /t4
        zk.stop()
        zk.close()
    (wal,) = sorted(data.rglob("*.wal"))[-1:]
    size = wal.stat().st_size
    whole = _children(_copy(data, tmp_path / "whole"))
    assert whole == {f"t{i}" for i in range(5)}
    record = _last_record_size(data, tmp_path, size)
    assert 40 < record < size  # holds the 40 data bytes; earlier records stay whole
    started = time.monotonic()
    for cut in range(size - record, size):
        copy = _copy(data, tmp_path / f"cut{cut}")
        with open(next(iter(sorted(copy.rglob(wal.name)))), "r+b") as f:
            f.truncate(cut)
        assert _children(copy) == {f"t{i}" for i in range(4)}, f"torn at byte {cut}"
        shutil.rmtree(copy)
    assert time.monotonic() - started < 100


def _copy(data: Path, to: Path) -> Path:
    shutil.copytree(data, to)
    return to


def _last_record_size(data: Path, tmp_path: Path, size: int) -> int:
    """Bisect the shortest prefix of the log that still holds /t3: the last record (the
    create of /t4) starts there."""
    lo, hi = 0, size  # a prefix of `hi` bytes holds /t3, one of `lo` bytes does not
    wal_name = sorted(data.rglob("*.wal"))[-1].name
    while hi - lo > 1:
        mid = (lo + hi) // 2
        copy = _copy(data, tmp_path / f"probe{mid}")
        with open(next(iter(copy.rglob(wal_name))), "r+b") as f:
            f.truncate(mid)
        kept = "t3" in _children(copy)
        shutil.rmtree(copy)
        lo, hi = (lo, mid) if kept else (mid, hi)
    return size - hi


def test_wal_hooks_delay_fsync_and_fill_the_disk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from roost.storage import StorageError, WriteAheadLog
    from roost.storage.records import Entry

    monkeypatch.setenv("ROOST_TEST_FSYNC_DELAY_MS", "150")
    monkeypatch.setenv("ROOST_TEST_ENOSPC_AFTER_BYTES", "600")
    with WriteAheadLog.open(tmp_path / "wal") as wal:
        wal.append([Entry(1, 1, b"x" * 100)])
        started = time.monotonic()
        wal.sync()
        assert time.monotonic() - started >= 0.15
        with pytest.raises(StorageError, match="No space left"):
            wal.append([Entry(1, 2, b"y" * 1000)])
        with pytest.raises(StorageError):  # unusable after the failure, as after any I/O error
            wal.append([Entry(1, 2, b"z")])
        assert wal.last_index == 1
    monkeypatch.delenv("ROOST_TEST_FSYNC_DELAY_MS")
    monkeypatch.delenv("ROOST_TEST_ENOSPC_AFTER_BYTES")
    with WriteAheadLog.open(tmp_path / "wal") as wal:
        assert wal.last_index == 1
        assert wal.entries(1, 2)[0].data == b"x" * 100
