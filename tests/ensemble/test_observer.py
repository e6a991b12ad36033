"""Observers: a non-voting member serves reads and forwards writes, never leads, and losing it
does not disturb the voters."""

from __future__ import annotations

import time
from pathlib import Path

from roost.testing.ensemble import RoostEnsemble
from roost.testing.wait import wait_until

from .helpers import converged, kazoo

OBSERVER = 3  # RoostEnsemble(3, 1): members 0-2 vote, member 3 observes


def test_observer_serves_and_its_loss_does_not_matter(tmp_path: Path) -> None:
    with RoostEnsemble(3, 1, subprocess=True, base_dir=tmp_path) as ens:
        leader = ens.leader()
        assert leader != OBSERVER
        assert wait_until(lambda: ens.mode(OBSERVER) == "observer", 20, what="observer mode")
        voters = ",".join(ens.hosts_of(i) for i in range(3))
        with kazoo(ens.hosts_of(OBSERVER)) as obs, kazoo(voters) as c:
            obs.create("/o/from-observer", b"fwd", makepath=True)  # forwarded to the leader
            c.sync("/o")
            assert c.get("/o/from-observer")[0] == b"fwd"
            c.create("/o/from-voter", b"v")
            obs.sync("/o")
            assert obs.get("/o/from-voter")[0] == b"v"  # the observer serves reads
            assert sorted(obs.get_children("/o")) == ["from-observer", "from-voter"]
            term = ens.mntr(leader)["raft_term"]
            assert ens.mntr(leader)["synced_observers"] == "1"

            ens.kill(OBSERVER)
            worst = 0.0
            for n in range(100):
                t0 = time.monotonic()
                c.create(f"/o/after-{n:03d}", b"")
                worst = max(worst, time.monotonic() - t0)
            assert worst < 2.0, f"a write took {worst:.2f}s after the observer died"
            assert ens.leader() == leader
            assert ens.mntr(leader)["raft_term"] == term  # no election
            tree = wait_until(lambda: converged(ens, [0, 1, 2], "/o"), 20, what="voters agree")
        assert len(tree["/o"][-1]) == 102

        ens.start_member(OBSERVER)  # it comes back and catches up
        assert wait_until(lambda: converged(ens, [0, OBSERVER], "/o") == tree, timeout=20,
                          what="the restarted observer to catch up")
        assert ens.mode(OBSERVER) == "observer"
