"""A bug in an ensemble member's own code (an exception that is no storage failure) stops
the member loudly: the traceback is logged, the server stops and `serve` raises
`ServerCrashed`, instead of a member that keeps running without making progress (which
its peers and clients only see as "no leader")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException

from roost.replica.core import ReplicaCore
from roost.replica.member import Member
from roost.server import Server, ServerCrashed
from roost.testing.server import RoostServer, free_port
from roost.testing.wait import wait_until
from roost.tree.txn import Txn, TxnResult


class Injected(Exception):
    """The failure the test puts into the member's code."""


def start_member(data_dir: Path) -> RoostServer:
    port = free_port()
    members = (Member(1, "127.0.0.1", port, free_port()),)
    srv = RoostServer(data_dir=data_dir, port=port, server_id=1, members=members,
                      peer_secret="s")
    return srv.start()


def create(srv: RoostServer, path: str) -> None:
    c = KazooClient(hosts=srv.hosts, timeout=10)
    c.start(timeout=30)
    try:
        c.create(path, b"x")
    except KazooException:  # the crash ends the connection before the reply
        pass
    finally:
        c.stop()
        c.close()


@pytest.mark.parametrize("where", ["on_applied", "tick"])
def test_a_bug_in_the_raft_cycle_stops_the_member_with_its_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    where: str,
) -> None:
    if where == "on_applied":
        # the host's own code, run by ReplicaCore.advance as it applies an entry (patched
        # before the start: the log holds the bound method)
        applied = Server.on_applied

        def on_applied(self: Server, zxid: int, txn: Txn, result: TxnResult) -> None:
            if b"/boom" in txn.body:
                raise Injected("on_applied failed")
            applied(self, zxid, txn, result)

        monkeypatch.setattr(Server, "on_applied", on_applied)
    srv = start_member(tmp_path / "d")
    try:
        create(srv, "/before")  # the member works
        server = srv.server
        assert server is not None and not server.stopped.is_set()
        if where == "on_applied":
            create(srv, "/boom")
        else:
            # the raft tick task (one that raised used to end silently: no more ticks)
            def tick(self: ReplicaCore, now: float) -> Any:
                raise Injected("tick failed")

            monkeypatch.setattr(ReplicaCore, "tick", tick)

        wait_until(lambda: server.stopped.is_set(), 20, what="the member to stop")
        assert isinstance(server.crashed, Injected)
        wait_until(lambda: srv._error is not None, 20, what="serve() to end")
        assert isinstance(srv._error, ServerCrashed)
        assert isinstance(srv._error.__cause__, Injected)
        text = caplog.text
        assert "internal error in the raft cycle" in text
        assert "Traceback" in text and f"Injected: {where} failed" in text
        assert "storage failed" not in text  # not reported as a disk failure
    finally:
        srv.stop()


def test_roost_serve_exits_1_after_an_internal_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import roost.node
    from roost.cli import run

    def crashed(config: object) -> None:
        raise ServerCrashed("stopped after an internal error: Injected()") from Injected()

    monkeypatch.setattr(roost.node, "run_server", crashed)
    code = run(["serve", "--no-http", "--data-dir", str(tmp_path / "d"), "--port", "0"])
    err = capsys.readouterr().err
    assert code == 1
    assert "roost: stopped after an internal error: Injected()" in err
    assert "Traceback" not in err  # (the server logged it when it happened)
