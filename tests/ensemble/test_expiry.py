"""Session expiry in the ensemble: a client of a follower dies without closing its session;
after the session timeout its ephemeral vanishes on every member at the same zxid."""

from __future__ import annotations

import time
from pathlib import Path

from roost.testing.ensemble import RoostEnsemble
from roost.testing.wait import wait_until

from .helpers import RawSession, converged, kazoo, member_tree

TICK_MS = 500  # sessions may be as short as 2 ticks
SESSION_MS = 2000


def test_dead_clients_ephemeral_expires_everywhere(tmp_path: Path) -> None:
    with RoostEnsemble(3, subprocess=True, base_dir=tmp_path, tick_ms=TICK_MS) as ens:
        leader = ens.leader()
        follower = next(i for i in range(3) if i != leader)
        with kazoo(ens.hosts) as c:
            c.create("/e/keep", b"", makepath=True)
            raw = RawSession(ens.hosts_of(follower), SESSION_MS)
            assert raw.timeout_ms == SESSION_MS
            created_zxid = raw.create_ephemeral("/e/eph")
            c.sync("/e")
            eph = c.exists("/e/eph")
            assert eph is not None and eph.ephemeralOwner == raw.session_id
            # a raw session never pings: once the socket is gone nothing keeps it alive
            raw.crash()
            crashed_at = time.monotonic()
            for i in range(3):  # still there right after the crash, on every member
                assert "eph" in member_tree(ens.hosts_of(i), "/e")["/e"][-1]

            wait_until(lambda: c.exists("/e/eph") is None, timeout=SESSION_MS / 1000 + 10,
                       interval=0.05, what="the ephemeral to expire")
            gone_after = time.monotonic() - crashed_at
        tree = wait_until(lambda: converged(ens, [0, 1, 2], "/e"), timeout=20,
                          what="every member to hold the same tree")
        parent = tree["/e"]
        assert parent[-1] == ("keep",)
        pzxid, cversion = parent[3], parent[5]
        assert pzxid > created_zxid  # the deletion is the parent's last child change
        assert cversion == 3  # keep created, eph created, eph deleted
        print(f"ephemeral gone {gone_after:.2f}s after the client died "
              f"(session timeout {SESSION_MS / 1000:.1f}s), at zxid 0x{pzxid:x} everywhere")
        # not before the timeout (less a little: the last sign of life preceded the crash)
        assert gone_after > SESSION_MS / 1000 * 0.75
        assert gone_after < SESSION_MS / 1000 + 2 * TICK_MS / 1000 + 2.0
