"""Every data file carries a format version; a file or record of another version is refused
with a message saying which, never truncated as a torn write and never misread."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import roost.storage.hardstate as hardstate_mod
import roost.storage.records as records_mod
import roost.storage.snapshots as snapshots_mod
import roost.tree.snapshot as tree_snapshot
from roost.storage import (
    Entry,
    HardState,
    HardStateFile,
    SnapshotStore,
    UnsupportedFormatError,
    WriteAheadLog,
)
from roost.tree import DataTree
from roost.tree.snapshot import SnapshotError

NEWER = "was written by a newer roost (this one reads version 1)"


def test_a_newer_record_at_the_log_tail_is_refused_not_truncated(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with WriteAheadLog.open(tmp_path) as wal:
        wal.append([Entry(1, 1, b"one"), Entry(1, 2, b"two")])
        wal.sync()
        monkeypatch.setattr(records_mod, "REC_VERSION", 2)
        wal.append([Entry(1, 3, b"three, by a newer roost")])
        wal.sync()
    monkeypatch.setattr(records_mod, "REC_VERSION", 1)
    [segment] = list(tmp_path.iterdir())
    before = segment.read_bytes()
    with pytest.raises(UnsupportedFormatError) as err:
        WriteAheadLog.open(tmp_path)
    assert str(err.value).startswith(f"{segment}: log record format version 2 {NEWER}")
    assert segment.read_bytes() == before  # nothing was cut off


def test_a_newer_log_segment_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records_mod, "SEG_VERSION", 3)
    with WriteAheadLog.open(tmp_path) as wal:
        wal.append([Entry(1, 1, b"one")])
        wal.sync()
    monkeypatch.setattr(records_mod, "SEG_VERSION", 1)
    with pytest.raises(UnsupportedFormatError, match="log segment format version 3 was written"):
        WriteAheadLog.open(tmp_path)


def test_newer_snapshot_and_hard_state_files_are_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshots_mod, "_VERSION", 2)
    monkeypatch.setattr(hardstate_mod, "_VERSION", 2)
    SnapshotStore(tmp_path / "snap").save(5, 1, b"image")
    HardStateFile(tmp_path / "state").save(HardState(3, 1, 5))
    monkeypatch.setattr(snapshots_mod, "_VERSION", 1)
    monkeypatch.setattr(hardstate_mod, "_VERSION", 1)
    with pytest.raises(UnsupportedFormatError, match="snapshot format version 2 was written"):
        SnapshotStore(tmp_path / "snap").latest()
    with pytest.raises(UnsupportedFormatError, match="hard state format version 2 was written"):
        HardStateFile(tmp_path / "state").load()


def test_a_newer_tree_image_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    current = tree_snapshot.FORMAT_VERSION
    monkeypatch.setattr(tree_snapshot, "FORMAT_VERSION", current + 1)
    image = DataTree().to_bytes()
    monkeypatch.setattr(tree_snapshot, "FORMAT_VERSION", current)
    with pytest.raises(SnapshotError,
                       match=f"tree image format version {current + 1} was written by a newer"):
        DataTree.from_bytes(image)


def test_server_on_a_newer_data_dir_says_so_and_exits(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    monkeypatch.setattr(snapshots_mod, "_VERSION", 2)
    SnapshotStore(data / "snap").save(5, 1, DataTree().to_bytes())
    proc = subprocess.run([sys.executable, "-m", "roost.cli", "serve", "--no-http", "--port", "0",
                           "--data-dir", str(data)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "snapshot format version 2 was written by a newer roost" in proc.stderr
    assert "Traceback" not in proc.stderr
