"""Partition of the leader on a proxied ensemble: the isolated old leader acknowledges
nothing, the majority elects a new leader and goes on, and after healing there is one history
(the same tree, stats included, on every member) without the old leader's orphan write. A
follower cut off from the leader answers its sessions only until their liveness grants lapse."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kazoo.exceptions import KazooException

from roost.testing.ensemble import Fault, RoostEnsemble
from roost.testing.wait import wait_until
from roost.wire.protocol import decode_reply_header

from .helpers import RawSession, converged, kazoo

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


def test_a_cut_off_follower_answers_no_read_after_its_grant_lapses(tmp_path: Path) -> None:
    # Cut off, the follower loses its leader at once (its links close); without grants it
    # would answer reads until it drops its clients two election timeouts later (4 s here).
    # Under grants it answers none later than L (half the 4 s session timeout) after its
    # last report to the leader, which was sent before the cut.
    with RoostEnsemble(3, subprocess=True, proxied=True, base_dir=tmp_path,
                       election_ticks=40) as ens:
        leader = ens.leader()
        follower = next(i for i in range(3) if i != leader)
        session = RawSession(ens.hosts_of(follower), 4000)
        bound = session.timeout_ms / 2000.0
        session.send_exists(1, "/")
        frame = session.next_frame(5.0)  # answered at once: the session's grant is fresh
        assert frame is not None and decode_reply_header(frame)[0] == 1
        ens.isolate(follower, "cut")
        cut = time.monotonic()
        xid, waiting, answered, last = 1, False, 0, cut
        closed = False
        while time.monotonic() < cut + 2 * bound + 3:
            if not waiting:  # one read at a time: the next once the last is answered
                xid += 1
                session.send_exists(xid, "/")
                waiting = True
            try:
                frame = session.next_frame(0.1)
            except ConnectionError:
                closed = True
                break
            if frame is not None and decode_reply_header(frame)[0] == xid:
                answered += 1
                last = time.monotonic()
                waiting = False
        assert answered > 0  # answered under the grant it held when cut off
        assert last - cut < bound + 0.5, f"answered {last - cut:.2f} s after the cut"
        assert closed  # after L without a grant the connection closes: the client moves
