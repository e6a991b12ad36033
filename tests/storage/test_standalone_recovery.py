"""A standalone server's log at start-up and clean stop: what comes back, and when a stop
writes a snapshot (only when replaying the log tail would cost more than writing one)."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from roost.server import snapfork, standalone
from roost.server.standalone import StandaloneLog
from roost.storage import DataDir
from roost.testing.wait import wait_until
from roost.tree import TreeConfig
from roost.tree.txn import Kind, Txn
from roost.wire.multi import MultiRequest
from roost.wire.opcodes import Op, Perm
from roost.wire.records import ACL, CreateRequest, Id

OPEN = [ACL(int(Perm.ALL), Id("world", "anyone"))]


def create(path: str, data: bytes = b"x") -> Txn:
    body = CreateRequest(path, data, OPEN, 0).to_bytes()
    return Txn(Kind.REQUEST, 0, 1_700_000_000_000, (), int(Op.CREATE), body)


def create_many(paths: Sequence[str]) -> Txn:
    """One multi txn creating every path (a big tree from a short log)."""
    ops = tuple((int(Op.CREATE), CreateRequest(p, b"m", OPEN, 0)) for p in paths)
    body = MultiRequest(ops).to_bytes()
    return Txn(Kind.REQUEST, 0, 1_700_000_000_000, (), int(Op.MULTI), body)


def new_log(dd: DataDir) -> StandaloneLog:
    return StandaloneLog(dd, TreeConfig(), lambda *_: None, fsync=False)


def run(data: Path, txns: Sequence[Txn]) -> tuple[int, int]:
    """Recover, apply `txns`, stop cleanly; (digest, last index) at the stop."""

    async def go() -> tuple[int, int]:
        with DataDir.open(data) as dd:
            lg = new_log(dd)
            lg.recover()
            lg.start()
            errors: list[int] = []
            for txn in txns:
                lg.propose(txn, lambda _zxid, result: errors.append(result.err))
            await lg.close()
            assert errors == [0] * len(txns)
            return lg.tree.digest(), lg.last_index

    return asyncio.run(go())


def recovered(data: Path) -> StandaloneLog:
    with DataDir.open(data) as dd:
        lg = new_log(dd)
        lg.recover()
        return lg


def snapshots(data: Path) -> list[int]:
    with DataDir.open(data) as dd:
        return dd.snapshots.indexes()


def test_small_tree_clean_stop_writes_a_snapshot(tmp_path: Path) -> None:
    digest, last = run(tmp_path, [create(f"/n{i}") for i in range(20)])
    assert snapshots(tmp_path) == [last]
    lg = recovered(tmp_path)
    assert (lg.tree.digest(), lg.last_index, lg.snapshot_index) == (digest, last, last)


def test_big_tree_short_tail_clean_stop_keeps_the_log(tmp_path: Path) -> None:
    # one txn made 300 nodes: replaying it is cheaper than snapshotting them
    digest, last = run(tmp_path, [create_many([f"/m{i}" for i in range(300)])])
    assert snapshots(tmp_path) == []
    lg = recovered(tmp_path)
    assert (lg.tree.digest(), lg.last_index, lg.snapshot_index) == (digest, last, 0)
    assert lg.tree.node_count() == 304


def test_snapshot_then_tail_recovers_both(tmp_path: Path) -> None:
    _, first = run(tmp_path, [create(f"/n{i}") for i in range(12)])
    digest, last = run(tmp_path, [create_many([f"/n0/c{i}" for i in range(200)])])
    assert snapshots(tmp_path) == [first]  # the second stop did not write one
    lg = recovered(tmp_path)
    assert (lg.tree.digest(), lg.last_index, lg.snapshot_index) == (digest, last, first)
    assert lg.tree.children(lg.tree.nodes["/n0"])[:2] == ["c0", "c1"]


def test_replay_reads_the_log_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    digest, last = run(
        tmp_path,
        [create_many([f"/m{i}" for i in range(300)])] + [create(f"/m0/k{i}") for i in range(30)],
    )
    assert snapshots(tmp_path) == []
    monkeypatch.setattr(standalone, "REPLAY_CHUNK_BYTES", 64)  # below one entry: one at a time
    lg = recovered(tmp_path)
    assert (lg.tree.digest(), lg.last_index) == (digest, last)


@pytest.fixture
def unfreeze() -> Iterator[None]:
    before = gc.get_freeze_count()
    yield
    if gc.get_freeze_count() > before:
        gc.unfreeze()


@pytest.mark.usefixtures("unfreeze")
def test_a_large_recovered_tree_is_frozen_and_collection_is_back_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(tmp_path, [create(f"/n{i}") for i in range(20)])
    before = gc.get_freeze_count()
    recovered(tmp_path)
    assert gc.get_freeze_count() == before, "a small tree is left to the collector"
    monkeypatch.setattr(standalone, "FREEZE_NODES", 10)
    lg = recovered(tmp_path)
    assert gc.isenabled()
    assert gc.get_freeze_count() > before
    assert gc.get_freeze_count() - before >= lg.tree.node_count()  # every znode


_ORPHAN = """
import os, sys, time
from roost.server.snapfork import die_with_parent
parent = os.getpid()
if os.fork() == 0:
    die_with_parent(parent)
    print(os.getpid(), flush=True)  # armed
    time.sleep(60)
    os._exit(0)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][0] != "Z"
    except FileNotFoundError:
        return False


def test_snapshot_child_dies_with_a_killed_server() -> None:
    # a snapshot child that outlived a SIGKILLed server would hold the data directory lock
    proc = subprocess.Popen([sys.executable, "-c", _ORPHAN], stdout=subprocess.PIPE, text=True)
    child = 0
    try:
        assert proc.stdout is not None
        child = int(proc.stdout.readline())
        assert _alive(child)
        proc.kill()
        proc.wait()
        wait_until(lambda: not _alive(child), 10, what="the snapshot child to exit")
    finally:
        proc.kill()
        proc.wait()
        if child and _alive(child):
            os.kill(child, signal.SIGKILL)


def test_the_snapshot_child_runs_without_the_cyclic_collector(tmp_path: Path) -> None:
    out = tmp_path / "gc"
    pid = snapfork.fork_writer(lambda: out.write_text(str(gc.isenabled())))
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert out.read_text() == "False"
    assert gc.isenabled()  # the parent's collector is untouched
    pid = snapfork.fork_writer(lambda: 1 / 0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 1
