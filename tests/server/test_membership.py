"""Membership changes while clients write: add a 4th member, remove one, lose nothing."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from kazoo.client import KazooClient

from roost.member import reconfig
from roost.replica.member import Member
from roost.testing.server import RoostServer, four_letter, free_port
from roost.testing.wait import wait_until
from roost.testing.zookeeper import SUPER_AUTH, SUPER_DIGEST


def test_add_and_remove_members_while_writing(tmp_path: Path) -> None:
    members = [Member(i + 1, "127.0.0.1", free_port(), free_port()) for i in range(4)]
    founders = members[:3]
    common = {"peer_secret": "s", "super_digest": SUPER_DIGEST}
    servers = [
        RoostServer(
            data_dir=tmp_path / f"m{m.id}",
            port=m.client_port,
            server_id=m.id,
            members=tuple(founders),
            **common,
        )
        for m in founders
    ]
    joiner = RoostServer(
        data_dir=tmp_path / "m4",
        port=members[3].client_port,
        server_id=4,
        members=tuple(members),
        join=True,
        **common,
    )
    for s in servers:
        s.start()
    acked: list[int] = []
    errors: list[str] = []
    stop = threading.Event()
    # the writer knows every member: it must move when its member is removed
    writer = KazooClient(hosts=",".join(f"127.0.0.1:{m.client_port}" for m in members))
    writer.start(timeout=15)
    writer.create("/members")

    def write() -> None:
        i = 0
        while not stop.is_set():
            try:
                writer.create(f"/members/n{i}")
                acked.append(i)
            except Exception as e:  # recorded: a lost connection is allowed, a lost write not
                errors.append(repr(e))
            i += 1

    t = threading.Thread(target=write)
    t.start()
    try:
        joiner.start()
        m4 = members[3]
        spec = f"server.4=127.0.0.1:{m4.peer_port}:{m4.peer_port}:participant;{m4.client_port}"
        admin = KazooClient(hosts=servers[0].hosts, auth_data=[("digest", SUPER_AUTH)])
        admin.start(timeout=15)
        data, _ = admin.reconfig(joining=spec, leaving=None, new_members=None)
        assert b"server.4=" in data
        wait_until(lambda: joiner.mode() == "follower", 20, what="member 4 to follow")
        n_before = len(acked)
        wait_until(lambda: len(acked) > n_before + 20, 20, what="writes to go on")
        # remove the current leader (it hands leadership over first)
        leader = next(i for i, s in enumerate(servers) if s.mode() == "leader")
        text = asyncio.run(
            reconfig(servers[(leader + 1) % 3].hosts, None, str(leader + 1), (SUPER_AUTH,))
        )
        assert f"server.{leader + 1}=" not in text and "server.4=" in text
        rest = [s for i, s in enumerate(servers) if i != leader] + [joiner]
        wait_until(
            lambda: sorted(s.mode() for s in rest) == ["follower", "follower", "leader"], 20,
            what="3 members after the removal",
        )
        new_leader = next(s for s in rest if s.mode() == "leader")
        ids = {m.id for m in members if m.client_port in (s.port for s in rest)}

        def followers_in_raft() -> set[int]:
            out = four_letter(new_leader.host, new_leader.port, "mntr")
            return {
                int(line.split("_")[3])
                for line in out.splitlines()
                if line.startswith("zk_raft_follower_")
            }

        wait_until(
            lambda: (
                followers_in_raft()
                == ids - {m.id for m in members if m.client_port == new_leader.port}
            ), 20,
            what="raft membership without the removed member",
        )
        n_before = len(acked)
        wait_until(lambda: len(acked) > n_before + 20, 20, what="writes after the removal")
        admin.stop()
        admin.close()
    finally:
        stop.set()
        t.join(30)
    check = KazooClient(hosts=joiner.hosts)
    check.start(timeout=15)
    check.sync("/members")
    present = {int(n[1:]) for n in check.get_children("/members")}
    check.stop()
    check.close()
    writer.stop()
    writer.close()
    for s in [*servers, joiner]:
        s.stop()
    assert acked, errors
    missing = set(acked) - present
    assert not missing, f"acknowledged writes lost: {sorted(missing)[:10]}"
