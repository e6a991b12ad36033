"""Rolling upgrade from a version without liveness grants: a member that gates its answers
on grants, following a leader that never acknowledges liveness reports (emulated with the
test-only `unsafe_no_liveness_grants`), notices it, warns once and keeps serving its
clients, whose sessions the old leader keeps alive."""

from __future__ import annotations

import time
from pathlib import Path

from roost.testing.ensemble import RoostEnsemble
from roost.testing.wait import wait_until
from roost.wire.protocol import decode_reply_header

from .helpers import RawSession, kazoo

TIMEOUT_MS = 4000


def test_an_upgraded_follower_of_a_leader_without_grants_keeps_its_clients(
    tmp_path: Path,
) -> None:
    with RoostEnsemble(3, subprocess=True, base_dir=tmp_path,
                       unsafe_no_liveness_grants=True) as ens:
        leader = ens.leader()
        follower = next(i for i in range(3) if i != leader)
        ens.stop_member(follower)  # the follower is upgraded first
        ens.servers[follower].overrides["unsafe_no_liveness_grants"] = False
        ens.start_member(follower)
        wait_until(lambda: ens.mode(follower) == "follower", 20, what="the upgraded follower")
        session = RawSession(ens.hosts_of(follower), TIMEOUT_MS)
        session.create_ephemeral("/upgraded")
        # two session timeouts of reads, one at a time: each answered at once (without the
        # negotiation the follower would hold them once the grant of the session's creation
        # lapsed, and the old leader, which cannot read newer reports, would expire it)
        end = time.monotonic() + 2 * TIMEOUT_MS / 1000 + 1
        xid, slowest = 1, 0.0
        while time.monotonic() < end:
            xid += 1
            sent = time.monotonic()
            session.send_exists(xid, "/upgraded")
            frame = session.next_frame(3.0)
            assert frame is not None, f"read {xid} not answered in 3 s"
            assert decode_reply_header(frame)[:3:2] == (xid, 0)
            slowest = max(slowest, time.monotonic() - sent)
            time.sleep(0.1)  # pacing the reads over the window (two session timeouts)
        assert slowest < 1.5, f"a read waited {slowest:.2f} s"
        assert ens.leader() == leader
        with kazoo(ens.hosts_of(leader)) as c:  # the old leader held the session alive
            assert c.exists("/upgraded") is not None
        session.crash()
        log = ens.servers[follower].log_path
        assert log is not None
        warned = log.read_text().count("does not acknowledge liveness reports")
        assert warned == 1, warned
