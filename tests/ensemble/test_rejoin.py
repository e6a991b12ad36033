"""A member whose data directory is wiped rejoins and catches up from a snapshot (the leader
has compacted its log past the start, so replaying entries is impossible), with no client
writes needed to trigger it."""

from __future__ import annotations

from pathlib import Path

from roost.testing.ensemble import RoostEnsemble, last_zxid
from roost.testing.wait import wait_until

from .helpers import converged, kazoo

SNAPSHOT_EVERY = 20


def test_wiped_member_rejoins_from_a_snapshot(tmp_path: Path) -> None:
    with RoostEnsemble(3, subprocess=True, base_dir=tmp_path,
                       snapshot_every=SNAPSHOT_EVERY) as ens:
        leader = ens.leader()
        victim = next(i for i in range(3) if i != leader)
        survivors = [i for i in range(3) if i != victim]
        hosts = ",".join(ens.hosts_of(i) for i in survivors)
        with kazoo(hosts) as c:
            c.create("/w/early", b"before the wipe", makepath=True)
            ens.wipe_member(victim)
            assert not ens.servers[victim].data_dir.exists()
            for n in range(8 * SNAPSHOT_EVERY):
                c.create(f"/w/n{n:04d}", str(n).encode())
            for n in range(0, 8 * SNAPSHOT_EVERY, 7):
                c.set(f"/w/n{n:04d}", b"changed")
            c.delete("/w/n0001")
        # the leader compacted: its snapshot is far past the entries the victim lacks
        figures = ens.mntr(ens.leader())
        assert int(figures["raft_snapshot_index"]) > 4 * SNAPSHOT_EVERY, figures

        target = last_zxid(ens, leader)
        assert target is not None and target > 8 * SNAPSHOT_EVERY

        ens.start_member(victim)
        # no client activity now (a new session would be a write that nudges the leader):
        # the idle ensemble must still bring the wiped member up to date
        wait_until(lambda: last_zxid(ens, victim) == target, timeout=15,
                   what="the wiped member to catch up while the ensemble is idle")
        assert "installed snapshot" in ens.log_text(victim)
        tree = wait_until(lambda: converged(ens, [0, 1, 2], "/w"), timeout=30,
                          what="every member to hold the same tree")
        kids = tree["/w"][-1]
        assert len(kids) == 8 * SNAPSHOT_EVERY, len(kids)  # early + all but n0001
        assert "n0001" not in kids and "early" in kids
        assert tree["/w/n0007"][0] == b"changed"
        assert tree["/w/n0008"][0] == b"8"
        with kazoo(ens.hosts_of(victim)) as c:  # it serves the caught-up data itself
            assert c.get("/w/early")[0] == b"before the wipe"
