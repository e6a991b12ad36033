"""A server restart inside the session timeout: the lock holder and the leader keep their
grants (same session, same nodes), waiters keep waiting, and the hand-over afterwards works.
Each backend gets its own server here, since the shared one must not be restarted."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client.helpers import Backend
from compat.conftest import BACKENDS
from roost.recipes import LeaderLatch, Lock
from roost.testing.wait import wait_until_async
from roost.testing.zookeeper import ZooKeeperServer, free_port

from .conftest import start_server, stop_server
from .helpers import Env, states_of


@pytest.fixture(params=BACKENDS)
def own_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    kind: str = request.param
    server = start_server(kind, tmp_path / "data", port=free_port())
    try:
        yield Backend(kind, server.host, server.port, server)
    finally:
        stop_server(kind, server)


def restart(backend: Backend) -> None:
    server: Any = backend.server
    if backend.kind == "roost":
        server.restart()
    else:
        server.kill()  # keeps its files and port
        server.start()


async def test_grants_survive_a_server_restart(own_server: Backend) -> None:
    env = Env(own_server, "/restart")
    try:
        a = await env.client(session_timeout=20)
        b = await env.client(session_timeout=20)
        lock_a, lock_b = Lock(a, "/lock", "a"), Lock(b, "/lock", "b")
        latch_a = LeaderLatch(a, "/latch", "a", lose_on="lost")
        latch_b = LeaderLatch(b, "/latch", "b", lose_on="lost")
        token_a = await lock_a.acquire()
        await latch_a.start()
        assert await latch_a.await_leadership(5)
        await latch_b.start()
        waiting = asyncio.ensure_future(lock_b.acquire())
        seen = states_of(a)
        session = a.session_id
        await asyncio.to_thread(restart, own_server)
        await wait_until_async(lambda: "SUSPENDED" in [s.value for s in seen], what="SUSPENDED")
        await wait_until_async(lambda: seen[-1].value == "RECONNECTED", timeout=20,
                               what="reconnect")
        assert a.session_id == session and "LOST" not in [s.value for s in seen]
        assert lock_a.is_held() and latch_a.has_leadership()
        assert not waiting.done() and not latch_b.has_leadership()
        await lock_a.release()
        assert await asyncio.wait_for(waiting, 10) > token_a
        await latch_a.close()
        assert await latch_b.await_leadership(10)
        await lock_b.release()
        await latch_b.close()
    finally:
        await env.aclose()


def test_zookeeper_log_of_every_start_is_kept_in_the_data_dir(tmp_path: Path) -> None:
    """A flaky restart is explained by ZooKeeper's log: `stop` leaves it in the given data
    dir (pytest keeps tmp_path), with both runs around a kill."""
    data = tmp_path / "data"
    zk = ZooKeeperServer(data_dir=data)
    try:
        zk.start()
        zk.kill()
        zk.start()
    finally:
        zk.stop()
    log = (data / "zookeeper.log").read_text(errors="replace")
    assert log.count("Starting server") == 2
    assert f"clientPortAddress is 127.0.0.1:{zk.port}" in log
