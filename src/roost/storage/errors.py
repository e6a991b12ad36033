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


class UnsupportedFormatError(StorageError):
    """A file (or record) in a format version this roost does not read, written by a newer
    roost or one too old: refused with a message, never truncated, repaired or misread."""


def unsupported_format(what: str, found: int, supported: int) -> str:
    """The message of an UnsupportedFormatError for a `what` of format version `found`."""
    if found > supported:
        return (
            f"{what} format version {found} was written by a newer roost (this one reads "
            f"version {supported}): run that roost version or a newer one"
        )
    return (
        f"{what} format version {found} is older than this roost reads (version "
        f"{supported}): start it with the roost version that wrote it"
    )


def version_hint(found: int, supported: int) -> str:
    """Added to a corruption message when the unverified version field differs from ours:
    a file that fails its checks may be a newer format laid out differently."""
    if found == supported:
        return ""
    return f" (its format version field says {found}; this roost reads version {supported})"
