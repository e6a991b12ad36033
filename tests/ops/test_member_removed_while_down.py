"""A member removed while it was down learns it when it restarts: its peers refuse its link
and say why (it is not in their configuration, a newer one than its own), so it serves
nobody, read-only clients included, and never disturbs the ensemble."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from roost.member import reconfig
from roost.testing.ensemble import RoostEnsemble
from roost.testing.server import RoostServer, four_letter, srvr_mode
from roost.testing.wait import wait_until
from roost.testing.zookeeper import SUPER_AUTH, SUPER_DIGEST

from .test_member_cli import ensemble, joiner, roost, status_modes


@contextlib.contextmanager
def session(servers: list[RoostServer]) -> Iterator[KazooClient]:
    """A kazoo session on these members, closed afterwards."""
    zk = KazooClient(hosts=",".join(s.hosts for s in servers))
    zk.start(timeout=30)
    try:
        yield zk
    finally:
        zk.stop()
        zk.close()


def mntr(s: RoostServer) -> dict[str, str]:
    rows = four_letter(s.host, s.port, "mntr").splitlines()
    return dict(r.split("\t", 1) for r in rows if "\t" in r)


def test_a_member_removed_while_down_learns_it_at_restart(tmp_path: Path) -> None:
    with ensemble(tmp_path, 3) as (_members, servers):
        with session(servers) as zk:
            zk.create("/before", b"x")
        v = next(i for i, s in enumerate(servers) if srvr_mode(s.host, s.port) == "follower")
        victim, rest = servers[v], [s for i, s in enumerate(servers) if i != v]
        victim.stop()
        res = roost("member", "remove", str(v + 1), "--server", rest[0].hosts, "--auth",
                    SUPER_AUTH, "--wait", "30")
        assert res.returncode == 0, res.stdout + res.stderr
        assert res.stderr.splitlines()[-1] == f"member {v + 1}: out of the ensemble: stop its " \
            "process", res.stderr
        with session(rest) as zk:
            zk.create("/after-removal", b"x")
        before = {s.hosts: mntr(s) for s in rest}
        leader = next(s for s in rest if srvr_mode(s.host, s.port) == "leader")

        # restarted with its old data directory and its unedited member list
        victim.start()
        wait_until(lambda: status_modes(servers)[v] == "not serving: removed from the ensemble",
                   30, what=f"member {v + 1} to know it was removed")
        assert four_letter(victim.host, victim.port, "isro") == "null"
        assert victim.server is not None and victim.server.log is not None
        assert victim.server.log.removed
        probe = KazooClient(hosts=victim.hosts, timeout=2, read_only=True)
        with pytest.raises(Exception):  # noqa: B017 - kazoo's timeout, whatever its class
            probe.start(timeout=3)
        probe.stop()
        probe.close()
        # it stays so for longer than a leaderless member takes to serve read-only clients
        # (two election timeouts of 10 ticks of 20 ms), and never disturbs the others:
        # polled over that window (1.2 s), the window being what is tested
        deadline = time.monotonic() + 3 * 2 * 10 * 0.02
        while time.monotonic() < deadline:
            assert four_letter(victim.host, victim.port, "isro") == "null"
            time.sleep(0.05)
        for s in rest:
            now = mntr(s)
            assert now["zk_raft_term"] == before[s.hosts]["zk_raft_term"], s.hosts
        assert srvr_mode(leader.host, leader.port) == "leader"
        with session(rest) as zk:
            zk.create("/after-restart", b"x")
            assert zk.exists("/after-removal") is not None


def test_members_restarted_with_an_old_member_list_still_refuse_the_removed_one(
        tmp_path: Path) -> None:
    """The survivors restart with configuration files that still list the removed member:
    they link with the members of their registry, not of their file, so they refuse it and
    it learns. A joiner, refused the same way until its addition, is not taken for removed."""
    with ensemble(tmp_path, 3, extra=1) as (members, servers):
        v = next(i for i, s in enumerate(servers) if srvr_mode(s.host, s.port) == "follower")
        victim, rest = servers[v], [s for i, s in enumerate(servers) if i != v]
        victim.stop()
        res = roost("member", "remove", str(v + 1), "--server", rest[0].hosts, "--auth",
                    SUPER_AUTH, "--wait", "30")
        assert res.returncode == 0, res.stdout + res.stderr
        for s in rest:
            s.stop()
        for s in rest:
            s.start()
        wait_until(lambda: sorted(srvr_mode(s.host, s.port) for s in rest) == [
            "follower", "leader"], 30, what="a leader among the two left")
        for s in rest:
            assert s.server is not None and s.server.log is not None
            assert s.server.log.transport is not None
            assert v + 1 not in s.server.log.transport.peers
        victim.start()
        wait_until(lambda: status_modes(servers)[v] == "not serving: removed from the ensemble",
                   30, what=f"member {v + 1} to know it was removed")
        terms = {s.hosts: mntr(s)["zk_raft_term"] for s in rest}

        m4 = members[3]
        j4 = joiner(tmp_path, members, m4).start()
        try:
            assert j4.server is not None and j4.server.log is not None
            log4 = j4.server.log
            wait_until(lambda: log4.transport is not None and any(
                st.refused for st in log4.transport.stats.values()), 30,
                what="member 4's dials refused before its addition")
            res = roost("member", "add", "4", "--client-port", str(m4.client_port),
                        "--peer-port", str(m4.peer_port), "--server", rest[0].hosts,
                        "--auth", SUPER_AUTH, "--wait", "30")
            assert res.returncode == 0, res.stdout + res.stderr
            assert not log4.removed and srvr_mode(j4.host, j4.port) == "follower"
            assert status_modes([*servers, j4])[v] == "not serving: removed from the ensemble"
            for s in rest:
                assert mntr(s)["zk_raft_term"] == terms[s.hosts], s.hosts
        finally:
            j4.stop()


def test_a_member_cut_off_while_it_was_removed_learns_it_when_the_links_heal(
        tmp_path: Path) -> None:
    """Not restarted: cut off from the others while they removed it, it learns it from
    their refusals once its links heal."""
    with RoostEnsemble(3, base_dir=tmp_path / "ens", proxied=True, raft_tick_ms=20,
                       super_digest=SUPER_DIGEST) as ens:
        v = ens.followers()[0]
        rest = [j for j in range(3) if j != v]
        ens.isolate(v)
        text = asyncio.run(reconfig(ens.hosts_of(rest[0]), None, str(v + 1), (SUPER_AUTH,)))
        assert f"server.{v + 1}=" not in text
        leader = ens.leader(exclude=(v,))
        wait_until(lambda: f"raft_follower_{v + 1}_state" not in ens.mntr(leader), 30,
                   what=f"the leader to take member {v + 1} out of the vote")
        terms = {j: ens.mntr(j)["raft_term"] for j in rest}
        ens.heal()
        wait_until(lambda: ens.mntr(v).get("not_serving_reason") == "removed from the ensemble",
                   30, what=f"member {v + 1} to know it was removed")
        assert ens.four_letter(v, "isro") == "null"
        assert ens.leader(exclude=(v,)) == leader
        assert {j: ens.mntr(j)["raft_term"] for j in rest} == terms
