"""The forked snapshot writer, one path for standalone servers and ensemble members.

A snapshot of a large tree takes seconds to serialize. The server forks: the child writes
its copy-on-write image of the state to the snapshot file and exits, the server goes on at
once and reaps the child later. The child's rules: no event loop, no logging, no locks; no
cyclic collection (a collection would touch, and so copy, every page of the tree); and it
dies with its parent (a child that outlived a SIGKILLed server would keep holding the data
directory's lock; its unfinished snapshot is only a temp file, removed at the next start).
It closes its copies of the data-directory locks and of every socket: a copy of a listening
socket would keep the port bound after its member stopped (a restart on that port fails),
and a copy of a client's connection would keep it open after the server closed it (the
client would not see the close until the child exits).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import signal
from collections.abc import Callable

from roost.storage.datadir import drop_inherited_locks, no_lock_changes

#: prctl option: the signal a process gets when its parent dies (Linux)
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """In a forked child: be killed when the parent dies."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: nothing to do
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before that took effect
        os._exit(1)


def drop_inherited_sockets() -> None:
    """In a forked child: close this process's copies of every socket (close, never
    shutdown: the parent's socket stays as it is)."""
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:  # not Linux: nothing to do
        return
    for name in fds:
        with contextlib.suppress(OSError, ValueError):
            fd = int(name)
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                os.close(fd)


def fork_writer(write: Callable[[], object]) -> int:
    """Fork a child that runs `write` and exits 0 (1 if it raised); returns its pid. Reap it
    with os.waitpid (from a worker thread: it takes as long as the write)."""
    parent = os.getpid()
    with no_lock_changes():  # every lock descriptor the child gets is one it can drop
        pid = os.fork()
    if pid == 0:
        code = 1
        try:
            gc.disable()
            die_with_parent(parent)
            drop_inherited_locks()
            drop_inherited_sockets()
            write()
            code = 0
        finally:
            os._exit(code)
    return pid
