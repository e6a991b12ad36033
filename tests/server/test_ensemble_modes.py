"""Ensemble behaviour owned by the server: read-only mode, linearizable reads, sync, mntr."""

from __future__ import annotations

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NotReadOnlyCallError

from roost.testing.ensemble import RoostEnsemble
from roost.testing.server import four_letter
from roost.testing.wait import wait_until


def client(hosts: str, **kw: object) -> KazooClient:
    c = KazooClient(hosts=hosts, **kw)
    c.start(timeout=15)
    return c


def test_member_without_majority_serves_read_only_clients_only() -> None:
    with RoostEnsemble(3) as ens:
        zk = client(ens.hosts)
        zk.create("/ro", b"before")
        zk.stop()
        zk.close()
        last = ens.servers[2]
        assert four_letter(last.host, last.port, "isro") == "rw"
        ens.stop_member(0)
        ens.stop_member(1)
        wait_until(lambda: four_letter(last.host, last.port, "isro") == "ro", 15, what="isro ro")
        ro = client(last.hosts, read_only=True)
        try:
            assert ro.get("/ro")[0] == b"before"
            with pytest.raises(NotReadOnlyCallError):
                ro.create("/ro/new")
        finally:
            ro.stop()
            ro.close()
        rw = KazooClient(hosts=last.hosts)
        with pytest.raises(Exception, match="time"):  # refused: no read-write session here
            rw.start(timeout=2)
        rw.close()
        ens.start_member(0)
        wait_until(lambda: four_letter(last.host, last.port, "isro") == "rw", 15, what="isro rw")
        rw = client(last.hosts)
        rw.create("/ro/after")
        assert rw.exists("/ro/after")
        rw.stop()
        rw.close()


@pytest.mark.parametrize("linearizable", [False, True])
def test_write_on_one_member_then_read_on_another(linearizable: bool) -> None:
    with RoostEnsemble(3, linearizable_reads=linearizable) as ens:
        leader = ens.leader()
        followers = [i for i in range(3) if i != leader]
        writer = client(ens.servers[followers[0]].hosts)
        reader = client(ens.servers[followers[1]].hosts)
        try:
            for i in range(30):
                writer.create(f"/lin{i}", str(i).encode())
                if not linearizable:
                    reader.sync(f"/lin{i}")  # ZooKeeper's way to a linearizable read
                assert reader.get(f"/lin{i}")[0] == str(i).encode()
        finally:
            for c in (writer, reader):
                c.stop()
                c.close()


def test_mntr_reports_raft_figures_and_lag() -> None:
    with RoostEnsemble(3, observers=1) as ens:
        leader = ens.leader()
        s = ens.servers[leader]
        zk = client(s.hosts)
        zk.create("/m", b"")
        zk.stop()
        zk.close()

        def rows() -> dict[str, str]:
            return dict(line.split("\t", 1)
                        for line in four_letter(s.host, s.port, "mntr").splitlines())

        def synced() -> dict[str, str] | None:
            r = rows()
            return r if (r.get("zk_synced_followers"), r.get("zk_synced_observers")) == (
                "2", "1") else None

        r = wait_until(synced, 15, what="2 synced followers and the synced observer")
        assert r["zk_server_state"] == "leader"
        assert r["zk_followers"] == "3"
        assert int(r["zk_raft_commit_index"]) >= 2 and int(r["zk_raft_term"]) >= 2
        assert {k for k in r if k.endswith("_lag")} == {
            f"zk_raft_follower_{i + 1}_lag" for i in range(4) if i != leader}
        modes = sorted(ens.mode(i) or "" for i in range(4))
        assert modes == ["follower", "follower", "leader", "observer"]
