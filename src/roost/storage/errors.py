"""Errors raised by roost.storage.

Every error is a :class:`StorageError`. Corruption errors name the file and, where it
applies, the byte offset of the bad data. A corruption or I/O error means the node must
stop: the data on disk can no longer be trusted to be what was acknowledged.
"""

from __future__ import annotations


class StorageError(Exception):
    """Base class of every error raised by roost.storage."""


class CorruptLogError(StorageError):
    """A write-ahead log segment holds a bad record that is not a torn tail."""


class CorruptStateError(StorageError):
    """The hard-state file fails its checksum or is malformed."""


class CorruptSnapshotError(StorageError):
    """A snapshot file fails its checksum or is malformed."""


class DataDirLockedError(StorageError):
    """Another process (or another open DataDir) holds the data directory's lock."""


class LogClosedError(StorageError):
    """The log was closed, or an earlier I/O error made it unusable."""


class LogGapError(StorageError, ValueError):
    """Appended entries are not contiguous with the log, or terms go backwards."""


class LogIndexError(StorageError, IndexError):
    """An index outside the range the log holds."""


class CompactedError(LogIndexError):
    """The index was compacted away (it lies before ``first_index - 1``)."""


class UnavailableError(LogIndexError):
    """The index lies after ``last_index``."""
