"""The ensemble keeps only recent raft entries in memory; a lagging follower catches up from
the write-ahead log (not a snapshot) all the same."""

from __future__ import annotations

import pytest
from kazoo.client import KazooClient

import roost.server.replicated as replicated
from roost.testing.ensemble import RoostEnsemble
from roost.testing.server import four_letter
from roost.testing.wait import wait_until


def zxid(ens: RoostEnsemble, i: int) -> int:
    s = ens.servers[i]
    out = four_letter(s.host, s.port, "srvr")
    return int(next(line for line in out.splitlines() if line.startswith("Zxid:"))[6:], 16)


def test_lagging_follower_reads_old_entries_from_the_log(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replicated, "MEMORY_LOG_ENTRIES", 200)
    with RoostEnsemble(3) as ens:
        leader = ens.leader()
        lagging = (leader + 1) % 3
        ens.stop_member(lagging)
        zk = KazooClient(hosts=ens.servers[leader].hosts)
        zk.start(timeout=15)
        try:
            zk.create("/mem")
            results = [zk.create_async(f"/mem/n{i}", b"x" * 100) for i in range(1500)]
            for r in results:
                r.get(timeout=30)
            leader_log = ens.servers[leader].server.log  # type: ignore[union-attr]
            assert leader_log.store.mem.first_index() > 1000, "old entries left memory"
            assert leader_log.snapshot_index <= 1, "no snapshot: catch-up must use the log"
            ens.start_member(lagging)
            target = zxid(ens, leader)
            wait_until(lambda: zxid(ens, lagging) >= target, 30,
                       what="the restarted member to catch up from the log")
            check = KazooClient(hosts=ens.servers[lagging].hosts)
            check.start(timeout=15)
            assert len(check.get_children("/mem")) == 1500
            check.stop()
            check.close()
        finally:
            zk.stop()
            zk.close()


def test_members_snapshot_after_different_numbers_of_txns() -> None:
    # each member draws its gap between snapshots from [every/2, every] (as ZooKeeper does
    # with snapCount), so the members of an ensemble do not all fork a snapshot at once
    with RoostEnsemble(3, snapshot_every=100) as ens:
        logs = [s.server.log for s in ens.servers]  # type: ignore[union-attr]
        gaps = [[log._next_snapshot_gap() for _ in range(200)] for log in logs]  # type: ignore[union-attr]
        for member_gaps in gaps:
            assert all(50 <= g <= 100 for g in member_gaps)
            assert len(set(member_gaps)) > 10
        assert len({tuple(g) for g in gaps}) == 3  # each member has its own sequence
        zk = KazooClient(hosts=ens.servers[ens.leader()].hosts)
        zk.start(timeout=15)
        try:
            for r in [zk.create_async(f"/s{i}", b"x") for i in range(250)]:
                r.get(timeout=30)
            wait_until(lambda: all(log.snapshot_index > 0  # type: ignore[union-attr]
                                   for log in logs), 30, what="a snapshot on every member")
        finally:
            zk.stop()
            zk.close()
