"""Small durable-file helpers shared by the storage modules (blocking I/O)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from roost.storage.errors import StorageError

TMP_SUFFIX = ".tmp"


def fsync_dir(path: Path) -> None:
    """fsync a directory so that creations, renames and unlinks in it are durable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise StorageError(f"{path}: cannot open directory to fsync it: {exc}") from exc
    try:
        os.fsync(fd)
    except OSError as exc:
        raise StorageError(f"{path}: fsync of directory failed: {exc}") from exc
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes | memoryview, offset: int) -> None:
    """pwrite ``data`` at ``offset``, looping over short writes."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        if written <= 0:
            raise OSError("pwrite wrote nothing")
        view = view[written:]
        offset += written


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably.

    Writes ``<path>.tmp``, fsyncs it, renames it over ``path`` and fsyncs the directory,
    so a crash leaves either the old contents or the new ones, never a mix.
    A failed write leaves ``path`` as it was and removes the temp file (best effort), so
    that a full disk does not stay fuller for the attempt.
    """
    tmp = path.with_name(path.name + TMP_SUFFIX)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_all(fd, data, 0)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise StorageError(f"{path}: atomic write failed: {exc}") from exc
    fsync_dir(path.parent)


def read_file(path: Path) -> bytes | None:
    """The whole contents of ``path``, or None if it does not exist."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(f"{path}: read failed: {exc}") from exc


def remove_tmp_files(directory: Path) -> list[Path]:
    """Delete leftover ``*.tmp`` files (from a crash during an atomic write)."""
    removed = []
    for tmp in sorted(directory.glob("*" + TMP_SUFFIX)):
        try:
            tmp.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise StorageError(f"{tmp}: cannot remove leftover temp file: {exc}") from exc
        removed.append(tmp)
    return removed
