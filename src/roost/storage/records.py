"""On-disk record formats of the write-ahead log (pure functions, no I/O).

A segment file is a segment header followed by entry records, all little-endian::

    segment header (28 bytes)
        magic      4s   b"RWAL"
        version    u16  1
        reserved   u16  0
        first      u64  index of the first entry the segment holds (or will hold)
        prev_term  u64  term of entry ``first - 1`` (0 when first == 1)
        crc        u32  zlib.crc32 of the 24 bytes above

    entry record (32-byte header + payload)
        magic      2s   b"RW"
        version    u8   1
        kind       u8   the entry's kind (opaque to storage; raft uses it for
                        normal vs configuration-change entries)
        length     u32  payload length
        term       u64
        index      u64
        crc        u32  zlib.crc32 over the 24 header bytes above + the payload
        hcrc       u32  zlib.crc32 over the 28 header bytes above

``hcrc`` lets recovery reject a candidate record from its header alone, so scanning a
damaged tail for later valid records stays cheap.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from roost.storage.errors import UnsupportedFormatError, unsupported_format, version_hint

Buffer = bytes | bytearray | memoryview

SEG_MAGIC = b"RWAL"
SEG_VERSION = 1
_SEG = struct.Struct("<4sHHQQI")
_SEG_BODY = struct.Struct("<4sHHQQ")
SEG_HEADER_SIZE = _SEG.size

REC_MAGIC = b"RW"
REC_VERSION = 1
_REC = struct.Struct("<2sBBIQQII")
_REC_PREFIX = struct.Struct("<2sBBIQQ")
_U32 = struct.Struct("<I")
REC_HEADER_SIZE = _REC.size
_PREFIX_SIZE = _REC_PREFIX.size
_HCRC_SPAN = _PREFIX_SIZE + 4
MAX_PAYLOAD = 0xFFFF_FFFF


# Not frozen: one Entry is built per write on the hot path, and a frozen dataclass costs
# about three times as much to construct. Treat entries as immutable values all the same.
@dataclass(slots=True)
class Entry:
    """One raft log entry: opaque ``data`` at ``index``, proposed in ``term``; ``kind``
    (0-255) is stored alongside for the caller (e.g. raft's normal/conf-change)."""

    term: int
    index: int
    data: bytes
    kind: int = 0


@dataclass(frozen=True, slots=True)
class RecordHead:
    """The verified header fields of one record."""

    term: int
    index: int
    length: int
    kind: int


class SegmentHead(NamedTuple):
    """The verified fields of a segment header."""

    first_index: int
    prev_term: int


def encode_segment_header(first_index: int, prev_term: int) -> bytes:
    body = _SEG_BODY.pack(SEG_MAGIC, SEG_VERSION, 0, first_index, prev_term)
    return body + _U32.pack(zlib.crc32(body))


def decode_segment_header(buf: Buffer) -> SegmentHead | str:
    """The header fields, or a reason string when the header is invalid."""
    if len(buf) < SEG_HEADER_SIZE:
        return "incomplete segment header"
    magic, version, _reserved, first, prev_term, crc = _SEG.unpack_from(buf, 0)
    if magic != SEG_MAGIC:
        return "bad segment magic"
    if zlib.crc32(memoryview(buf)[: _SEG_BODY.size]) != crc:
        return "segment header checksum mismatch" + version_hint(version, SEG_VERSION)
    if version != SEG_VERSION:
        raise UnsupportedFormatError(unsupported_format("log segment", version, SEG_VERSION))
    if first < 1:
        return f"segment first index {first} < 1"
    return SegmentHead(first, prev_term)


def encode_entries(entries: Sequence[Entry]) -> tuple[bytes, list[int]]:
    """All records for ``entries`` as one blob, plus each record's size in bytes."""
    parts: list[bytes] = []
    sizes: list[int] = []
    pack_prefix = _REC_PREFIX.pack
    pack_u32 = _U32.pack
    crc32 = zlib.crc32
    for entry in entries:
        data = entry.data
        length = len(data)
        if length > MAX_PAYLOAD:
            raise ValueError(f"entry {entry.index}: payload of {length} bytes is too large")
        if not 0 <= entry.kind <= 255:
            raise ValueError(f"entry {entry.index}: kind {entry.kind} is not in 0..255")
        prefix = pack_prefix(REC_MAGIC, REC_VERSION, entry.kind, length, entry.term, entry.index)
        prefix_crc = crc32(prefix)
        crc_bytes = pack_u32(crc32(data, prefix_crc))
        parts += (prefix, crc_bytes, pack_u32(crc32(crc_bytes, prefix_crc)), data)
        sizes.append(REC_HEADER_SIZE + length)
    return b"".join(parts), sizes


def decode_record(buf: Buffer, offset: int) -> RecordHead | str:
    """Verify the record at ``offset`` of ``buf``; its header or a reason string."""
    view = memoryview(buf)
    end_of_header = offset + REC_HEADER_SIZE
    if len(view) < end_of_header:
        return "incomplete record header"
    magic, version, kind, length, term, index, crc, hcrc = _REC.unpack_from(view, offset)
    if magic != REC_MAGIC:
        return "bad record magic"
    if zlib.crc32(view[offset : offset + _HCRC_SPAN]) != hcrc:
        return "record header checksum mismatch"
    if version != REC_VERSION:
        # a verified header of another version is a record we cannot read, not a torn write
        raise UnsupportedFormatError(unsupported_format("log record", version, REC_VERSION))
    end = end_of_header + length
    if end > len(view):
        return "incomplete record payload"
    prefix_crc = zlib.crc32(view[offset : offset + _PREFIX_SIZE])
    if zlib.crc32(view[end_of_header:end], prefix_crc) != crc:
        return "record checksum mismatch"
    return RecordHead(term, index, length, kind)


def check_record(view: memoryview, offset: int) -> tuple[int, int, int, int] | None:
    """`decode_record`'s checks, cheaper (no RecordHead, no new view of the whole buffer:
    a restart verifies every record of the log): ``(term, index, length, kind)`` of the
    record at ``offset`` of ``view``, or None when `decode_record` would not return a
    RecordHead (call it for the reason)."""
    start = offset + REC_HEADER_SIZE
    if start > len(view):
        return None
    magic, version, kind, length, term, index, crc, hcrc = _REC.unpack_from(view, offset)
    end = start + length
    if magic != REC_MAGIC or version != REC_VERSION or end > len(view):
        return None
    prefix_crc = zlib.crc32(view[offset : offset + _PREFIX_SIZE])
    if zlib.crc32(view[offset + _PREFIX_SIZE : offset + _HCRC_SPAN], prefix_crc) != hcrc:
        return None
    if zlib.crc32(view[start:end], prefix_crc) != crc:
        return None
    return term, index, length, kind


def verified_record_end(buf: Buffer, offset: int) -> int | None:
    """If the record header at ``offset`` verifies (magic and header checksum), the
    offset just past its payload (possibly beyond the buffer); otherwise None."""
    view = memoryview(buf)
    if len(view) < offset + REC_HEADER_SIZE:
        return None
    magic, _version, _kind, length, _term, _index, _crc, hcrc = _REC.unpack_from(view, offset)
    if magic != REC_MAGIC or zlib.crc32(view[offset : offset + _HCRC_SPAN]) != hcrc:
        return None
    return int(offset + REC_HEADER_SIZE + length)


def find_valid_record(buf: bytes, start: int, min_index: int) -> int | None:
    """Offset of the first valid record at or after ``start`` whose index is at least
    ``min_index``, or None. Used to tell a torn tail from damage in the middle."""
    pos = start
    while True:
        pos = buf.find(REC_MAGIC, pos)
        if pos < 0:
            return None
        head = decode_record(buf, pos)
        if isinstance(head, RecordHead) and head.index >= min_index:
            return pos
        pos += 1
