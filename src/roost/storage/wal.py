"""The write-ahead log: a directory of segment files that is also the raft log.

Layout: ``<dir>/log-<first index, 20 digits>.wal``; see :mod:`roost.storage.records` for
the byte format. The log keeps an in-memory index (offset and term of every entry);
payloads are read back from disk on demand with ``pread``.

Durability contract: ``append`` writes into the OS page cache (one ``pwrite`` per call);
an entry is durable once a later ``sync()`` returns. ``truncate_after``, ``compact`` and
``reset`` are durable when they return. Group commit is the caller's job: append many
entries, then call ``sync()`` once.

Thread safety: every method may be called from any thread. One internal lock guards the
state; ``sync()`` does its fsync outside that lock, so readers are not blocked by it.
After any I/O error the log refuses further use (raises :class:`LogClosedError`) and cuts
the active segment back to what is known to be on disk (a failed fsync is never retried):
the node must stop acknowledging, since what is on disk is then unknown.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import ParamSpec, TypeVar

from roost.storage.errors import (
    CompactedError,
    CorruptLogError,
    LogClosedError,
    LogGapError,
    StorageError,
    UnavailableError,
)
from roost.storage.fsutil import fsync_dir, remove_tmp_files
from roost.storage.records import Entry, encode_entries
from roost.storage.segment import Segment, create_segment, open_segment, parse_segment_name

log = logging.getLogger("roost.storage")

DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024

P = ParamSpec("P")
T = TypeVar("T")


def _first_index_of(segment: Segment) -> int:
    return segment.first_index


class WriteAheadLog:
    """Append-only, segmented, checksummed log of :class:`Entry` records."""

    def __init__(self, directory: Path, segments: list[Segment], segment_size: int) -> None:
        if not segments:
            raise ValueError("a log needs at least one segment")
        self._dir = directory
        self._segments = segments
        self._segment_size = segment_size
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._dirty = False
        self._dir_dirty = False
        self._closed = False
        self._failure: StorageError | None = None
        #: bytes of the active segment known to be on disk (synced, or found at open)
        self._durable_size = segments[-1].size
        # TEST-ONLY fault hooks for the fault harness (never set these in production):
        # ROOST_TEST_FSYNC_DELAY_MS slows every sync; ROOST_TEST_ENOSPC_AFTER_BYTES makes an
        # append fail with ENOSPC once this log has been given that many bytes;
        # ROOST_TEST_FSYNC_EIO_AFTER makes every sync after that many fail with EIO.
        self._test_fsync_eio = int(os.environ.get("ROOST_TEST_FSYNC_EIO_AFTER", "-1"))
        self._test_fsync_delay = int(os.environ.get("ROOST_TEST_FSYNC_DELAY_MS", "0")) / 1000
        self._test_space = int(os.environ.get("ROOST_TEST_ENOSPC_AFTER_BYTES", "-1"))

    # ----------------------------------------------------------------- opening

    @classmethod
    def open(
        cls, directory: str | os.PathLike[str], *, segment_size: int = DEFAULT_SEGMENT_SIZE
    ) -> WriteAheadLog:
        """Open (creating if needed) the log in ``directory`` and recover it.

        A torn tail of the last segment is truncated with a WARNING; any other damage,
        or a gap between segments, raises :class:`CorruptLogError`.
        """
        if segment_size < 1:
            raise ValueError("segment_size must be positive")
        path = Path(directory)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"{path}: cannot create log directory: {exc}") from exc
        remove_tmp_files(path)
        segments = _open_segments(path)
        if not segments:
            segments.append(create_segment(path, 1, 0))
            fsync_dir(path)
        return cls(path, segments, segment_size)

    # -------------------------------------------------------------- properties

    @property
    def directory(self) -> Path:
        return self._dir

    @property
    def first_index(self) -> int:
        """Index of the first entry held (``last_index + 1`` when the log is empty)."""
        return self._segments[0].first_index

    @property
    def last_index(self) -> int:
        """Index of the last entry appended (synced or not); first_index - 1 if none."""
        return self._segments[-1].last_index

    @property
    def last_term(self) -> int:
        return self._segments[-1].last_term

    @property
    def compacted(self) -> tuple[int, int]:
        """(index, term) of the entry just before ``first_index``: the compaction point."""
        first = self._segments[0]
        return first.first_index - 1, first.prev_term

    @property
    def segment_paths(self) -> list[Path]:
        with self._lock:
            return [segment.path for segment in self._segments]

    # ------------------------------------------------------------------- reads

    def term_at(self, index: int) -> int:
        """Term of entry ``index``; valid for first_index - 1 <= index <= last_index."""
        with self._lock:
            self._check_usable()
            self._check_range(index, index)
            return self._segment_for(index).term_at(index)

    def entries(self, lo: int, hi: int, max_bytes: int | None = None) -> list[Entry]:
        """Entries with lo <= index < hi, read from disk with checksums verified.

        With ``max_bytes``, stop before the total record size would exceed it (always
        returning at least one entry when lo < hi).
        """
        with self._lock:
            self._check_usable()
            if lo > hi:
                raise ValueError(f"entries: lo {lo} > hi {hi}")
            if lo < self.first_index:
                raise CompactedError(
                    f"{self._dir}: entries from {lo}: compacted (first index {self.first_index})"
                )
            self._check_range(lo - 1, hi - 1)
            if max_bytes is not None:
                hi = self._limit(lo, hi, max_bytes)
            out: list[Entry] = []
            k = self._segment_position(lo)
            while lo < hi:
                segment = self._segments[k]
                end = min(hi, segment.last_index + 1)
                if end > lo:
                    out.extend(self._guard(segment.read, lo, end))
                    lo = end
                k += 1
            return out

    # ------------------------------------------------------------------ writes

    def append(self, entries: Sequence[Entry]) -> None:
        """Append contiguous entries starting at ``last_index + 1`` (not yet durable)."""
        if not entries:
            return
        with self._lock:
            self._check_usable()
            self._validate(entries)
            blob, sizes = encode_entries(entries)
            active = self._segments[-1]
            if active.count and active.size + len(blob) > self._segment_size:
                active = self._guard(self._roll)
            if self._test_space >= 0:
                self._guard(self._test_use_space, len(blob))
            self._guard(active.append, blob, sizes, [entry.term for entry in entries])
            self._dirty = True

    def sync(self) -> None:
        """Make every entry appended so far durable (fdatasync; directory fsync too if a
        segment was created since the last sync)."""
        with self._sync_lock:
            with self._lock:
                self._check_usable()
                if not self._dirty and not self._dir_dirty:
                    return
                active = self._segments[-1]
                size = active.size
                fd = os.dup(active.fd)
                need_dir = self._dir_dirty
                self._dirty = self._dir_dirty = False
            try:
                if need_dir:
                    fsync_dir(self._dir)
                if self._test_fsync_delay:
                    time.sleep(self._test_fsync_delay)
                if self._test_fsync_eio >= 0:
                    if self._test_fsync_eio == 0:
                        raise OSError(errno.EIO, "Input/output error (test hook)")
                    self._test_fsync_eio -= 1
                os.fdatasync(fd)
            except (OSError, StorageError) as exc:
                failure = StorageError(f"{active.path}: fsync failed: {exc}")
                with self._lock:
                    self._fail(failure, self._durable_size)
                raise failure from exc
            finally:
                os.close(fd)
            with self._lock:
                if self._segments[-1] is active:
                    self._durable_size = max(self._durable_size, size)

    def truncate_after(self, index: int) -> None:
        """Drop every entry after ``index`` (raft conflict resolution); durable on return."""
        with self._lock:
            self._check_usable()
            if index >= self.last_index:
                return
            if index < self.first_index - 1:
                raise CompactedError(
                    f"{self._dir}: cannot truncate after {index}: compacted up to "
                    f"{self.first_index - 1}"
                )
            self._guard(self._truncate, index)

    def compact(self, up_to_index: int) -> None:
        """Delete whole segments whose entries are all <= ``up_to_index``.

        ``first_index`` becomes the first index of the oldest kept segment, so it may
        stay below ``up_to_index + 1``; ``compacted`` still answers the term of
        ``first_index - 1``. Compacting up to ``last_index`` starts a fresh segment so
        that everything can go. Durable on return.
        """
        with self._lock:
            self._check_usable()
            if up_to_index > self.last_index:
                raise UnavailableError(
                    f"{self._dir}: cannot compact up to {up_to_index}: last index is "
                    f"{self.last_index}"
                )
            if up_to_index < self.first_index:
                return
            self._guard(self._compact, up_to_index)

    def reset(self, index: int, term: int) -> None:
        """Discard the whole log and restart it after (index, term), e.g. when a
        snapshot at that point is installed. Durable on return.

        Segments are deleted newest first, so a crash part-way leaves a prefix of the old
        log (or an empty log); the host must re-check the log against its snapshot on
        start-up (see ``DataDir.align_log``).
        """
        if index < 0 or term < 0:
            raise ValueError(f"reset: negative index {index} or term {term}")
        with self._lock:
            self._check_usable()
            self._guard(self._reset, index, term)

    def close(self) -> None:
        """Sync (unless the log failed) and close every segment. Idempotent."""
        if self._closed:
            return
        try:
            if self._failure is None:
                self.sync()
        finally:
            with self._lock:
                for segment in self._segments:
                    segment.close()
                self._closed = True

    def __enter__(self) -> WriteAheadLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"WriteAheadLog({str(self._dir)!r}, first={self.first_index}, "
            f"last={self.last_index}, segments={len(self._segments)})"
        )

    # --------------------------------------------------------------- internals

    def _test_use_space(self, size: int) -> None:
        """The ROOST_TEST_ENOSPC_AFTER_BYTES hook: a full disk after that many bytes."""
        if size > self._test_space:
            self._test_space = 0
            raise OSError(errno.ENOSPC, "No space left on device (test hook)")
        self._test_space -= size

    def _check_usable(self) -> None:
        if self._failure is not None:
            raise LogClosedError(f"{self._dir}: log unusable after an earlier error") from (
                self._failure
            )
        if self._closed:
            raise LogClosedError(f"{self._dir}: log is closed")

    def _guard(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run an I/O step; any I/O or storage error makes the log unusable."""
        try:
            return func(*args, **kwargs)
        except StorageError as exc:
            self._fail(exc, self._segments[-1].size)
            raise
        except OSError as exc:
            failure = StorageError(f"{self._dir}: I/O error: {exc}")
            self._fail(failure, self._segments[-1].size)
            raise failure from exc

    def _fail(self, failure: StorageError, keep: int) -> None:
        """Make the log unusable, and cut the active segment back to its first `keep` bytes:
        those before a failed write, or those synced before a failed fsync. After a failed
        write or fsync the kernel may hold bytes in its page cache that never reach the disk
        (and it will not write them again): a later read, in this process or the next one,
        must not take them for stored entries. None of them was acknowledged. Best effort:
        on a read-only or failing disk the cut may fail too (logged)."""
        if self._failure is not None:
            return
        self._failure = failure
        active = self._segments[-1]
        try:
            if active.fd < 0 or os.fstat(active.fd).st_size <= keep:
                return
            os.ftruncate(active.fd, keep)
        except OSError as exc:
            log.error(
                "%s: cannot cut the tail not known to be on disk back to %d bytes (%s): fix "
                "the disk before restarting",
                active.path,
                keep,
                exc,
            )
            return
        log.warning(
            "%s: cut back to %d bytes: the rest is not known to be on disk (never "
            "acknowledged)",
            active.path,
            keep,
        )
        try:
            os.fdatasync(active.fd)
        except OSError as exc:
            log.error("%s: the cut could not be synced (%s)", active.path, exc)

    def _check_range(self, lo: int, hi: int) -> None:
        """Check first_index - 1 <= lo and hi <= last_index."""
        if lo < self.first_index - 1:
            raise CompactedError(
                f"{self._dir}: index {lo} is compacted (first index {self.first_index})"
            )
        if hi > self.last_index:
            raise UnavailableError(
                f"{self._dir}: index {hi} is after the last index {self.last_index}"
            )

    def _segment_position(self, index: int) -> int:
        """Position of the last segment whose first index is <= index (0 at least)."""
        segments = self._segments
        if index >= segments[-1].first_index:
            return len(segments) - 1
        return max(0, bisect_right(segments, index, key=_first_index_of) - 1)

    def _segment_for(self, index: int) -> Segment:
        return self._segments[self._segment_position(index)]

    def _limit(self, lo: int, hi: int, max_bytes: int) -> int:
        """The largest end <= hi such that entries [lo, end) fit in max_bytes (>= lo+1)."""
        total = 0
        index = lo
        k = self._segment_position(lo)
        while index < hi:
            segment = self._segments[k]
            stop = min(hi, segment.last_index + 1)
            while index < stop:
                total += segment.offset_of(index + 1) - segment.offset_of(index)
                if total > max_bytes and index > lo:
                    return index
                index += 1
            k += 1
        return hi

    def _validate(self, entries: Sequence[Entry]) -> None:
        expected = self.last_index + 1
        term = self.last_term
        for entry in entries:
            if entry.index != expected:
                raise LogGapError(
                    f"{self._dir}: append of index {entry.index}, expected {expected}"
                )
            if entry.term < term:
                raise LogGapError(
                    f"{self._dir}: append of index {entry.index} with term {entry.term} "
                    f"< previous term {term}"
                )
            term = entry.term
            expected += 1

    def _roll(self) -> Segment:
        """Seal the active segment (fsync) and start a new one after it."""
        old = self._segments[-1]
        old.sync()
        new = create_segment(self._dir, old.last_index + 1, old.last_term)
        self._segments.append(new)
        self._dir_dirty = True
        self._durable_size = new.size
        return new

    def _truncate(self, index: int) -> None:
        k = self._segment_position(index + 1)
        doomed = self._segments[k + 1 :]
        for segment in reversed(doomed):
            segment.close()
            segment.path.unlink()
        del self._segments[k + 1 :]
        if doomed:
            fsync_dir(self._dir)
            self._dir_dirty = False
        segment = self._segments[k]
        segment.truncate_from(index + 1)
        segment.sync()
        self._dirty = False
        self._durable_size = self._segments[-1].size

    def _compact(self, up_to_index: int) -> None:
        if self._segments[-1].count and self.last_index <= up_to_index:
            self._roll()
        doomed = 0
        for segment in self._segments[:-1]:
            if segment.last_index > up_to_index:
                break
            doomed += 1
        for segment in self._segments[:doomed]:
            segment.close()
            segment.path.unlink()
        del self._segments[:doomed]
        if doomed or self._dir_dirty:
            fsync_dir(self._dir)
            self._dir_dirty = False

    def _reset(self, index: int, term: int) -> None:
        for segment in reversed(self._segments):
            segment.close()
            segment.path.unlink()
        fsync_dir(self._dir)
        fresh = create_segment(self._dir, index + 1, term)
        fsync_dir(self._dir)
        self._segments = [fresh]  # one assignment: lock-free property readers never see []
        self._dirty = self._dir_dirty = False
        self._durable_size = fresh.size


def _open_segments(directory: Path) -> list[Segment]:
    """Open every segment in index order, checking that they join up."""
    found: list[tuple[int, Path]] = []
    for path in directory.iterdir():
        first = parse_segment_name(path.name)
        if first is not None:
            found.append((first, path))
    found.sort()
    segments: list[Segment] = []
    try:
        for position, (_, path) in enumerate(found):
            segment = open_segment(path, is_last=position == len(found) - 1)
            if segment is None:
                path.unlink()
                fsync_dir(directory)
                continue
            if segments:
                _check_join(segments[-1], segment)
            segments.append(segment)
    except BaseException:
        for segment in segments:
            segment.close()
        raise
    return segments


def _check_join(prev: Segment, segment: Segment) -> None:
    if segment.first_index != prev.last_index + 1:
        segment.close()
        raise CorruptLogError(
            f"{segment.path}: offset 0: first index {segment.first_index} does not follow "
            f"last index {prev.last_index} of {prev.path.name} (gap or overlap)"
        )
    if segment.prev_term != prev.last_term:
        segment.close()
        raise CorruptLogError(
            f"{segment.path}: offset 0: previous term {segment.prev_term} does not match "
            f"term {prev.last_term} of index {prev.last_index} in {prev.path.name}"
        )
