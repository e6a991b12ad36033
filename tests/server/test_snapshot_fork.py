"""Standalone servers and ensemble members write their periodic snapshots through the one
forked-writer path (`roost.server.snapfork`: no cyclic collector, dies with the server)."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient

from roost.replica.member import Member
from roost.server import replicated, snapfork, standalone
from roost.testing.server import RoostServer, free_port
from roost.testing.wait import wait_until


@pytest.mark.parametrize("kind", ["standalone", "ensemble"])
def test_background_snapshots_use_the_forked_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    forked: list[int] = []

    def spy(write: Callable[[], object]) -> int:
        pid = snapfork.fork_writer(write)
        forked.append(pid)
        return pid

    monkeypatch.setattr(standalone if kind == "standalone" else replicated, "fork_writer", spy)
    port = free_port()
    extra: dict[str, Any] = {}
    if kind == "ensemble":
        extra = {"server_id": 1, "members": (Member(1, "127.0.0.1", port, free_port()),),
                 "peer_secret": "s"}
    srv = RoostServer(data_dir=tmp_path / "d", port=port, snapshot_every=10, **extra).start()
    try:
        c = KazooClient(hosts=srv.hosts, timeout=10)
        c.start(timeout=30)
        for i in range(40):
            c.create(f"/n{i}")
        c.stop()
        c.close()
        wait_until(lambda: forked, 20, what="the snapshot to start")
    finally:
        srv.stop()
    assert list((tmp_path / "d").rglob("*snap*")), "a snapshot file was written"


@contextlib.contextmanager
def writing_child() -> Iterator[None]:
    """A forked snapshot writer that is alive (writing) for the whole block, then ends."""
    read_end, write_end = os.pipe()
    ready_read, ready_write = os.pipe()

    def write() -> None:  # says it is writing, then waits until told to end
        os.write(ready_write, b"r")
        os.read(read_end, 1)

    pid = snapfork.fork_writer(write)
    try:
        assert os.read(ready_read, 1) == b"r"
        yield
    finally:
        os.write(write_end, b"x")
        os.waitpid(pid, 0)
        for fd in (read_end, write_end, ready_read, ready_write):
            os.close(fd)


def test_a_live_snapshot_child_does_not_keep_data_directories_locked(tmp_path: Path) -> None:
    """The child shares the parent's lock files; while it writes, a member that closed its
    data directory (or another member of the same process) can take the lock again."""
    from roost.storage import DataDir

    first = DataDir.open(tmp_path / "a")
    other = DataDir.open(tmp_path / "b")
    try:
        with writing_child():
            first.close()
            again = DataDir.open(tmp_path / "a")  # refused while the child held a copy
            again.close()
    finally:
        other.close()


def test_a_live_snapshot_child_holds_no_socket_of_the_parent() -> None:
    """While the child writes, a stopped member's port can be bound again (an ensemble
    member restarted on its port in tests/verify/test_storage_faults.py once failed with
    "address already in use"), and a connection the parent closes is closed for its peer."""
    port = free_port()
    listener = socket.create_server(("127.0.0.1", port))
    client = socket.create_connection(("127.0.0.1", port))
    served, _ = listener.accept()
    try:
        with writing_child():
            listener.close()
            served.close()
            client.settimeout(5)
            assert client.recv(1) == b""  # the close reached the peer: no copy kept it open
            again = socket.create_server(("127.0.0.1", port))  # refused while a copy listened
            again.close()
    finally:
        client.close()


def test_no_lock_is_taken_or_released_while_the_process_forks(tmp_path: Path) -> None:
    """A thread forking between another thread's open of a lock file and its registration
    would give the child a lock descriptor it cannot drop (it would hold that data
    directory locked while it writes). fork_writer forks inside `no_lock_changes`, which a
    DataDir's open and close wait for."""
    import threading

    from roost.storage import DataDir
    from roost.storage.datadir import no_lock_changes

    opened: list[DataDir] = []
    with no_lock_changes():
        opener = threading.Thread(target=lambda: opened.append(DataDir.open(tmp_path / "d")))
        opener.start()
        opener.join(0.3)  # a negative check: the open must still be waiting
        assert opener.is_alive() and not opened, "a lock was taken while forks are held off"
    opener.join(10)
    assert len(opened) == 1
    opened[0].close()
