"""A one-member RaftLog with no peers (`solo`): what a standalone server would run if it
were a group of one. It leads at once, opens no peer port, commits on its own fsync, keeps
the group commit (every txn proposed while a batch is written goes into the next one), and
and recovers what it committed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from roost.server.config import ServerConfig
from roost.server.replicated import RaftLog
from roost.storage import DataDir
from roost.tree import TreeConfig
from roost.tree.txn import Kind, Txn, TxnResult
from roost.wire.opcodes import Op, Perm
from roost.wire.records import ACL, CreateRequest, Id

OPEN = [ACL(int(Perm.ALL), Id("world", "anyone"))]


def create(path: str) -> Txn:
    body = CreateRequest(path, b"x", OPEN, 0).to_bytes()
    return Txn(Kind.REQUEST, 0, 1_700_000_000_000, (), int(Op.CREATE), body)


def solo(dd: DataDir, data: Path) -> RaftLog:
    config = ServerConfig(data_dir=data, port=0, fsync=True)
    return RaftLog(dd, config, TreeConfig(), lambda *_: None, solo=True)


async def _leading(lg: RaftLog) -> None:
    for _ in range(500):
        if lg.is_leader and lg.may_expire:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("a solo RaftLog did not lead")


def test_solo_raftlog_commits_alone_in_group_commits_and_recovers(tmp_path: Path) -> None:
    answered: list[tuple[str, int, int]] = []
    #: fsyncs done (since the first batch) when each reply was sent
    synced_at: list[int] = []
    base = [0]  # the log's fsync count before the first batch

    def done(name: str) -> object:
        def answer(zxid: int, result: TxnResult) -> None:
            answered.append((name, zxid, result.err))
            synced_at.append(lg_ref[0].fsync_count - base[0])

        return answer

    lg_ref: list[RaftLog] = []

    async def go() -> tuple[int, int, int]:
        with DataDir.open(tmp_path) as dd:
            lg = solo(dd, tmp_path)
            lg_ref.append(lg)
            lg.recover()
            lg.start()
            await _leading(lg)
            assert lg.transport is None and not lg.ensemble and lg.leader == lg.id == 1
            assert lg.may_answer(12345) and not lg.partitioned
            syncs, batches = lg.fsync_count, lg.batches
            base[0] = syncs
            # one turn of the loop: one batch, one fsync
            for i in range(20):
                lg.propose(create(f"/a{i}"), done(f"a{i}"))  # type: ignore[arg-type]
            await asyncio.sleep(0)
            assert lg._persisting  # the first batch is in the disk thread now
            # proposed while it is written: all of them go into the next batch
            for i in range(30):
                lg.propose(create(f"/b{i}"), done(f"b{i}"))  # type: ignore[arg-type]
            for _ in range(500):
                if len(answered) == 50:
                    break
                await asyncio.sleep(0.01)
            used = lg.fsync_count - syncs, lg.batches - batches
            last = lg.last_index
            await lg.close(snapshot=False)
            return used[0], used[1], last

    syncs, batches, last = asyncio.run(go())
    assert [a[2] for a in answered] == [0] * 50
    assert [a[0] for a in answered] == [f"a{i}" for i in range(20)] + [f"b{i}" for i in range(30)]
    zxids = [a[1] for a in answered]
    assert zxids == list(range(zxids[0], zxids[0] + 50)) and zxids[-1] == last
    assert syncs == 2, f"{syncs} fsyncs for two batches"
    # (the first batch is answered only after the second batch's fsync too: see
    # docs/benchmarks.md, "A standalone server as a one-member raft group")
    assert synced_at == [2] * 50
    assert batches == 2

    with DataDir.open(tmp_path) as dd:  # the log alone brings every write back
        lg = solo(dd, tmp_path)
        lg.recover()
        assert lg.last_index >= last
        for i in range(20):
            assert lg.tree.get(f"/a{i}") is not None
        assert lg.tree.get("/b29") is not None

