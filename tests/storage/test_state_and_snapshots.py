"""HardStateFile, SnapshotStore and DataDir."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from roost.storage import (
    CorruptSnapshotError,
    CorruptStateError,
    DataDir,
    DataDirLockedError,
    HardState,
    HardStateFile,
    SnapshotStore,
    StorageError,
)

from .helpers import all_entries, make_entries

# ------------------------------------------------------------------ hard state


def test_hard_state_defaults_to_zero_and_round_trips(tmp_path: Path) -> None:
    hs = HardStateFile(tmp_path / "state")
    assert hs.load() == HardState(0, 0, 0)
    hs.save(HardState(term=7, vote=3, commit=12345))
    assert HardStateFile(tmp_path / "state").load() == HardState(7, 3, 12345)
    hs.save(HardState(term=8, vote=0, commit=12346))
    assert hs.load() == HardState(8, 0, 12346)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]


def test_hard_state_rejects_negative_fields(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        HardStateFile(tmp_path / "state").save(HardState(term=-1))


@pytest.mark.parametrize(
    "garbage",
    [b"", b"hello", b"\x00" * 36, b"RHST" + b"\x00" * 40],
    ids=["empty", "short", "zeros", "long"],
)
def test_garbage_hard_state_raises_naming_the_file(tmp_path: Path, garbage: bytes) -> None:
    path = tmp_path / "state"
    path.write_bytes(garbage)
    with pytest.raises(CorruptStateError, match=str(path)):
        HardStateFile(path).load()


def test_every_flipped_bit_of_hard_state_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "state"
    HardStateFile(path).save(HardState(5, 2, 99))
    raw = path.read_bytes()
    for pos in range(len(raw)):
        for bit in (0x01, 0x80):
            damaged = bytearray(raw)
            damaged[pos] ^= bit
            path.write_bytes(bytes(damaged))
            with pytest.raises(CorruptStateError, match="state: offset"):
                HardStateFile(path).load()


# ------------------------------------------------------------------- snapshots


def test_snapshot_save_latest_and_prune(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snap")
    assert store.latest() is None
    for index in (10, 30, 20):
        path = store.save(index, index // 10, b"tree@%d" % index)
        assert path.name == f"snap-{index:020d}.snap"
    latest = store.latest()
    assert latest is not None
    meta, data = latest
    assert (meta.index, meta.term, meta.size, data) == (30, 3, 7, b"tree@30")
    assert store.load(10)[1] == b"tree@10"
    removed = store.prune(keep=2)
    assert [p.name for p in removed] == [f"snap-{10:020d}.snap"]
    assert store.indexes() == [20, 30]
    assert store.prune(keep=2) == []
    with pytest.raises(ValueError):
        store.prune(keep=0)


def test_empty_and_large_snapshot_payloads(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    store.save(1, 1, b"")
    assert store.load(1)[1] == b""
    big = bytes(range(256)) * 4096
    store.save(2, 1, big)
    latest = store.latest()
    assert latest is not None and latest[1] == big


def test_flipped_byte_in_newest_snapshot_raises_without_fallback(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    store.save(5, 1, b"older, still fine")
    newest = store.save(9, 2, b"the newest snapshot payload")
    raw = newest.read_bytes()
    for pos in range(len(raw)):
        damaged = bytearray(raw)
        damaged[pos] ^= 0x10
        newest.write_bytes(bytes(damaged))
        with pytest.raises(CorruptSnapshotError, match=newest.name):
            store.latest()


def test_snapshot_views_match_the_copies_and_are_verified_alike(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    assert store.latest_view() is None
    store.save(3, 1, b"first")
    newest = store.save(7, 2, b"second payload")
    view = store.latest_view()
    assert view is not None
    meta, payload = view
    assert isinstance(payload, memoryview)
    assert (meta.index, meta.term, bytes(payload)) == (7, 2, b"second payload")
    assert bytes(store.load_view(3)[1]) == store.load(3)[1] == b"first"
    raw = bytearray(newest.read_bytes())
    raw[-1] ^= 0x01
    newest.write_bytes(bytes(raw))
    with pytest.raises(CorruptSnapshotError, match="checksum"):
        store.latest_view()


def test_truncated_snapshot_raises(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    path = store.save(4, 1, b"abcdefgh")
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(CorruptSnapshotError, match="offset"):
        store.latest()
    path.write_bytes(b"RSNP")
    with pytest.raises(CorruptSnapshotError, match="too short"):
        store.latest()


def test_snapshot_renamed_to_another_index_raises(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    path = store.save(4, 1, b"abc")
    path.rename(tmp_path / "snap-00000000000000000008.snap")
    with pytest.raises(CorruptSnapshotError, match="header says index 4"):
        store.latest()


def test_snapshot_temp_files_are_cleaned_and_unknown_files_ignored(tmp_path: Path) -> None:
    (tmp_path / "snap-00000000000000000009.snap.tmp").write_bytes(b"half written")
    (tmp_path / "notes.txt").write_bytes(b"not a snapshot")
    store = SnapshotStore(tmp_path)
    assert not list(tmp_path.glob("*.tmp"))
    assert store.latest() is None


# --------------------------------------------------------------------- DataDir


def test_datadir_layout_and_reopen(tmp_path: Path) -> None:
    root = tmp_path / "data"
    with DataDir.open(root, segment_size=4096) as dd:
        dd.wal.append(make_entries(1, 11, 1))
        dd.wal.sync()
        dd.hardstate.save(HardState(1, 1, 10))
        dd.snapshots.save(10, 1, b"snap")
    assert {p.name for p in root.iterdir()} == {"LOCK", "log", "snap", "state"}
    with DataDir.open(root, segment_size=4096) as dd:
        assert all_entries(dd.wal) == make_entries(1, 11, 1)
        assert dd.hardstate.load() == HardState(1, 1, 10)
        latest = dd.snapshots.latest()
        assert latest is not None and latest[0].index == 10


def test_second_open_in_process_is_refused(tmp_path: Path) -> None:
    with DataDir.open(tmp_path), pytest.raises(DataDirLockedError, match="already in use"):
        DataDir.open(tmp_path)
    with DataDir.open(tmp_path):
        pass


def test_second_server_process_gets_a_clear_error(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from roost.storage import DataDir, DataDirLockedError\n"
        "try:\n"
        "    DataDir.open(sys.argv[1])\n"
        "except DataDirLockedError as exc:\n"
        "    print(exc)\n"
        "    sys.exit(3)\n"
    )
    with DataDir.open(tmp_path):
        proc = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 3, proc.stderr
    assert str(tmp_path) in proc.stdout
    assert "already in use" in proc.stdout


def test_align_log_keeps_a_matching_log(tmp_path: Path) -> None:
    with DataDir.open(tmp_path) as dd:
        dd.wal.append(make_entries(1, 21, 2))
        dd.snapshots.save(15, 2, b"s")
        meta = dd.snapshots.load(15)[0]
        assert dd.align_log(meta) is False
        assert (dd.wal.first_index, dd.wal.last_index) == (1, 20)


def test_align_log_resets_a_short_or_conflicting_log(tmp_path: Path) -> None:
    with DataDir.open(tmp_path) as dd:
        dd.wal.append(make_entries(1, 6, 1))
        dd.snapshots.save(40, 3, b"s")
        meta = dd.snapshots.load(40)[0]
        assert dd.align_log(meta) is True
        assert (dd.wal.first_index, dd.wal.last_index, dd.wal.compacted) == (41, 40, (40, 3))
        dd.wal.append(make_entries(41, 43, 3))
        dd.snapshots.save(42, 4, b"s2")  # log has term 3 at 42: conflict
        assert dd.align_log(dd.snapshots.load(42)[0]) is True
        assert dd.wal.compacted == (42, 4)


def test_align_log_refuses_a_log_compacted_past_the_snapshot(tmp_path: Path) -> None:
    with DataDir.open(tmp_path) as dd:
        dd.wal.append(make_entries(1, 11, 1))
        dd.wal.compact(10)
        dd.snapshots.save(5, 1, b"s")
        with pytest.raises(StorageError, match="compacted up to 10"):
            dd.align_log(dd.snapshots.load(5)[0])
