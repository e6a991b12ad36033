"""Partition of the leader on a proxied ensemble: the isolated old leader acknowledges
nothing, the majority elects a new leader and goes on, and after healing there is one history
(the same tree, stats included, on every member) without the old leader's orphan write."""

from __future__ import annotations

from pathlib import Path

import pytest
from kazoo.exceptions import KazooException

from roost.testing.ensemble import Fault, RoostEnsemble
from roost.testing.wait import wait_until

from .helpers import converged, kazoo

#: how long a request may wait for a leader before the client is disconnected (ms)
REQUEST_TIMEOUT_MS = 2000


@pytest.mark.parametrize("how", ["cut", "blackhole"])
def test_isolated_leader_acknowledges_nothing(tmp_path: Path, how: Fault) -> None:
    with RoostEnsemble(3, subprocess=True, proxied=True, base_dir=tmp_path,
                       request_timeout_ms=REQUEST_TIMEOUT_MS) as ens:
        old = ens.leader()
        others = [i for i in range(3) if i != old]
        majority = ",".join(ens.hosts_of(i) for i in others)
        with kazoo(ens.hosts_of(old)) as c_old, kazoo(majority) as c_new:
            c_new.create("/p/before", b"1", makepath=True)
            c_old.sync("/p")
            assert c_old.exists("/p/before") is not None

            ens.isolate(old, how)
            orphan = c_old.create_async("/p/orphan", b"x")
            new = ens.leader(exclude=(old,), timeout=10)
            assert new in others
            c_new.create("/p/after", b"2")  # the majority accepts writes
            c_new.set("/p/before", b"1b")
            # the write sent to the isolated old leader never succeeds: it ends in a
            # connection loss once the request timeout passes
            with pytest.raises(KazooException):
                orphan.get(timeout=REQUEST_TIMEOUT_MS / 1000 + 10)
            assert not orphan.successful()
            wait_until(lambda: ens.mode(old) != "leader", timeout=10,
                       what="the old leader to step down")

            ens.heal()
            tree = wait_until(lambda: converged(ens, [0, 1, 2], "/p"), timeout=20,
                              what="every member to hold the same tree")
        assert sorted(tree["/p"][-1]) == ["after", "before"], tree["/p"]
        assert tree["/p/before"][0] == b"1b"
        assert ens.leader() == new  # the healed old leader did not disrupt the new one
