"""A damaged data directory: a torn tail recovers, damage in the middle stops start-up clearly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kazoo.client import KazooClient

from roost.testing.server import RoostServer, free_port


def populate(data: Path, n: int, snapshot_every: int = 100_000, kill: bool = True) -> None:
    """Create /n0../n<n-1>; with kill=True the server is SIGKILLed (no shutdown snapshot)."""
    srv = RoostServer(data_dir=data, subprocess=True, snapshot_every=snapshot_every)
    with srv:
        zk = KazooClient(hosts=srv.hosts)
        zk.start(timeout=10)
        for i in range(n):
            zk.create(f"/n{i}", str(i).encode())
        if kill:  # before the client closes its session: the last record is /n<n-1>
            srv.kill()
        zk.stop()
        zk.close()


def children(data: Path) -> set[str]:
    with RoostServer(data_dir=data) as srv:
        zk = KazooClient(hosts=srv.hosts)
        zk.start(timeout=10)
        try:
            return set(zk.get_children("/")) - {"zookeeper"}
        finally:
            zk.stop()
            zk.close()


def start_fails(data: Path) -> str:
    """Run `roost serve` on a damaged dir; it must exit non-zero. Returns its stderr."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "roost.cli",
            "serve",
            "--no-http",
            "--port",
            str(free_port()),
            "--data-dir",
            str(data),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0, proc.stdout + proc.stderr
    return proc.stderr


def wal_files(data: Path) -> list[Path]:
    return sorted(p for p in data.rglob("*") if p.is_file() and p.suffix == ".wal")


def snap_files(data: Path) -> list[Path]:
    return sorted(p for p in data.rglob("*") if p.is_file() and p.suffix == ".snap")


def test_torn_log_tail_is_truncated_and_the_rest_recovers(tmp_path: Path) -> None:
    data = tmp_path / "d"
    populate(data, 20)
    assert not snap_files(data)
    [wal] = wal_files(data)[-1:]
    size = wal.stat().st_size
    with open(wal, "r+b") as f:
        f.truncate(size - 5)  # tear the last record
    got = children(data)
    assert {f"n{i}" for i in range(19)} <= got
    assert "n19" not in got


def test_flipped_byte_mid_log_stops_start_up_naming_file_and_offset(tmp_path: Path) -> None:
    data = tmp_path / "d"
    populate(data, 20)
    wal = wal_files(data)[-1]
    raw = bytearray(wal.read_bytes())
    pos = len(raw) // 2
    raw[pos] ^= 0xFF
    wal.write_bytes(bytes(raw))
    err = start_fails(data)
    assert wal.name in err
    assert "offset" in err


def test_corrupt_snapshot_stops_start_up(tmp_path: Path) -> None:
    data = tmp_path / "d"
    populate(data, 10, kill=False)  # clean shutdown writes a snapshot
    snaps = snap_files(data)
    assert snaps, "clean shutdown should leave a snapshot"
    raw = bytearray(snaps[-1].read_bytes())
    raw[len(raw) - 3] ^= 0x55
    snaps[-1].write_bytes(bytes(raw))
    err = start_fails(data)
    assert snaps[-1].name in err


def test_snapshot_plus_log_replay(tmp_path: Path) -> None:
    data = tmp_path / "d"
    populate(data, 30, snapshot_every=7)
    assert snap_files(data), "snapshots every 7 txns"
    assert {f"n{i}" for i in range(30)} <= children(data)
