"""A live server fed mutated frames over many sockets while a normal client keeps working:
the server never crashes, every fuzz connection is closed again, and the normal client's
results stay right."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient

from roost.testing.nemesis.fuzz import hammer
from roost.testing.server import RoostServer, four_letter
from roost.testing.wait import wait_until


@pytest.fixture
def server(tmp_path: object) -> Iterator[RoostServer]:
    with RoostServer(data_dir=f"{tmp_path}/data", max_client_connections=0) as srv:
        yield srv


def _alive_connections(srv: RoostServer) -> int:
    for line in four_letter(srv.host, srv.port, "mntr").splitlines():
        key, _, value = line.partition("\t")
        if key == "zk_num_alive_connections":
            return int(value)
    raise AssertionError("mntr has no zk_num_alive_connections")


def _counter_worker(zk: KazooClient, stop: threading.Event, results: list[tuple[int, int]],
                    limit: int) -> None:
    """Versioned writes of 0, 1, 2, ... to /counter; each reply's version must be n+1."""
    for n in range(limit):
        if stop.is_set():
            return
        stat = zk.set("/counter", str(n).encode(), version=n)
        data, check = zk.get("/counter")
        results.append((stat.version, int(data)))
        assert check.version == n + 1


@pytest.mark.timeout(120)
def test_server_survives_mutated_frames_while_a_client_works(server: RoostServer) -> None:
    zk = KazooClient(hosts=server.hosts, timeout=10)
    zk.start(timeout=30)
    try:
        zk.create("/counter", b"start")
        baseline = _alive_connections(server)  # the client, and the mntr query itself
        stop, results = threading.Event(), []  # type: ignore[var-annotated]
        worker = threading.Thread(target=_counter_worker, args=(zk, stop, results, 100_000))
        worker.start()
        rng = random.Random(20261122)
        made = 0
        for _ in range(4):  # 4 rounds of fuzz connections, then check the server each time
            made += hammer(server.host, server.port, rng, connections=60,
                           deadline=time.monotonic() + 10)
            assert four_letter(server.host, server.port, "ruok") == "imok"
        stop.set()
        worker.join(30)
        assert not worker.is_alive()
        assert made >= 200
        # the normal client's writes all landed in order, none lost or doubled
        assert len(results) > 10
        assert results == [(n + 1, n) for n in range(len(results))]
        data, stat = zk.get("/counter")
        assert (int(data), stat.version) == (len(results) - 1, len(results))
        # every fuzz connection is gone again: only the normal client remains
        wait_until(lambda: _alive_connections(server) <= baseline, 20,
                   what="the fuzz connections to be gone")
        assert baseline <= 2
        assert _alive_connections(server) == baseline
    finally:
        zk.stop()
        zk.close()
