"""SIGSTOP the leader for longer than the election timeout, then SIGCONT it: a new leader
took over; the old one steps down and acknowledges nothing from its old term. Writes its
client had sent while it was stopped either fail or are applied exactly once (through the new
leader); a success is never missing afterwards."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from kazoo.exceptions import KazooException

from roost.testing.ensemble import RoostEnsemble
from roost.testing.wait import wait_until

from .helpers import converged, kazoo

#: raft ticks: 50 ms; an election starts after 10..20 ticks without the leader
ELECTION_TIMEOUT = 1.0
WRITES = 8


def test_paused_leader_steps_down(tmp_path: Path) -> None:
    with RoostEnsemble(3, subprocess=True, base_dir=tmp_path) as ens:
        old = ens.leader()
        others = [i for i in range(3) if i != old]
        with kazoo(ens.hosts_of(old), timeout=30) as c_old, \
                kazoo(",".join(ens.hosts_of(i) for i in others)) as c_new:
            c_new.create("/s/seed", b"", makepath=True)
            c_old.sync("/s")
            term_before = int(ens.mntr(old)["raft_term"])

            ens.pause(old)
            paused_at = time.monotonic()
            # sent into the stopped leader's socket buffer: they wait for it to run again
            futures = [c_old.create_async("/s/old-", b"x", sequence=True) for _ in range(WRITES)]
            new = wait_until(lambda: _leaders_among(ens, others), timeout=10,
                             what="a new leader among the others")[0]
            c_new.create("/s/new-", b"y", sequence=True)
            while time.monotonic() - paused_at < 2 * ELECTION_TIMEOUT:
                c_new.create("/s/new-", b"y", sequence=True)  # bounded by the time check
            ens.resume(old)

            wait_until(lambda: ens.mode(old) == "follower", timeout=10,
                       what="the old leader to step down")
            assert int(ens.mntr(old)["raft_term"]) > term_before
            ok: list[str] = []
            for f in futures:
                # failed or connection lost: allowed, the write is in doubt
                with contextlib.suppress(KazooException):
                    ok.append(f.get(timeout=30).rsplit("/", 1)[1])
            tree = wait_until(lambda: converged(ens, [0, 1, 2], "/s"), timeout=20,
                              what="every member to hold the same tree")
        olds = [k for k in tree["/s"][-1] if k.startswith("old-")]
        assert set(ok) <= set(olds), f"acknowledged but missing: {sorted(set(ok) - set(olds))}"
        assert len(olds) <= WRITES, f"applied more than once: {olds}"
        assert ens.leader() == new
        print(f"{len(ok)} of {WRITES} writes sent to the stopped leader succeeded, "
              f"{len(olds)} applied")


def _leaders_among(ens: RoostEnsemble, members: list[int]) -> list[int]:
    return [i for i in members if ens.mode(i) == "leader"]
