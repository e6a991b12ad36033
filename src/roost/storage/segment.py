"""One write-ahead log segment file: scanning on open, appends, reads, truncation.

A segment keeps an in-memory index (record offset and term per entry); payloads stay on
disk and are read back with ``os.pread``.
"""

from __future__ import annotations

import logging
import os
import re
from array import array
from pathlib import Path

from roost.storage.errors import CorruptLogError, StorageError, UnsupportedFormatError
from roost.storage.fsutil import write_all
from roost.storage.records import (
    REC_HEADER_SIZE,
    SEG_HEADER_SIZE,
    Entry,
    check_record,
    decode_record,
    decode_segment_header,
    encode_segment_header,
    find_valid_record,
    verified_record_end,
)

log = logging.getLogger("roost.storage")

_NAME = re.compile(r"^log-(\d{20})\.wal$")


def segment_name(first_index: int) -> str:
    return f"log-{first_index:020d}.wal"


def parse_segment_name(name: str) -> int | None:
    """The first index encoded in a segment file name, or None if it is not one."""
    match = _NAME.match(name)
    return int(match.group(1)) if match else None


def _pread_all(fd: int, size: int, offset: int, path: Path) -> bytes:
    chunks: list[bytes] = []
    while size > 0:
        chunk = os.pread(fd, size, offset)
        if not chunk:
            raise CorruptLogError(f"{path}: offset {offset}: file ends {size} bytes early")
        chunks.append(chunk)
        size -= len(chunk)
        offset += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class Segment:
    """An open segment file with the offsets and terms of its entries."""

    __slots__ = ("fd", "first_index", "offsets", "path", "prev_term", "size", "terms")

    def __init__(self, path: Path, fd: int, first_index: int, prev_term: int) -> None:
        self.path = path
        self.fd = fd
        self.first_index = first_index
        self.prev_term = prev_term
        self.offsets: array[int] = array("Q")
        self.terms: array[int] = array("Q")
        self.size = SEG_HEADER_SIZE

    @property
    def count(self) -> int:
        return len(self.offsets)

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.offsets) - 1

    @property
    def last_term(self) -> int:
        return self.terms[-1] if self.terms else self.prev_term

    def term_at(self, index: int) -> int:
        """Term of ``index`` for first_index - 1 <= index <= last_index."""
        if index == self.first_index - 1:
            return self.prev_term
        return self.terms[index - self.first_index]

    def offset_of(self, index: int) -> int:
        """Byte offset of entry ``index``; ``last_index + 1`` maps to the end."""
        pos = index - self.first_index
        return self.offsets[pos] if pos < len(self.offsets) else self.size

    def append(self, blob: bytes, sizes: list[int], terms: list[int]) -> None:
        """Write pre-encoded records (one pwrite) and index them."""
        try:
            write_all(self.fd, blob, self.size)
        except OSError as exc:
            raise StorageError(f"{self.path}: write at offset {self.size} failed: {exc}") from exc
        offset = self.size
        offsets = self.offsets
        for size in sizes:
            offsets.append(offset)
            offset += size
        self.terms.extend(terms)
        self.size = offset

    def read(self, lo: int, hi: int) -> list[Entry]:
        """Entries [lo, hi), which must lie inside this segment, checksums verified."""
        start = self.offset_of(lo)
        buf = _pread_all(self.fd, self.offset_of(hi) - start, start, self.path)
        out: list[Entry] = []
        view = memoryview(buf)
        pos = 0
        for index in range(lo, hi):
            found = check_record(view, pos)
            if found is None or found[1] != index:
                head = decode_record(buf, pos)
                reason = head if isinstance(head, str) else f"index {head.index} != {index}"
                raise CorruptLogError(f"{self.path}: offset {start + pos}: {reason} on read")
            term, _index, length, kind = found
            body = pos + REC_HEADER_SIZE
            out.append(Entry(term, index, buf[body : body + length], kind))
            pos = body + length
        return out

    def truncate_from(self, index: int) -> None:
        """Drop entries >= ``index`` (first_index <= index <= last_index + 1)."""
        offset = self.offset_of(index)
        keep = index - self.first_index
        try:
            os.ftruncate(self.fd, offset)
        except OSError as exc:
            raise StorageError(f"{self.path}: truncate to offset {offset} failed: {exc}") from exc
        del self.offsets[keep:]
        del self.terms[keep:]
        self.size = offset

    def sync(self) -> None:
        try:
            os.fdatasync(self.fd)
        except OSError as exc:
            raise StorageError(f"{self.path}: fsync failed: {exc}") from exc

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def create_segment(directory: Path, first_index: int, prev_term: int) -> Segment:
    """Create a new segment file holding only its header, fsynced (the caller fsyncs
    the directory)."""
    path = directory / segment_name(first_index)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as exc:
        raise StorageError(f"{path}: cannot create segment: {exc}") from exc
    segment = Segment(path, fd, first_index, prev_term)
    try:
        write_all(fd, encode_segment_header(first_index, prev_term), 0)
    except OSError as exc:
        segment.close()
        raise StorageError(f"{path}: cannot write segment header: {exc}") from exc
    segment.sync()
    return segment


def open_segment(path: Path, is_last: bool) -> Segment | None:
    """Open and verify a segment file, repairing a torn tail if it is the last one.

    Returns None when the last segment holds only a torn header (the caller removes it).
    Raises CorruptLogError for any other damage.
    """
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError as exc:
        raise StorageError(f"{path}: cannot open segment: {exc}") from exc
    try:
        return _scan(path, fd, is_last)
    except UnsupportedFormatError as exc:
        os.close(fd)
        raise UnsupportedFormatError(f"{path}: {exc}") from None
    except BaseException:
        os.close(fd)
        raise


def _scan(path: Path, fd: int, is_last: bool) -> Segment | None:
    data = _pread_all(fd, os.fstat(fd).st_size, 0, path)
    head = decode_segment_header(data)
    if isinstance(head, str):
        if is_last and len(data) <= SEG_HEADER_SIZE:
            log.warning("%s: offset 0: %s; removing torn segment", path, head)
            os.close(fd)
            return None
        raise CorruptLogError(f"{path}: offset 0: {head}")
    if parse_segment_name(path.name) != head.first_index:
        raise CorruptLogError(f"{path}: offset 0: header says first index {head.first_index}")
    segment = Segment(path, fd, head.first_index, head.prev_term)
    offset, reason = _index_records(segment, data)
    if reason is not None:
        _handle_bad_record(segment, data, offset, reason, is_last)
    return segment


def _index_records(segment: Segment, data: bytes) -> tuple[int, str | None]:
    """Index valid records from the header on; the offset where that stops and why."""
    offset = SEG_HEADER_SIZE
    expected = segment.first_index
    last_term = segment.prev_term
    offsets, terms = segment.offsets, segment.terms
    view, size = memoryview(data), len(data)
    while offset < size:
        found = check_record(view, offset)
        if found is None:
            head = decode_record(data, offset)  # why (or an unsupported version error)
            segment.size = offset
            return offset, head if isinstance(head, str) else "record failed verification"
        term, index, length, _kind = found
        if index != expected:
            raise CorruptLogError(
                f"{segment.path}: offset {offset}: record index {index}, expected {expected}"
            )
        if term < last_term:
            raise CorruptLogError(
                f"{segment.path}: offset {offset}: term {term} < previous term {last_term}"
            )
        offsets.append(offset)
        terms.append(term)
        last_term = term
        expected += 1
        offset += REC_HEADER_SIZE + length
    segment.size = offset
    return offset, None


def _handle_bad_record(
    segment: Segment, data: bytes, offset: int, reason: str, is_last: bool
) -> None:
    path = segment.path
    if not is_last:
        raise CorruptLogError(f"{path}: offset {offset}: {reason} (in a segment that is not last)")
    later = _later_valid_record(data, offset, segment.last_index + 1)
    if later is not None:
        raise CorruptLogError(
            f"{path}: offset {offset}: {reason}; a valid record follows at offset {later}"
        )
    log.warning(
        "%s: offset %d: %s; truncating torn tail of %d bytes",
        path,
        offset,
        reason,
        len(data) - offset,
    )
    segment.truncate_from(segment.last_index + 1)
    segment.sync()


def _later_valid_record(data: bytes, offset: int, min_index: int) -> int | None:
    """Offset of a valid record after the bad one at ``offset``, or None.

    When the bad record's header verifies, its length is trusted: a payload running past
    the end of the file is a plain torn write, and otherwise the search starts after the
    payload (so bytes inside a payload are never mistaken for a record).
    """
    end = verified_record_end(data, offset)
    if end is None:
        return find_valid_record(data, offset + 1, min_index)
    if end >= len(data):
        return None
    return find_valid_record(data, end, min_index)
