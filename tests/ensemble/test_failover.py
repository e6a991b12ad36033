"""Leader SIGKILL under a stream of writes from a client connected to a follower, on roost and
on Apache ZooKeeper (the same scenario, `roost.testing.ensemble.run_failover`).

Asserted on both: no acknowledged write is lost (all present through the third member after a
sync), the writer's ephemeral survives with the same owner, the session kept its id and never
reached LOST. On roost also: the longest pause between two acknowledged writes is under 2 s
(the ensemble must not wait for session timeouts). Both pauses are printed side by side.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from roost.testing.ensemble import FailoverRun, RoostEnsemble, run_failover
from roost.testing.zkensemble import ZooKeeperEnsemble

from .helpers import FAILOVER_FIGURES as FIGURES
from .helpers import describe_failover as describe

#: longest pause between two acknowledged writes that roost may show around a failover
MAX_PAUSE = 2.0


def check_run(run: FailoverRun) -> None:
    assert run.kill_at, "the leader was never killed"
    assert run.acked_after_kill > 0, "no write was acknowledged after the leader died"
    lost = sorted(set(run.acked) - run.present)
    assert not lost, f"{len(lost)} acknowledged writes lost, e.g. {lost[:5]}"
    assert run.ephemeral_owner == run.session_before, "the writer's ephemeral did not survive"
    assert run.session_after == run.session_before, "the session changed"
    assert "LOST" not in run.states, run.states
    assert run.new_leader not in (-1, run.leader)


def test_roost_failover(tmp_path: Path) -> None:
    with RoostEnsemble(3, subprocess=True, base_dir=tmp_path) as ens:
        run = run_failover(ens)
    FIGURES["roost"] = run
    print("roost:", describe(run))
    check_run(run)
    assert run.max_gap < MAX_PAUSE, describe(run)


@pytest.mark.compat
def test_zookeeper_failover() -> None:
    with ZooKeeperEnsemble(3) as zk:
        run = run_failover(zk)
    FIGURES["ZooKeeper"] = run
    print("ZooKeeper:", describe(run))
    check_run(run)
