"""A server's data directory: lock file, write-ahead log, snapshots and hard state.

Layout::

    <path>/LOCK     exclusive fcntl.flock held while open (holds the owner's pid)
    <path>/state    hard state (see hardstate.py)
    <path>/log/     write-ahead log segments (see wal.py)
    <path>/snap/    snapshots (see snapshots.py)
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from roost.storage.errors import DataDirLockedError, StorageError
from roost.storage.fsutil import fsync_dir, remove_tmp_files, write_all
from roost.storage.hardstate import HardStateFile
from roost.storage.snapshots import SnapshotMeta, SnapshotStore
from roost.storage.wal import DEFAULT_SEGMENT_SIZE, WriteAheadLog

LOCK_NAME = "LOCK"

#: the lock descriptors this process holds (a forked child drops its copies of them)
_lock_fds: set[int] = set()
#: held while a lock descriptor is opened or closed and while the process forks, so a
#: child never inherits a lock descriptor missing from `_lock_fds` (one it could not drop:
#: a thread forking between another thread's open and its registration)
_lock_fds_guard = threading.Lock()


@contextlib.contextmanager
def no_lock_changes() -> Iterator[None]:
    """Fork inside this: no data-directory lock is taken or released meanwhile."""
    with _lock_fds_guard:
        yield


def drop_inherited_locks() -> None:
    """In a forked child: close this process's copies of every data-directory lock.

    A flock belongs to the open file, which the child shares, so while a child (a snapshot
    writer) lives the lock would outlive its owner's close(); in a process that hosts
    several members it would also hold the other members' locks. Closing the copies (never
    LOCK_UN, which would release the parent's lock too) leaves the locks to their owners."""
    for fd in list(_lock_fds):
        with contextlib.suppress(OSError):
            os.close(fd)
    _lock_fds.clear()


def _take_lock(path: Path) -> int:
    with _lock_fds_guard:
        return _take_lock_unguarded(path)


def _take_lock_unguarded(path: Path) -> int:
    lock_path = path / LOCK_NAME
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StorageError(f"{lock_path}: cannot open lock file: {exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise DataDirLockedError(
            f"{path}: data directory is already in use by another roost server "
            f"(lock file {lock_path}, held by pid {holder})"
        ) from None
    except OSError as exc:
        os.close(fd)
        raise StorageError(f"{lock_path}: cannot lock: {exc}") from exc
    os.ftruncate(fd, 0)
    write_all(fd, f"{os.getpid()}\n".encode(), 0)
    _lock_fds.add(fd)
    return fd


def _release_lock(fd: int) -> None:
    with _lock_fds_guard:
        _lock_fds.discard(fd)
        os.close(fd)


class DataDir:
    """Owns the data directory while open; use :meth:`open`, then :meth:`close`."""

    def __init__(
        self,
        path: Path,
        lock_fd: int,
        wal: WriteAheadLog,
        snapshots: SnapshotStore,
        hardstate: HardStateFile,
    ) -> None:
        self.path = path
        self.wal = wal
        self.snapshots = snapshots
        self.hardstate = hardstate
        self._lock_fd = lock_fd

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, segment_size: int = DEFAULT_SEGMENT_SIZE
    ) -> DataDir:
        """Create the layout if needed, take the lock and recover the log.

        Raises DataDirLockedError if another DataDir (in any process) has it open.
        """
        root = Path(path)
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"{root}: cannot create data directory: {exc}") from exc
        lock_fd = _take_lock(root)
        try:
            remove_tmp_files(root)
            snapshots = SnapshotStore(root / "snap")
            wal = WriteAheadLog.open(root / "log", segment_size=segment_size)
            fsync_dir(root)
        except BaseException:
            _release_lock(lock_fd)
            raise
        return cls(root, lock_fd, wal, snapshots, HardStateFile(root / "state"))

    def align_log(self, snapshot: SnapshotMeta) -> bool:
        """Make the log continue from ``snapshot``; True if the log had to be reset.

        Keeps the log when it holds the snapshot's (index, term); otherwise (the log ends
        before the snapshot, or disagrees on its term) restarts the log right after it.
        A log compacted past the snapshot has lost entries: that raises StorageError.
        """
        wal = self.wal
        compacted_index, _ = wal.compacted
        if compacted_index > snapshot.index:
            raise StorageError(
                f"{wal.directory}: log is compacted up to {compacted_index}, past the newest "
                f"snapshot {snapshot.path} at index {snapshot.index}; entries are missing"
            )
        if snapshot.index <= wal.last_index and wal.term_at(snapshot.index) == snapshot.term:
            return False
        wal.reset(snapshot.index, snapshot.term)
        return True

    def close(self) -> None:
        """Close the log (syncing it) and release the lock. Idempotent."""
        if self._lock_fd < 0:
            return
        try:
            self.wal.close()
        finally:
            _release_lock(self._lock_fd)
            self._lock_fd = -1

    def __enter__(self) -> DataDir:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
