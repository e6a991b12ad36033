"""roost.storage: the only package that writes durable files.

Blocking file I/O, meant to be called from a worker thread (no asyncio here):

- :class:`WriteAheadLog` (wal.py): segmented, checksummed raft log with torn-tail
  recovery; :class:`Entry` is one record.
- :class:`HardStateFile` / :class:`HardState` (hardstate.py): term, vote, commit.
- :class:`SnapshotStore` (snapshots.py): checksummed snapshot files.
- :class:`DataDir` (datadir.py): the locked data directory tying them together.

Every error is a :class:`StorageError`; see errors.py.
"""

from roost.storage.datadir import DataDir
from roost.storage.errors import (
    CompactedError,
    CorruptLogError,
    CorruptSnapshotError,
    CorruptStateError,
    DataDirLockedError,
    LogClosedError,
    LogGapError,
    LogIndexError,
    StorageError,
    UnavailableError,
    UnsupportedFormatError,
)
from roost.storage.hardstate import HardState, HardStateFile
from roost.storage.records import Entry
from roost.storage.snapshots import SnapshotMeta, SnapshotStore
from roost.storage.wal import DEFAULT_SEGMENT_SIZE, WriteAheadLog

__all__ = [
    "DEFAULT_SEGMENT_SIZE",
    "CompactedError",
    "CorruptLogError",
    "CorruptSnapshotError",
    "CorruptStateError",
    "DataDir",
    "DataDirLockedError",
    "Entry",
    "HardState",
    "HardStateFile",
    "LogClosedError",
    "LogGapError",
    "LogIndexError",
    "SnapshotMeta",
    "SnapshotStore",
    "StorageError",
    "UnavailableError",
    "UnsupportedFormatError",
    "WriteAheadLog",
]
