"""After a failed write or fsync the write-ahead log cuts itself back to what is known to be
on disk: bytes left in the page cache by a failed fsync may never reach the disk (the kernel
marks them clean and does not try again), so neither this process nor the next may read
them back as stored entries."""

from __future__ import annotations

from pathlib import Path

import pytest

from roost.storage import StorageError, WriteAheadLog
from roost.storage.records import Entry


def test_failed_fsync_cuts_the_log_back_to_the_last_sync(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROOST_TEST_FSYNC_EIO_AFTER", "1")
    with WriteAheadLog.open(tmp_path / "wal") as wal:
        wal.append([Entry(1, 1, b"a" * 100)])
        wal.sync()
        wal.append([Entry(1, 2, b"b" * 100), Entry(1, 3, b"c" * 100)])
        with pytest.raises(StorageError, match="fsync failed"):
            wal.sync()
        with pytest.raises(StorageError):  # never retried as if the data were safe
            wal.sync()
    monkeypatch.delenv("ROOST_TEST_FSYNC_EIO_AFTER")
    with WriteAheadLog.open(tmp_path / "wal") as wal:
        assert wal.last_index == 1
        assert [e.data for e in wal.entries(1, 2)] == [b"a" * 100]


def test_failed_fsync_after_a_new_segment_keeps_the_sealed_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROOST_TEST_FSYNC_EIO_AFTER", "0")
    with WriteAheadLog.open(tmp_path / "wal", segment_size=300) as wal:
        wal.append([Entry(1, 1, b"a" * 200)])
        wal.append([Entry(1, 2, b"b" * 200)])  # seals (fsyncs) the first segment, starts one
        with pytest.raises(StorageError, match="fsync failed"):
            wal.sync()
    monkeypatch.delenv("ROOST_TEST_FSYNC_EIO_AFTER")
    with WriteAheadLog.open(tmp_path / "wal", segment_size=300) as wal:
        assert wal.last_index == 1
