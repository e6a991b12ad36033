"""Raft hard state (term, vote, commit), replaced atomically in one small file.

File format (little-endian, 36 bytes): magic b"RHST", version u16 (1), reserved u16,
term u64, vote u64, commit u64, crc u32 (zlib.crc32 of the 32 bytes before it).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from roost.storage.errors import (
    CorruptStateError,
    UnsupportedFormatError,
    unsupported_format,
    version_hint,
)
from roost.storage.fsutil import atomic_write, read_file

_MAGIC = b"RHST"
_VERSION = 1
_BODY = struct.Struct("<4sHHQQQ")
_CRC = struct.Struct("<I")
_SIZE = _BODY.size + _CRC.size


@dataclass(frozen=True, slots=True)
class HardState:
    """What raft must persist before answering: current term, vote in it (0 = none) and
    the highest index known committed."""

    term: int = 0
    vote: int = 0
    commit: int = 0


def encode_hard_state(state: HardState) -> bytes:
    body = _BODY.pack(_MAGIC, _VERSION, 0, state.term, state.vote, state.commit)
    return body + _CRC.pack(zlib.crc32(body))


def decode_hard_state(data: bytes, path: Path) -> HardState:
    """Parse and verify; raises CorruptStateError naming ``path``."""
    hint = ""
    if len(data) >= 6 and data[:4] == _MAGIC:
        hint = version_hint(int.from_bytes(data[4:6], "little"), _VERSION)
    if len(data) != _SIZE:
        raise CorruptStateError(
            f"{path}: offset 0: expected {_SIZE} bytes, found {len(data)}{hint}"
        )
    magic, version, _reserved, term, vote, commit = _BODY.unpack_from(data, 0)
    if magic != _MAGIC:
        raise CorruptStateError(f"{path}: offset 0: bad magic {magic!r}")
    (crc,) = _CRC.unpack_from(data, _BODY.size)
    if zlib.crc32(data[: _BODY.size]) != crc:
        raise CorruptStateError(f"{path}: offset {_BODY.size}: checksum mismatch{hint}")
    if version != _VERSION:
        raise UnsupportedFormatError(
            f"{path}: {unsupported_format('hard state', version, _VERSION)}"
        )
    return HardState(term, vote, commit)


class HardStateFile:
    """Load and save a :class:`HardState` at ``path`` (blocking I/O)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self) -> HardState:
        """The saved state, or the zero state if none was ever saved."""
        data = read_file(self.path)
        if data is None:
            return HardState()
        return decode_hard_state(data, self.path)

    def save(self, state: HardState) -> None:
        """Replace the saved state atomically and durably (temp file, fsync, rename,
        directory fsync)."""
        if min(state.term, state.vote, state.commit) < 0:
            raise ValueError(f"hard state fields must be >= 0: {state}")
        atomic_write(self.path, encode_hard_state(state))
