"""WriteAheadLog: round trips, rollover, reopen, truncation, compaction, reset, errors."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest

from roost.storage import (
    CompactedError,
    Entry,
    LogClosedError,
    LogGapError,
    StorageError,
    UnavailableError,
    WriteAheadLog,
)

from .helpers import (
    all_entries,
    append_singly,
    make_entries,
    payload,
    record_size,
    segments,
)


def test_fresh_log_is_empty(tmp_path: Path) -> None:
    with WriteAheadLog.open(tmp_path / "log") as wal:
        assert (wal.first_index, wal.last_index, wal.last_term) == (1, 0, 0)
        assert wal.compacted == (0, 0)
        assert wal.term_at(0) == 0
        assert wal.entries(1, 1) == []
    assert [p.name for p in segments(tmp_path / "log")] == ["log-00000000000000000001.wal"]


def test_round_trip_and_reopen(tmp_path: Path) -> None:
    entries = make_entries(1, 50, 1) + make_entries(50, 80, 3)
    with WriteAheadLog.open(tmp_path) as wal:
        wal.append(entries[:10])
        wal.append(entries[10:])
        wal.sync()
        assert all_entries(wal) == entries
        assert wal.entries(20, 25) == entries[19:24]
        assert wal.term_at(49) == 1
        assert wal.term_at(50) == 3
        assert wal.last_term == 3
    with WriteAheadLog.open(tmp_path) as wal:
        assert (wal.first_index, wal.last_index) == (1, 79)
        assert all_entries(wal) == entries
        assert [wal.term_at(i) for i in range(1, 80)] == [e.term for e in entries]


def test_empty_and_large_payloads(tmp_path: Path) -> None:
    entries = [Entry(1, 1, b""), Entry(1, 2, bytes(range(256)) * 1000), Entry(2, 3, b"x")]
    with WriteAheadLog.open(tmp_path) as wal:
        wal.append(entries)
    with WriteAheadLog.open(tmp_path) as wal:
        assert all_entries(wal) == entries


def test_rollover_makes_many_segments_that_reopen(tmp_path: Path) -> None:
    entries = make_entries(1, 301, 2)
    with WriteAheadLog.open(tmp_path, segment_size=1024) as wal:
        for start in range(0, 300, 7):
            wal.append(entries[start : start + 7])
        wal.sync()
        paths = wal.segment_paths
    assert len(paths) > 10
    assert paths == segments(tmp_path)
    for path in paths[:-1]:
        # a segment is only rolled once it holds something, and a batch is never split
        assert path.stat().st_size <= 1024 + 7 * max(record_size(e) for e in entries)
    with WriteAheadLog.open(tmp_path, segment_size=1024) as wal:
        assert all_entries(wal) == entries
        assert wal.entries(95, 205) == entries[94:204]


def test_segment_names_carry_their_first_index(tmp_path: Path) -> None:
    with WriteAheadLog.open(tmp_path, segment_size=200) as wal:
        for i in range(1, 30):
            wal.append(make_entries(i, i + 1, 1))
        firsts = [int(p.name[4:24]) for p in wal.segment_paths]
    assert firsts[0] == 1
    assert firsts == sorted(firsts)
    with WriteAheadLog.open(tmp_path, segment_size=200) as wal:
        got = all_entries(wal)
    assert [e.index for e in got] == list(range(1, 30))


def test_max_bytes_limits_entries_but_returns_one(tmp_path: Path) -> None:
    entries = make_entries(1, 41, 1)
    with WriteAheadLog.open(tmp_path, segment_size=300) as wal:
        wal.append(entries)
        assert wal.entries(5, 41, max_bytes=1) == [entries[4]]
        budget = sum(record_size(e) for e in entries[4:12])
        assert wal.entries(5, 41, max_bytes=budget) == entries[4:12]
        assert wal.entries(5, 41, max_bytes=budget - 1) == entries[4:11]
        assert wal.entries(5, 41, max_bytes=10**9) == entries[4:]


def test_append_rejects_gaps_and_backward_terms(tmp_path: Path) -> None:
    with WriteAheadLog.open(tmp_path) as wal:
        wal.append(make_entries(1, 4, 2))
        with pytest.raises(LogGapError, match="expected 4"):
            wal.append(make_entries(5, 6, 2))
        with pytest.raises(LogGapError, match="expected 4"):
            wal.append(make_entries(3, 6, 2))
        with pytest.raises(LogGapError, match="term 1"):
            wal.append(make_entries(4, 5, 1))
        with pytest.raises(LogGapError):
            wal.append([Entry(2, 4, b"a"), Entry(2, 6, b"b")])
        assert wal.last_index == 3
        wal.append(make_entries(4, 6, 2))
        assert wal.last_index == 5


def test_out_of_range_reads(tmp_path: Path) -> None:
    with WriteAheadLog.open(tmp_path, segment_size=200) as wal:
        append_singly(wal, make_entries(1, 21, 1))
        wal.compact(10)
        first = wal.first_index
        assert 1 < first <= 11
        with pytest.raises(UnavailableError):
            wal.term_at(21)
        with pytest.raises(UnavailableError):
            wal.entries(first, 22)
        with pytest.raises(CompactedError):
            wal.term_at(first - 2)
        with pytest.raises(CompactedError):
            wal.entries(first - 1, 5 + first)
        with pytest.raises(ValueError):
            wal.entries(8, 7)
        assert wal.term_at(first - 1) == 1


def test_truncate_after_then_append_new_term(tmp_path: Path) -> None:
    old = make_entries(1, 61, 1)
    with WriteAheadLog.open(tmp_path, segment_size=400) as wal:
        append_singly(wal, old)
        wal.sync()
        before = len(wal.segment_paths)
        wal.truncate_after(25)
        assert wal.last_index == 25
        assert len(wal.segment_paths) < before
        new = [Entry(4, i, b"new-%d" % i) for i in range(26, 40)]
        wal.append(new)
        wal.sync()
        assert all_entries(wal) == old[:25] + new
    with WriteAheadLog.open(tmp_path, segment_size=400) as wal:
        assert all_entries(wal) == old[:25] + new
        assert wal.term_at(25) == 1
        assert wal.term_at(26) == 4


def test_truncate_after_at_segment_boundary_and_to_empty(tmp_path: Path) -> None:
    with WriteAheadLog.open(tmp_path, segment_size=300) as wal:
        append_singly(wal, make_entries(1, 31, 1))
        second = wal.segment_paths[1]
        boundary = int(second.name[4:24])
        wal.truncate_after(boundary - 1)
        assert wal.last_index == boundary - 1
        wal.append(make_entries(boundary, boundary + 3, 2))
        wal.truncate_after(0)
        assert (wal.first_index, wal.last_index, wal.last_term) == (1, 0, 0)
        wal.append(make_entries(1, 3, 5))
    with WriteAheadLog.open(tmp_path, segment_size=300) as wal:
        assert all_entries(wal) == make_entries(1, 3, 5)


def test_truncate_after_is_a_no_op_past_the_end_and_refuses_compacted(tmp_path: Path) -> None:
    with WriteAheadLog.open(tmp_path, segment_size=200) as wal:
        append_singly(wal, make_entries(1, 31, 1))
        wal.truncate_after(30)
        wal.truncate_after(99)
        assert wal.last_index == 30
        wal.compact(20)
        with pytest.raises(CompactedError):
            wal.truncate_after(wal.first_index - 2)


def test_compact_deletes_whole_segments_and_survives_reopen(tmp_path: Path) -> None:
    entries = make_entries(1, 101, 1) + make_entries(101, 121, 2)
    with WriteAheadLog.open(tmp_path, segment_size=500) as wal:
        append_singly(wal, entries)
        wal.sync()
        count = len(wal.segment_paths)
        wal.compact(60)
        first = wal.first_index
        assert 1 < first <= 61
        assert len(wal.segment_paths) < count
        assert wal.compacted == (first - 1, 1)
        assert all_entries(wal) == entries[first - 1 :]
    with WriteAheadLog.open(tmp_path, segment_size=500) as wal:
        assert wal.first_index == first
        assert wal.compacted == (first - 1, 1)
        assert all_entries(wal) == entries[first - 1 :]
        wal.append(make_entries(121, 125, 3))
        assert wal.entries(121, 125) == make_entries(121, 125, 3)


def test_compact_everything_keeps_the_last_term(tmp_path: Path) -> None:
    with WriteAheadLog.open(tmp_path) as wal:
        wal.append(make_entries(1, 11, 7))
        wal.compact(10)
        assert (wal.first_index, wal.last_index, wal.compacted) == (11, 10, (10, 7))
        assert len(wal.segment_paths) == 1
        with pytest.raises(UnavailableError):
            wal.compact(11)
    with WriteAheadLog.open(tmp_path) as wal:
        assert (wal.first_index, wal.last_index, wal.term_at(10)) == (11, 10, 7)
        wal.append(make_entries(11, 13, 7))
        assert all_entries(wal) == make_entries(11, 13, 7)


def test_compact_below_first_index_is_a_no_op(tmp_path: Path) -> None:
    with WriteAheadLog.open(tmp_path, segment_size=200) as wal:
        append_singly(wal, make_entries(1, 21, 1))
        wal.compact(15)
        first = wal.first_index
        paths = wal.segment_paths
        wal.compact(first - 1)
        assert (wal.first_index, wal.segment_paths) == (first, paths)


def test_reset_restarts_after_a_snapshot_point(tmp_path: Path) -> None:
    with WriteAheadLog.open(tmp_path, segment_size=200) as wal:
        append_singly(wal, make_entries(1, 31, 1))
        wal.reset(500, 9)
        assert (wal.first_index, wal.last_index, wal.compacted) == (501, 500, (500, 9))
        wal.append(make_entries(501, 504, 9))
    with WriteAheadLog.open(tmp_path, segment_size=200) as wal:
        assert wal.compacted == (500, 9)
        assert all_entries(wal) == make_entries(501, 504, 9)
        assert [p.name for p in wal.segment_paths] == ["log-00000000000000000501.wal"]


def test_reset_back_onto_an_existing_segment_name(tmp_path: Path) -> None:
    with WriteAheadLog.open(tmp_path) as wal:
        wal.append(make_entries(1, 6, 1))
        wal.reset(0, 0)
        assert (wal.first_index, wal.last_index) == (1, 0)
        wal.append(make_entries(1, 3, 2))
    with WriteAheadLog.open(tmp_path) as wal:
        assert all_entries(wal) == make_entries(1, 3, 2)


def test_closed_log_refuses_use_and_close_is_idempotent(tmp_path: Path) -> None:
    wal = WriteAheadLog.open(tmp_path)
    wal.append(make_entries(1, 3, 1))
    wal.close()
    wal.close()
    with pytest.raises(LogClosedError):
        wal.append(make_entries(3, 4, 1))
    with pytest.raises(LogClosedError):
        wal.entries(1, 2)
    # close() synced: the entries are there
    with WriteAheadLog.open(tmp_path) as again:
        assert all_entries(again) == make_entries(1, 3, 1)


def test_leftover_temp_files_are_removed(tmp_path: Path) -> None:
    (tmp_path / "log-00000000000000000009.wal.tmp").write_bytes(b"junk")
    with WriteAheadLog.open(tmp_path) as wal:
        assert wal.last_index == 0
    assert not list(tmp_path.glob("*.tmp"))


def test_concurrent_appenders_readers_and_syncers(tmp_path: Path) -> None:
    wal = WriteAheadLog.open(tmp_path, segment_size=2048)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(200):
                with lock:
                    nxt = wal.last_index + 1
                    wal.append([Entry(1, nxt, payload(nxt))])
                wal.sync()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(300):
                last = wal.last_index
                if last >= 1:
                    got = wal.entries(max(1, last - 5), last + 1)
                    assert all(e.data == payload(e.index) for e in got)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=f) for f in (writer, writer, reader, reader)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    wal.close()
    assert errors == []
    with WriteAheadLog.open(tmp_path, segment_size=2048) as again:
        got = all_entries(again)
    assert [e.index for e in got] == list(range(1, 401))
    assert all(e.data == payload(e.index) for e in got)


def test_entry_kind_round_trips_and_is_range_checked(tmp_path: Path) -> None:
    entries = [Entry(1, 1, b"normal"), Entry(1, 2, b"conf", kind=1), Entry(2, 3, b"", kind=255)]
    with WriteAheadLog.open(tmp_path) as wal:
        wal.append(entries)
        with pytest.raises(ValueError, match="kind 256"):
            wal.append([Entry(2, 4, b"x", kind=256)])
        assert wal.last_index == 3
    with WriteAheadLog.open(tmp_path) as wal:
        assert all_entries(wal) == entries
        assert [e.kind for e in all_entries(wal)] == [0, 1, 255]


def test_write_error_makes_the_log_unusable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wal = WriteAheadLog.open(tmp_path)
    wal.append(make_entries(1, 3, 1))

    def no_space(fd: int, data: object, offset: int) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", no_space)
    with pytest.raises(StorageError, match="No space left"):
        wal.append(make_entries(3, 4, 1))
    monkeypatch.undo()
    with pytest.raises(LogClosedError, match="earlier error"):
        wal.append(make_entries(3, 4, 1))
    with pytest.raises(LogClosedError):
        wal.sync()
    wal.close()


def test_fsync_error_makes_the_log_unusable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wal = WriteAheadLog.open(tmp_path)
    wal.append(make_entries(1, 3, 1))

    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", broken)
    with pytest.raises(StorageError, match="fsync failed"):
        wal.sync()
    monkeypatch.undo()
    with pytest.raises(LogClosedError):
        wal.entries(1, 2)
    wal.close()  # does not try to sync again, and releases the files
    with WriteAheadLog.open(tmp_path) as again:
        # the entries were never known to be on disk: cut, not read back from the cache
        assert again.last_index == 0
