"""A member applies its own writes with the txn it built: the request is decoded once, on
the leader and on a follower alike (its entry comes back from the leader as new bytes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from kazoo.client import KazooClient

from roost.replica import state as replica
from roost.replica.member import Member
from roost.testing.server import RoostServer, free_port
from roost.testing.wait import wait_until
from roost.tree import DataTree
from roost.tree.txn import Kind, Txn, TxnResult


def test_own_writes_are_applied_from_the_txn_built_at_intake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, int, bool]] = []
    real = replica.apply_txn

    def spy(tree: DataTree, zxid: int, txn: Txn) -> TxnResult:
        if txn.kind is Kind.REQUEST:
            seen.append((id(tree), txn.origin, txn.request is not None))
        return real(tree, zxid, txn)

    monkeypatch.setattr(replica, "apply_txn", spy)
    members = tuple(Member(i, "127.0.0.1", free_port(), free_port()) for i in (1, 2, 3))
    servers = [
        RoostServer(data_dir=tmp_path / f"m{m.id}", port=m.client_port, server_id=m.id,
                    members=members, peer_secret="s").start()
        for m in members
    ]
    try:
        wait_until(lambda: any(s.mode() == "leader" for s in servers), 30, what="a leader")
        for s in servers:
            c = KazooClient(hosts=s.hosts, timeout=10)
            c.start(timeout=30)
            for i in range(5):
                c.create(f"/m{s.server.config.server_id if s.server else 0}-{i}")
            c.stop()
            c.close()
        for s in servers:
            assert s.server is not None and s.server.log is not None
            tree, me = id(s.server.log.tree), s.server.config.server_id
            own = [decoded for t, origin, decoded in seen if t == tree and origin == me]
            assert len(own) == 5 and all(own), (s.mode(), own)
    finally:
        for s in servers:
            s.stop()
