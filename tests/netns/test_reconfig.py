"""ZooKeeper's dynamic reconfiguration across hosts, as kazoo sends it: incremental
(``joining`` / ``leaving``) and non-incremental (``new_members``), from a client on the client
host, on one bed and one ensemble shared by the tests of this module (in order).

Membership over the module: {1,2,3} -> +4 (on a new host) -> -4 -> the leader dropped by a new
member list (two members left)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient
from kazoo.protocol.states import EventType, WatchedEvent

from roost.testing.netensemble import CLIENT_PORT, PEER_PORT, member_addr
from roost.testing.procs import stop_processes as stop
from roost.testing.server import srvr_mode
from roost.testing.wait import wait_until
from roost.testing.zookeeper import SUPER_AUTH, SUPER_DIGEST

from .conftest import SharedBed, hosts, shared_bed

SETTINGS = f'super_digest = "{SUPER_DIGEST}"\n'


def spec(sid: int) -> str:
    """Member `sid`'s line in ZooKeeper's dynamic config format (roost: one peer port)."""
    addr = member_addr(sid - 1)
    return f"server.{sid}={addr}:{PEER_PORT}:{PEER_PORT}:participant;{addr}:{CLIENT_PORT}"


def config_text(ids: list[int], version: int) -> str:
    return "\n".join([*(spec(i) for i in sorted(ids)), f"version={version:x}"])


@contextlib.contextmanager
def client(ids: list[int], admin: bool = False) -> Iterator[KazooClient]:
    zk = KazooClient(hosts=hosts(ids), timeout=10,
                     auth_data=[("digest", SUPER_AUTH)] if admin else None)
    zk.start(timeout=30)
    try:
        yield zk
    finally:
        zk.stop()
        zk.close()


class Bed(SharedBed):
    """The shared bed and ensemble."""

    def write(self, ids: list[int], prefix: str, n: int) -> None:
        with client(ids) as zk:
            zk.ensure_path("/data")
            for k in range(n):
                path = f"/data/{prefix}-{k:03d}"
                zk.create(path, b"x")
                self.acked.add(path)

    def config_on(self, sid: int) -> str:
        """/zookeeper/config as member `sid` alone serves it (after a sync)."""
        with client([sid]) as zk:
            zk.sync("/zookeeper/config")
            return str(zk.get("/zookeeper/config")[0].decode())


@pytest.fixture(scope="module")
def rb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    with shared_bed(tmp_path_factory.mktemp("reconfig"), 4, SETTINGS, Bed) as state:
        yield state


def test_incremental_join_then_leave_on_a_new_host(rb: Bed) -> None:
    rb.write([1, 2, 3], "before", 20)
    assert rb.config_on(2) == config_text([1, 2, 3], 0)
    rb.start_joiner(4, [1, 2, 3, 4])
    fired = threading.Event()
    events: list[WatchedEvent] = []
    with client([1], admin=True) as admin, client([3]) as watcher:
        watcher.get("/zookeeper/config", watch=lambda ev: (events.append(ev), fired.set()))
        data, stat = admin.reconfig(joining=spec(4), leaving=None, new_members=None)
        joined = config_text([1, 2, 3, 4], stat.mzxid)
        assert data.decode() == joined
        # a data watch set through another member fires (Curator's EnsembleTracker)
        assert fired.wait(10), "no watch event for /zookeeper/config"
        assert (events[0].type, events[0].path) == (EventType.CHANGED, "/zookeeper/config")
        wait_until(lambda: srvr_mode(member_addr(3), CLIENT_PORT) == "follower", 60,
                   what="member 4 to serve as a follower")
        for sid in (1, 2, 3, 4):
            assert rb.config_on(sid) == joined, f"member {sid}"
        with client([4]) as zk4:  # write and read through the new member alone
            zk4.create("/data/via-4", b"four")
            rb.acked.add("/data/via-4")
            assert zk4.get("/data/via-4")[0] == b"four"
        assert rb.acked <= rb.present_on(4)
        with client([2]) as zk2:
            zk2.sync("/data/via-4")
            assert zk2.get("/data/via-4")[0] == b"four"

        data, stat = admin.reconfig(joining=None, leaving="4", new_members=None)
        left = config_text([1, 2, 3], stat.mzxid)
        assert data.decode() == left
    # the removed member knows it and serves nobody
    wait_until(lambda: srvr_mode(member_addr(3), CLIENT_PORT) == "none", 30,
               what="member 4 to stop serving")
    assert stop([rb.extra.pop(4)]) == [0]
    for sid in (1, 2, 3):
        assert rb.config_on(sid) == left, f"member {sid}"
    rb.write([1, 2, 3], "after-leave", 5)


def test_non_incremental_new_members_drops_the_leader(rb: Bed) -> None:
    """The new member list leaves out the member leading now (the harder path: it hands
    leadership over); the two kept serve, with every acknowledged write."""
    rb.write([1, 2, 3], "before-new", 20)
    dropped = rb.ens.leader() + 1
    kept_ids = [i for i in (1, 2, 3) if i != dropped]
    with client(kept_ids[:1], admin=True) as admin:
        data, stat = admin.reconfig(joining=None, leaving=None,
                                    new_members=",".join(spec(i) for i in kept_ids))
        kept = config_text(kept_ids, stat.mzxid)
        assert data.decode() == kept
    wait_until(lambda: srvr_mode(member_addr(dropped - 1), CLIENT_PORT) == "none", 30,
               what=f"member {dropped} (the old leader) to stop serving")
    wait_until(lambda: sorted(srvr_mode(member_addr(i - 1), CLIENT_PORT) for i in kept_ids)
               == ["follower", "leader"], 30, what=f"members {kept_ids} to lead and follow")
    for sid in kept_ids:
        assert rb.config_on(sid) == kept, f"member {sid}"
    rb.write(kept_ids, "after-new", 10)  # the two left are a majority of their ensemble
    for sid in kept_ids:
        assert rb.acked <= rb.present_on(sid), f"member {sid}"
