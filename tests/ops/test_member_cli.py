"""`roost member add|remove` as an operator runs them (progress until done, several members
removed in one change) and `roost cluster status` showing members that answer but serve
nobody (a joiner not yet added, a removed member, a member whose storage failed) as such,
not as "down"."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient

from roost.member import Step, follow, joining_step, leaving_step
from roost.replica.member import Member
from roost.testing.server import RoostServer, four_letter, free_port, srvr_mode
from roost.testing.wait import wait_until
from roost.testing.zookeeper import SUPER_AUTH, SUPER_DIGEST

COMMON: dict[str, Any] = {"peer_secret": "s", "super_digest": SUPER_DIGEST}


def roost(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "roost.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


def status_modes(servers: list[RoostServer]) -> list[str]:
    """The mode column of `roost cluster status` for `servers`, in order."""
    res = roost("cluster", "status", ",".join(s.hosts for s in servers))
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()[1:]
    out = []
    for s, line in zip(servers, lines, strict=True):
        assert line.startswith(s.hosts)
        cells = line[len(s.hosts):].strip()
        out.append(cells.split("  ")[0].strip())
    return out


@contextmanager
def ensemble(tmp_path: Path, n: int, extra: int = 0, **overrides: Any) -> Iterator[
        tuple[list[Member], list[RoostServer]]]:
    """`n` founding members in this process, plus `extra` member specs (not started)."""
    members = [Member(i + 1, "127.0.0.1", free_port(), free_port()) for i in range(n + extra)]
    servers = [RoostServer(data_dir=tmp_path / f"m{m.id}", port=m.client_port, server_id=m.id,
                           members=tuple(members[:n]), raft_tick_ms=20, **COMMON, **overrides)
               for m in members[:n]]
    try:
        for s in servers:
            s.start()
        wait_until(lambda: any(srvr_mode(s.host, s.port) == "leader" for s in servers), 30,
                   what="a leader")
        yield members, servers
    finally:
        for s in servers:
            s.stop()


def joiner(tmp_path: Path, members: list[Member], m: Member, **overrides: Any) -> RoostServer:
    return RoostServer(data_dir=tmp_path / f"m{m.id}", port=m.client_port, server_id=m.id,
                       members=tuple(members), join=True, raft_tick_ms=20, **COMMON,
                       **overrides)


def test_member_add_reports_progress_and_cluster_status_shows_a_joiner(
        tmp_path: Path) -> None:
    with ensemble(tmp_path, 3, extra=2, snapshot_every=20, snapshots_to_keep=2) as (
            members, servers):
        zk = KazooClient(hosts=servers[0].hosts)
        zk.start(timeout=30)
        try:
            for i in range(120):  # the leader compacts: the joiner gets a snapshot
                zk.create(f"/n{i}", b"x")
        finally:
            zk.stop()
            zk.close()
        m4, m5 = members[3], members[4]
        j4 = joiner(tmp_path, members[:4], m4).start()
        try:
            # started but not added: it answers, and says why it serves nobody
            assert status_modes([*servers, j4])[3] == \
                "not serving: joining: not yet added to the ensemble"
            res = roost("member", "add", "4", "--client-port", str(m4.client_port),
                        "--peer-port", str(m4.peer_port), "--server", servers[0].hosts,
                        "--auth", SUPER_AUTH)
            assert res.returncode == 0, res.stdout + res.stderr
            assert f"server.4=127.0.0.1:{m4.peer_port}" in res.stdout
            progress = res.stderr.splitlines()
            assert progress[-1] == "member 4: caught up and serving as follower (a voter)", \
                res.stderr
            assert sorted(status_modes([*servers, j4])) == [
                "follower", "follower", "follower", "leader"]
            # a member that is not running: the command says where it is stuck, exit 1
            res = roost("member", "add", "5", "--client-port", str(m5.client_port),
                        "--peer-port", str(m5.peer_port), "--server", servers[0].hosts,
                        "--auth", SUPER_AUTH, "--wait", "1.5")
            assert res.returncode == 1, res.stdout + res.stderr
            assert "member 5: not done after 1.5 s: waiting for it to answer the leader" \
                in res.stderr
            res = roost("member", "remove", "5", "--server", servers[0].hosts,
                        "--auth", SUPER_AUTH)
            assert res.returncode == 0, res.stdout + res.stderr
            assert res.stderr.splitlines()[-1] == "member 5: out of the ensemble: stop its " \
                "process", res.stderr
        finally:
            j4.stop()


def test_removing_two_members_in_one_change_and_cluster_status_shows_them(
        tmp_path: Path) -> None:
    with ensemble(tmp_path, 5) as (_members, servers):
        lead = next(i for i, s in enumerate(servers) if srvr_mode(s.host, s.port) == "leader")
        # the leader and another member leave together
        gone = sorted({lead, (lead + 1) % 5})
        rest = [s for i, s in enumerate(servers) if i not in gone]
        ids = [str(i + 1) for i in gone]
        res = roost("member", "remove", *ids, "--server", rest[0].hosts, "--auth",
                    SUPER_AUTH, "--wait", "30")
        assert res.returncode == 0, res.stdout + res.stderr
        for sid in ids:
            assert f"member {sid}: out of the ensemble: stop its process" in res.stderr
            assert f"server.{sid}=" not in res.stdout
        for s in rest:  # raft's configuration lost both, one at a time
            assert s.server is not None and s.server.log is not None
            wait_until(lambda s=s: s.server.log.node.conf_state.voters  # type: ignore[union-attr]
                       == frozenset(i + 1 for i in range(5) if i not in gone), 30,
                       what="raft's voters without the removed members")
        modes = status_modes(servers)
        for i in gone:
            assert modes[i] == "not serving: removed from the ensemble", modes
        assert sorted(modes[i] for i in range(5) if i not in gone) == [
            "follower", "follower", "leader"]
        zk = KazooClient(hosts=",".join(s.hosts for s in rest))
        zk.start(timeout=30)
        try:
            zk.create("/after", b"x")
        finally:
            zk.stop()
            zk.close()


def test_cluster_status_shows_a_member_whose_storage_failed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    members = [Member(i + 1, "127.0.0.1", free_port(), free_port()) for i in range(3)]
    servers = []
    try:
        for m in members:
            if m.id == 3:  # every fsync after the first fails with EIO
                monkeypatch.setenv("ROOST_TEST_FSYNC_EIO_AFTER", "1")
            servers.append(RoostServer(data_dir=tmp_path / f"m{m.id}", port=m.client_port,
                                       server_id=m.id, members=tuple(members), raft_tick_ms=20,
                                       **COMMON).start())
            monkeypatch.delenv("ROOST_TEST_FSYNC_EIO_AFTER", raising=False)
        zk = KazooClient(hosts=f"{servers[0].hosts},{servers[1].hosts}")
        zk.start(timeout=30)
        try:
            for i in range(300):  # followers fsync in batches: write until one fails
                zk.create(f"/n{i}", b"x")
                if i % 20 == 19 and "zk_storage_failed\t1" in four_letter(
                        servers[2].host, servers[2].port, "mntr"):
                    break
        finally:
            zk.stop()
            zk.close()
        wait_until(lambda: status_modes(servers)[2].startswith("not serving: storage failed"),
                   30, what="member 3 fenced")
        modes = status_modes(servers)
        assert "fsync failed" in modes[2], modes
        assert sorted(modes[:2]) == ["follower", "leader"]
        res = roost("cluster", "status", "--wait", "1",
                    ",".join(s.hosts for s in servers))
        assert res.returncode == 1  # not every member serves
    finally:
        for s in servers:
            s.stop()


# -- the steps, from the leader's rows -----------------------------------------------------


def test_steps_of_a_joiner_and_a_leaver() -> None:
    lead = (1, {"mode": "leader"})
    serving = {"mode": "follower"}

    def rows(**kv: str) -> tuple[int, dict[str, str]]:
        return 1, {"mode": "leader", **{f"raft_follower_4_{k}": v for k, v in kv.items()}}

    assert joining_step(4, True, None, {}) == Step("no leader among the members yet")
    assert "not started replicating" in joining_step(4, True, lead, {}).text
    assert "waiting for it to answer" in joining_step(4, True, rows(state="probe"), {}).text
    assert joining_step(4, True, rows(state="snapshot", lag="900", voter="0"), {}).text == \
        "receiving the leader's snapshot"
    step = joining_step(4, True, rows(state="replicate", lag="350", voter="0"), {})
    assert "catching up" in step.text and step.detail == "350 entries behind"
    assert not joining_step(4, True, rows(state="replicate", lag="0", voter="1"), {}).done
    assert joining_step(4, True, rows(state="replicate", lag="0", voter="1"), serving).done
    observer = rows(state="replicate", lag="500", voter="0")
    assert not joining_step(4, False, observer, {"mode": "observer"}).done
    assert joining_step(4, False, rows(state="replicate", lag="3", voter="0"),
                        {"mode": "observer"}).done
    assert not leaving_step(4, rows(state="replicate")).done
    assert leaving_step(4, lead).done


def test_follow_reports_each_step_once_and_times_out() -> None:
    m1 = Member(1, "h1", 1, 1)
    m4 = Member(4, "h4", 4, 4)
    script = [
        {"raft_follower_4_state": "probe"},
        {"raft_follower_4_state": "snapshot"},
        {"raft_follower_4_state": "snapshot"},
        {"raft_follower_4_state": "replicate", "raft_follower_4_lag": "300",
         "raft_follower_4_voter": "0"},
        {"raft_follower_4_state": "replicate", "raft_follower_4_lag": "0",
         "raft_follower_4_voter": "1"},
    ]
    now = [0.0]
    polls = [0]

    def status(host: str, port: int) -> dict[str, str]:
        if host == "h1":
            polls[0] += 1
            return {"mode": "leader", **script[min(polls[0] - 1, len(script) - 1)]}
        return {"mode": "follower"} if polls[0] >= len(script) else {"mode": "down"}

    def sleep(s: float) -> None:
        now[0] += s

    said: list[str] = []
    assert follow({1: m1, 4: m4}, {4: m4}, [], 60, said.append, status, lambda: now[0], sleep)
    assert said == [
        "member 4: waiting for it to answer the leader (is it running, with join = true and "
        "this member list?)",
        "member 4: receiving the leader's snapshot",
        "member 4: catching up with the leader's log (non-voting until it has): 300 entries "
        "behind",
        "member 4: caught up and serving as follower (a voter)",
    ]
    said.clear()
    polls[0] = 0
    script[:] = [{"raft_follower_4_state": "probe"}]
    assert not follow({1: m1, 4: m4}, {4: m4}, [], 1.0, said.append, status, lambda: now[0],
                      sleep)
    assert said[-1].startswith("member 4: not done after 1 s: waiting for it to answer")
