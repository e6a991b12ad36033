"""Snapshot files: ``snap-<index, 20 digits>.snap`` holding opaque bytes.

File format (little-endian): a 36-byte header, then the payload::

    magic b"RSNP" | version u16 (1) | reserved u16 | index u64 | term u64 | length u64 |
    crc u32 (zlib.crc32 of the 32 header bytes before it, then of the payload)

A backup file (`roost snapshot save`) has the same layout with magic b"RBAK".

The payload is whatever the caller saves (tree image, cluster configuration...).
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from roost.storage.errors import (
    CorruptSnapshotError,
    StorageError,
    UnsupportedFormatError,
    unsupported_format,
    version_hint,
)
from roost.storage.fsutil import atomic_write, fsync_dir, read_file, remove_tmp_files

_MAGIC = b"RSNP"
#: the magic of a backup file (`roost snapshot save`): a snapshot file's layout
BACKUP_MAGIC = b"RBAK"
_VERSION = 1
_BODY = struct.Struct("<4sHHQQQ")
_CRC = struct.Struct("<I")
HEADER_SIZE = _BODY.size + _CRC.size
_NAME = re.compile(r"^snap-(\d{20})\.snap$")


@dataclass(frozen=True, slots=True)
class SnapshotMeta:
    """Where a snapshot sits in the log, and its file."""

    index: int
    term: int
    path: Path
    size: int


def snapshot_name(index: int) -> str:
    return f"snap-{index:020d}.snap"


def encode_snapshot(index: int, term: int, data: bytes, magic: bytes = _MAGIC) -> bytes:
    """A snapshot file's bytes (`magic` BACKUP_MAGIC: a backup file of the same layout)."""
    body = _BODY.pack(magic, _VERSION, 0, index, term, len(data))
    return body + _CRC.pack(zlib.crc32(data, zlib.crc32(body))) + data


def decode_snapshot(blob: bytes, path: Path) -> tuple[SnapshotMeta, bytes]:
    """Verify a snapshot file's bytes; raises CorruptSnapshotError naming ``path``."""
    meta, payload = decode_snapshot_view(blob, path)
    return meta, payload.tobytes()


def decode_snapshot_view(
    blob: bytes, path: Path, magic: bytes = _MAGIC, what: str = "snapshot"
) -> tuple[SnapshotMeta, memoryview]:
    """`decode_snapshot` returning the payload as a view into ``blob`` (no copy: a
    snapshot of a million znodes is ~150 MB). Another format version raises
    UnsupportedFormatError."""
    hint = ""
    if len(blob) >= 6 and blob[:4] == magic:
        hint = version_hint(int.from_bytes(blob[4:6], "little"), _VERSION)
    if len(blob) < HEADER_SIZE:
        raise CorruptSnapshotError(
            f"{path}: offset 0: file of {len(blob)} bytes is too short{hint}"
        )
    found, version, _reserved, index, term, length = _BODY.unpack_from(blob, 0)
    if found != magic:
        raise CorruptSnapshotError(f"{path}: offset 0: bad magic {found!r}, not a {what}")
    if len(blob) != HEADER_SIZE + length:
        raise CorruptSnapshotError(
            f"{path}: offset {len(blob)}: header says {length} payload bytes, file has "
            f"{len(blob) - HEADER_SIZE}{hint}"
        )
    (crc,) = _CRC.unpack_from(blob, _BODY.size)
    view = memoryview(blob)
    if zlib.crc32(view[HEADER_SIZE:], zlib.crc32(view[: _BODY.size])) != crc:
        raise CorruptSnapshotError(
            f"{path}: offset 0: checksum mismatch over header and payload{hint}"
        )
    if version != _VERSION:
        raise UnsupportedFormatError(f"{path}: {unsupported_format(what, version, _VERSION)}")
    return SnapshotMeta(index, term, path, length), view[HEADER_SIZE:]


class SnapshotStore:
    """A directory of snapshot files (blocking I/O)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"{self.directory}: cannot create directory: {exc}") from exc
        remove_tmp_files(self.directory)

    def save(self, index: int, term: int, data: bytes) -> Path:
        """Write a snapshot durably (temp file, fsync, rename, directory fsync)."""
        if index < 0 or term < 0:
            raise ValueError(f"snapshot index {index} and term {term} must be >= 0")
        path = self.directory / snapshot_name(index)
        atomic_write(path, encode_snapshot(index, term, data))
        return path

    def indexes(self) -> list[int]:
        """Indexes of the snapshot files present, oldest first (not verified)."""
        found = []
        for path in self.directory.iterdir():
            match = _NAME.match(path.name)
            if match:
                found.append(int(match.group(1)))
        return sorted(found)

    def load(self, index: int) -> tuple[SnapshotMeta, bytes]:
        """Read and verify the snapshot at ``index``."""
        meta, payload = self.load_view(index)
        return meta, payload.tobytes()

    def load_view(self, index: int) -> tuple[SnapshotMeta, memoryview]:
        """`load` with the payload as a view into the file's bytes (one copy in memory)."""
        path = self.directory / snapshot_name(index)
        blob = read_file(path)
        if blob is None:
            raise StorageError(f"{path}: no such snapshot")
        meta, payload = decode_snapshot_view(blob, path)
        if meta.index != index:
            raise CorruptSnapshotError(f"{path}: offset 8: header says index {meta.index}")
        return meta, payload

    def latest(self) -> tuple[SnapshotMeta, bytes] | None:
        """The newest snapshot, verified; None if there is none.

        If the newest fails verification this raises CorruptSnapshotError rather than
        falling back to an older one: start-up must stop with a clear error.
        """
        indexes = self.indexes()
        return self.load(indexes[-1]) if indexes else None

    def latest_view(self) -> tuple[SnapshotMeta, memoryview] | None:
        """`latest` with the payload as a view (see `load_view`)."""
        indexes = self.indexes()
        return self.load_view(indexes[-1]) if indexes else None

    def prune(self, keep: int = 2) -> list[Path]:
        """Delete all but the newest ``keep`` snapshots; the paths removed."""
        if keep < 1:
            raise ValueError("prune must keep at least one snapshot")
        removed = []
        for index in self.indexes()[:-keep]:
            path = self.directory / snapshot_name(index)
            try:
                path.unlink()
            except OSError as exc:
                raise StorageError(f"{path}: cannot delete old snapshot: {exc}") from exc
            removed.append(path)
        if removed:
            fsync_dir(self.directory)
        return removed
