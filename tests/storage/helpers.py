"""Shared helpers for the storage tests."""

from __future__ import annotations

from pathlib import Path

from roost.storage import Entry, WriteAheadLog

from .crash_writer import payload as payload


def make_entries(lo: int, hi: int, term: int) -> list[Entry]:
    return [Entry(term, i, payload(i)) for i in range(lo, hi)]


def all_entries(wal: WriteAheadLog) -> list[Entry]:
    return wal.entries(wal.first_index, wal.last_index + 1)


def record_size(entry: Entry) -> int:
    return 32 + len(entry.data)


def build_log(directory: Path, count: int, segment_size: int = 1 << 20) -> list[Entry]:
    """A synced, closed log of ``count`` term-1 entries; returns them."""
    entries = make_entries(1, count + 1, 1)
    with WriteAheadLog.open(directory, segment_size=segment_size) as wal:
        wal.append(entries)
        wal.sync()
    return entries


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("log-*.wal"))


def append_singly(wal: WriteAheadLog, entries: list[Entry]) -> None:
    """Append one entry per call, so that a small segment size rolls often."""
    for entry in entries:
        wal.append([entry])
