"""Recovery on open: torn tails are cut off with a warning; other damage is an error."""

from __future__ import annotations

import logging
import random
import shutil
from pathlib import Path

import pytest

from roost.storage import CorruptLogError, Entry, WriteAheadLog
from roost.storage.records import check_record, decode_record, encode_entries

from .helpers import (
    all_entries,
    append_singly,
    build_log,
    make_entries,
    record_size,
    segments,
)

COUNT = 6


def record_offsets(entries: list[Entry]) -> list[int]:
    """Byte offset of each record in a single-segment log (header is 28 bytes)."""
    offsets = []
    offset = 28
    for entry in entries:
        offsets.append(offset)
        offset += record_size(entry)
    return offsets


def fresh_copy(src: Path, dst: Path) -> Path:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    return dst


def test_torn_tail_at_every_offset_of_the_last_record(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    original = tmp_path / "original"
    entries = build_log(original, COUNT)
    [seg] = segments(original)
    raw = seg.read_bytes()
    last_start = record_offsets(entries)[-1]
    assert last_start + record_size(entries[-1]) == len(raw)
    for cut in range(last_start, len(raw)):
        work = fresh_copy(original, tmp_path / "work")
        (work / seg.name).write_bytes(raw[:cut])
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="roost.storage"):
            wal = WriteAheadLog.open(work)
        with wal:
            assert all_entries(wal) == entries[:-1], cut
            warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
            if cut == last_start:
                assert warnings == []
            else:
                assert len(warnings) == 1
                assert seg.name in warnings[0]
                assert f"offset {last_start}" in warnings[0]
            assert (work / seg.name).stat().st_size == last_start
            fresh = Entry(2, COUNT, b"after-the-tear")
            wal.append([fresh])
            wal.sync()
        with WriteAheadLog.open(work) as again:
            assert all_entries(again) == [*entries[:-1], fresh]


def test_flipped_byte_in_the_last_record_is_a_torn_tail(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    original = tmp_path / "original"
    entries = build_log(original, COUNT)
    [seg] = segments(original)
    raw = seg.read_bytes()
    last_start = record_offsets(entries)[-1]
    for pos in range(last_start, len(raw), 3):
        work = fresh_copy(original, tmp_path / "work")
        damaged = bytearray(raw)
        damaged[pos] ^= 0x5A
        (work / seg.name).write_bytes(bytes(damaged))
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="roost.storage"):
            wal = WriteAheadLog.open(work)
        with wal:
            assert all_entries(wal) == entries[:-1]
        assert any(f"offset {last_start}" in r.getMessage() for r in caplog.records)


def test_flipped_byte_in_a_middle_record_raises_naming_file_and_offset(tmp_path: Path) -> None:
    original = tmp_path / "original"
    entries = build_log(original, COUNT)
    [seg] = segments(original)
    raw = seg.read_bytes()
    middle = 2
    start = record_offsets(entries)[middle]
    for pos in range(start, start + record_size(entries[middle])):
        work = fresh_copy(original, tmp_path / "work")
        damaged = bytearray(raw)
        damaged[pos] ^= 0x01
        (work / seg.name).write_bytes(bytes(damaged))
        with pytest.raises(CorruptLogError) as info:
            WriteAheadLog.open(work)
        message = str(info.value)
        assert seg.name in message
        assert f"offset {start}:" in message


def test_damage_in_a_segment_that_is_not_last_raises(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    with WriteAheadLog.open(log_dir, segment_size=300) as wal:
        append_singly(wal, make_entries(1, 40, 1))
    first, *_rest = segments(log_dir)
    raw = bytearray(first.read_bytes())
    raw[-1] ^= 0xFF  # the last record of the first segment
    first.write_bytes(bytes(raw))
    with pytest.raises(CorruptLogError, match=f"{first.name}: offset \\d+: .*not last"):
        WriteAheadLog.open(log_dir, segment_size=300)


def test_truncated_segment_that_is_not_last_raises(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    with WriteAheadLog.open(log_dir, segment_size=300) as wal:
        append_singly(wal, make_entries(1, 40, 1))
    second = segments(log_dir)[1]
    raw = second.read_bytes()
    second.write_bytes(raw[:-4])
    with pytest.raises(CorruptLogError, match=second.name):
        WriteAheadLog.open(log_dir, segment_size=300)


def test_missing_middle_segment_is_an_index_gap(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    with WriteAheadLog.open(log_dir, segment_size=300) as wal:
        append_singly(wal, make_entries(1, 40, 1))
    paths = segments(log_dir)
    assert len(paths) >= 3
    paths[1].unlink()
    with pytest.raises(CorruptLogError, match=f"{paths[2].name}: offset 0: .*gap"):
        WriteAheadLog.open(log_dir, segment_size=300)


def test_damaged_segment_header_raises(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    build_log(log_dir, COUNT)
    [seg] = segments(log_dir)
    raw = bytearray(seg.read_bytes())
    raw[10] ^= 0x01
    seg.write_bytes(bytes(raw))
    with pytest.raises(CorruptLogError, match=f"{seg.name}: offset 0: .*checksum"):
        WriteAheadLog.open(log_dir)


def test_segment_whose_name_disagrees_with_its_header_raises(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    build_log(log_dir, COUNT)
    [seg] = segments(log_dir)
    seg.rename(log_dir / "log-00000000000000000002.wal")
    with pytest.raises(CorruptLogError, match="header says first index 1"):
        WriteAheadLog.open(log_dir)


def test_torn_header_of_a_new_last_segment_is_removed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log_dir = tmp_path / "log"
    entries = build_log(log_dir, COUNT)
    torn = log_dir / f"log-{COUNT + 1:020d}.wal"
    torn.write_bytes(b"RWAL\x01\x00")
    with caplog.at_level(logging.WARNING, logger="roost.storage"):
        wal = WriteAheadLog.open(log_dir)
    with wal:
        assert all_entries(wal) == entries
        wal.append(make_entries(COUNT + 1, COUNT + 3, 1))
    assert any(torn.name in r.getMessage() for r in caplog.records)
    with WriteAheadLog.open(log_dir) as wal:
        assert all_entries(wal) == entries + make_entries(COUNT + 1, COUNT + 3, 1)


def test_zero_filled_tail_is_torn(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    log_dir = tmp_path / "log"
    entries = build_log(log_dir, COUNT)
    [seg] = segments(log_dir)
    size = seg.stat().st_size
    with seg.open("ab") as f:
        f.write(bytes(4096))
    with caplog.at_level(logging.WARNING, logger="roost.storage"):
        wal = WriteAheadLog.open(log_dir)
    with wal:
        assert all_entries(wal) == entries
    assert seg.stat().st_size == size
    assert any(f"offset {size}" in r.getMessage() for r in caplog.records)


def test_garbage_between_valid_records_raises(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    entries = build_log(log_dir, COUNT)
    [seg] = segments(log_dir)
    raw = seg.read_bytes()
    cut = record_offsets(entries)[3]
    seg.write_bytes(raw[:cut] + b"\x00" * 50 + raw[cut:])
    with pytest.raises(CorruptLogError, match=f"offset {cut}: .*valid record follows"):
        WriteAheadLog.open(log_dir)


def test_record_lookalike_inside_a_torn_payload_is_not_mistaken_for_data(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A client may store bytes that happen to be a valid record; when the entry holding
    them is torn, recovery must still see a torn tail (the header's length is trusted)."""
    log_dir = tmp_path / "log"
    forged, _ = encode_entries([Entry(1, COUNT + 3, b"forged")])
    entries = [*make_entries(1, COUNT, 1), Entry(1, COUNT, b"x" * 10 + forged + b"y" * 10)]
    with WriteAheadLog.open(log_dir) as wal:
        wal.append(entries)
    [seg] = segments(log_dir)
    raw = seg.read_bytes()
    seg.write_bytes(raw[:-5])  # cut inside the "y" padding, after the lookalike
    with caplog.at_level(logging.WARNING, logger="roost.storage"):
        wal = WriteAheadLog.open(log_dir)
    with wal:
        assert all_entries(wal) == entries[:-1]
    assert any("incomplete record payload" in r.getMessage() for r in caplog.records)


def test_damage_after_open_is_caught_on_read(tmp_path: Path) -> None:
    """Reads verify every record again: a byte flipped on disk after the log was opened
    (in the header, either checksum or the payload) fails the read, naming the offset."""
    entries = build_log(tmp_path / "log", COUNT)
    [seg] = segments(tmp_path / "log")
    raw = seg.read_bytes()
    middle = 3
    start = record_offsets(entries)[middle]
    for pos in range(start, start + record_size(entries[middle])):
        with WriteAheadLog.open(tmp_path / "log") as wal:
            assert all_entries(wal) == entries
            damaged = bytearray(raw)
            damaged[pos] ^= 0x10
            seg.write_bytes(bytes(damaged))
            assert wal.entries(1, middle + 1) == entries[:middle]  # before it: fine
            with pytest.raises(CorruptLogError, match=f"offset {start}: .* on read"):
                wal.entries(1, COUNT + 1)
        seg.write_bytes(raw)


def test_the_quick_record_check_agrees_with_decode_record() -> None:
    """check_record (the scanning loops') accepts exactly what decode_record accepts."""
    rng = random.Random(17)
    blob, _sizes = encode_entries(make_entries(1, 5, 3))
    for _ in range(3000):
        damaged = bytearray(blob)
        for _ in range(rng.randint(1, 3)):
            damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
        cut = bytes(damaged[: rng.randint(0, len(damaged))] if rng.random() < 0.3 else damaged)
        offset = 0
        while True:
            head = decode_record(cut, offset)
            quick = check_record(memoryview(cut), offset)
            if isinstance(head, str):
                assert quick is None, (head, quick)
                break
            assert quick == (head.term, head.index, head.length, head.kind)
            offset += 32 + head.length
