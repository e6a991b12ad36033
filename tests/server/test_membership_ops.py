"""Membership as operators use it: add a member after the leader compacted its log, remove
the leader, follow /zookeeper/config (ZooKeeper's format, watchable), non-incremental
reconfig."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import BadArgumentsError

from roost.member import reconfig
from roost.replica.member import Member
from roost.testing.server import RoostServer, four_letter, free_port
from roost.testing.wait import wait_until
from roost.testing.zookeeper import SUPER_AUTH, SUPER_DIGEST

COMMON: dict[str, Any] = {"peer_secret": "s", "super_digest": SUPER_DIGEST}


def spec(m: Member) -> str:
    role = "participant" if m.voter else "observer"
    return f"server.{m.id}=127.0.0.1:{m.peer_port}:{m.peer_port}:{role};127.0.0.1:{m.client_port}"


def config_lines(members: list[Member]) -> list[str]:
    return [spec(m) for m in sorted(members, key=lambda m: m.id)]


@contextmanager
def client(hosts: str, **kw: Any) -> Iterator[KazooClient]:
    c = KazooClient(hosts=hosts, timeout=10, **kw)
    c.start(timeout=30)
    try:
        yield c
    finally:
        c.stop()
        c.close()


@contextmanager
def founders(tmp_path: Path, n: int = 3, extra: int = 1, **overrides: Any) -> Iterator[
    tuple[list[Member], list[RoostServer]]
]:
    """`n` founding members running in this process; `extra` more member specs (not started)."""
    members = [Member(i + 1, "127.0.0.1", free_port(), free_port()) for i in range(n + extra)]
    servers = [
        RoostServer(
            data_dir=tmp_path / f"m{m.id}",
            port=m.client_port,
            server_id=m.id,
            members=tuple(members[:n]),
            **COMMON,
            **overrides,
        )
        for m in members[:n]
    ]
    try:
        for s in servers:
            s.start()
        wait_until(lambda: any(s.mode() == "leader" for s in servers), 30, what="a leader")
        yield members, servers
    finally:
        for s in servers:
            s.stop()


def joiner_for(tmp_path: Path, members: list[Member], m: Member, **overrides: Any) -> RoostServer:
    return RoostServer(
        data_dir=tmp_path / f"m{m.id}",
        port=m.client_port,
        server_id=m.id,
        members=tuple(members),
        join=True,
        **COMMON,
        **overrides,
    )


def test_member_add_after_the_leader_compacted_its_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The joiner installs a snapshot taken before its own addition: it must not decide
    that it was removed, and must go on to follow and serve the data."""
    caplog.set_level(logging.INFO, logger="roost.raftlog")
    with founders(tmp_path, snapshot_every=20, snapshots_to_keep=2) as (members, servers):
        with client(servers[0].hosts) as c:
            c.create("/data")
            for i in range(150):
                c.create(f"/data/n{i}")
        leader = next(s for s in servers if s.mode() == "leader")
        assert leader.server is not None and leader.server.log is not None
        log_ = leader.server.log
        # wait for the background snapshots: the log no longer starts at the beginning
        wait_until(lambda: log_.store.first_index() > 10, 30, what="the leader to compact its log")
        m4 = members[3]
        joiner = joiner_for(tmp_path, members, m4).start()
        try:
            text = asyncio.run(reconfig(servers[0].hosts, spec(m4), None, (SUPER_AUTH,)))
            assert spec(m4) in text
            wait_until(lambda: joiner.mode() == "follower", 30, what="member 4 to follow")
            with client(joiner.hosts) as c4:
                c4.sync("/data")
                assert len(c4.get_children("/data")) == 150
                c4.create("/data/from-joiner")
            assert joiner.server is not None and joiner.server.log is not None
            assert not joiner.server.log.removed
            assert "member 4: installed snapshot" in caplog.text  # the path under test ran
            assert "member 4: removed" not in caplog.text
            assert "member 4: no longer in the ensemble" not in caplog.text
        finally:
            joiner.stop()


def test_a_removed_leader_knows_it_and_stops_serving(tmp_path: Path) -> None:
    with founders(tmp_path, n=3, extra=0) as (_members, servers):
        i = next(i for i, s in enumerate(servers) if s.mode() == "leader")
        old = servers[i]
        rest = [s for j, s in enumerate(servers) if j != i]
        text = asyncio.run(reconfig(rest[0].hosts, None, str(i + 1), (SUPER_AUTH,)))
        assert f"server.{i + 1}=" not in text
        wait_until(
            lambda: sorted(s.mode() for s in rest) == ["follower", "leader"], 30,
            what="a leader among the 2 left",
        )
        # the old leader learns it was removed: it serves nobody, read-only clients included
        wait_until(
            lambda: four_letter(old.host, old.port, "isro") == "null", 30, what="isro to say null"
        )
        assert "not currently serving requests" in four_letter(old.host, old.port, "srvr")
        assert old.server is not None and old.server.log is not None and old.server.log.removed
        probe = KazooClient(hosts=old.hosts, timeout=2, read_only=True)
        with pytest.raises(Exception):  # noqa: B017 - kazoo's timeout, whatever its class
            probe.start(timeout=3)
        probe.stop()
        probe.close()
        # and it stays so (no leaderless read-only mode later): polled over a window of
        # twice two election timeouts (10 ticks of 50 ms), the window being what is tested
        deadline = time.monotonic() + 2 * 10 * 0.05 * 2 + 0.5
        while time.monotonic() < deadline:
            assert four_letter(old.host, old.port, "isro") == "null"
            time.sleep(0.1)
        with client(rest[0].hosts) as c:
            c.create("/after-removal")


def test_zookeeper_config_on_every_member_watchable_and_reconfig_new_members(
    tmp_path: Path,
) -> None:
    with founders(tmp_path, n=3, extra=1) as (members, servers):
        founding = "\n".join([*config_lines(members[:3]), "version=0"]).encode()
        for s in servers:
            with client(s.hosts) as c:
                data, _ = c.get("/zookeeper/config")
                assert data == founding
        fired: list[Any] = []
        got = threading.Event()
        with client(servers[2].hosts) as watcher:
            watcher.get("/zookeeper/config", watch=lambda ev: (fired.append(ev), got.set()))
            m4 = members[3]
            joiner = joiner_for(tmp_path, members, m4).start()
            try:
                with client(servers[0].hosts, auth_data=[("digest", SUPER_AUTH)]) as admin:
                    data, stat = admin.reconfig(joining=spec(m4), leaving=None, new_members=None)
                    want = "\n".join([*config_lines(members), f"version={stat.mzxid:x}"])
                    assert data.decode() == want
                    assert got.wait(10) and fired[0].path == "/zookeeper/config"
                    wait_until(lambda: joiner.mode() == "follower", 30, what="member 4 to follow")
                    for s in [*servers, joiner]:
                        with client(s.hosts) as c:
                            c.sync("/zookeeper/config")
                            assert c.get("/zookeeper/config")[0].decode() == want
                    # non-incremental: the new member list replaces the old one (drop 2)
                    keep = [m for m in members if m.id != 2]
                    data, stat = admin.reconfig(
                        joining=None, leaving=None, new_members=",".join(config_lines(keep))
                    )
                    want = "\n".join([*config_lines(keep), f"version={stat.mzxid:x}"])
                    assert data.decode() == want
                    # a stale config id is refused (BadVersion, as ZooKeeper does)
                    from kazoo.exceptions import BadVersionError

                    with pytest.raises(BadVersionError):
                        admin.reconfig(
                            joining=None, leaving="3", new_members=None, from_config=1
                        )
                    with pytest.raises(BadArgumentsError):
                        admin.reconfig(joining=None, leaving=None, new_members="server.x=y")
                    for s in [servers[0], servers[2], joiner]:
                        with client(s.hosts) as c:
                            c.sync("/zookeeper/config")
                            assert c.get("/zookeeper/config")[0].decode() == want
            finally:
                joiner.stop()
