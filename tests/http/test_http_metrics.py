"""/metrics parses with prometheus-client's parser and its numbers move under load."""

from __future__ import annotations

import platform
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Served, http, start_served
from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError
from prometheus_client.parser import text_string_to_metric_families

import roost
from roost.node import http_api, metrics_port
from roost.testing.server import RoostServer
from roost.testing.wait import wait_until


@pytest.fixture(scope="module")
def durable() -> Iterator[Served]:
    yield from start_served(fsync=True, snapshot_every=25)


def scrape(served: Served) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = served.get("/metrics")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(r.body.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(m: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:
    return m.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_move_under_load(durable: Served) -> None:
    before = scrape(durable)
    assert value(before, "roost_is_leader") == 1.0
    zk = KazooClient(hosts=durable.server.hosts)
    zk.start(timeout=10)
    try:
        zk.ensure_path("/load")
        for i in range(60):
            zk.create(f"/load/n{i}", b"x" * 100)
        with pytest.raises(NodeExistsError):
            zk.create("/load/n0", b"")
        zk.get_children("/load", watch=lambda ev: None)
        during = scrape(durable)
        assert value(during, "roost_connections") >= 1
        assert value(during, "roost_watches") > value(before, "roost_watches")
        assert value(during, "roost_sessions") >= 1
    finally:
        zk.stop()
        zk.close()
    c = durable.consul()
    for i in range(10):
        c.kv.put(f"m/{i}", b"v")
    after = scrape(durable)
    assert value(after, "roost_znodes") >= value(before, "roost_znodes") + 61 + 10
    assert value(after, "roost_data_bytes") > value(before, "roost_data_bytes") + 6000
    assert value(after, "roost_zk_requests_total", op="create") >= 61
    creates = value(after, "roost_writes_total", op="create", result="ok")
    assert creates - value(before, "roost_writes_total", op="create", result="ok") >= 61
    assert value(after, "roost_writes_total", op="create", result="node_exists") >= 1
    assert value(after, "roost_write_seconds_count", op="create") >= creates
    assert value(after, "roost_write_seconds_count", op="set_data") >= 0
    assert value(after, "roost_fsync_seconds_count") > value(before, "roost_fsync_seconds_count")
    assert value(after, "roost_fsyncs_total") >= value(after, "roost_fsync_seconds_count") - 1
    assert value(after, "roost_last_zxid") > value(before, "roost_last_zxid")
    # 70 txns with snapshot_every=25: forked snapshots, timed when their child is reaped
    snaps = value(before, "roost_snapshot_seconds_count")
    wait_until(lambda: value(scrape(durable), "roost_snapshot_seconds_count") > snaps,
               what="a timed snapshot")
    assert value(scrape(durable), "roost_snapshot_failures_total") == 0
    route = "/v1/kv/{key}"
    assert value(after, "roost_http_requests_total", method="PUT", route=route,
                 status="200") >= 10
    assert value(after, "roost_http_request_seconds_count", method="PUT", route=route) >= 10


def test_status_health_ready(served: Served) -> None:
    assert served.consul().status.leader() == f"127.0.0.1:{served.server.port}"
    assert served.consul().status.peers() == [f"127.0.0.1:{served.server.port}"]
    assert served.get("/health").status == 200
    r = served.get("/ready")
    assert r.status == 200 and r.body == b"ready\n"


def test_read_latency_build_info_process_and_no_created_series(served: Served) -> None:
    before = scrape(served)
    zk = KazooClient(hosts=served.server.hosts)
    zk.start(timeout=10)
    try:
        zk.ensure_path("/reads")
        for _ in range(20):
            zk.get("/reads")
        zk.get_children("/reads")
    finally:
        zk.stop()
        zk.close()
    after = scrape(served)
    gets = (value(after, "roost_read_seconds_count", op="get_data")
            - value(before, "roost_read_seconds_count", op="get_data"))
    assert gets >= 20
    assert value(after, "roost_read_seconds_bucket", op="get_data", le="+Inf") == value(
        after, "roost_read_seconds_count", op="get_data")
    assert value(after, "roost_read_seconds_count", op="get_children") >= 1
    assert value(after, "roost_zk_requests_total", op="get_data") >= gets
    info = [labels for (name, labels) in after if name == "roost_build_info"]
    assert len(info) == 1
    build = dict(info[0])
    assert build["version"] == roost.__version__ and build["python"].split()[-1] == (
        platform.python_version())
    assert "commit" in build
    assert value(after, "process_resident_memory_bytes") > 1_000_000
    assert value(after, "process_cpu_seconds_total") > 0
    assert value(after, "process_open_fds") > 0
    names = {name for name, _ in after}
    assert not [n for n in names if n.endswith("_created")]
    assert "roost_http_requests_total" in names and "python_info" in names


def test_metrics_port_serves_without_the_http_api() -> None:
    with RoostServer(fsync=False, metrics_port=0) as srv:
        assert srv.server is not None and http_api(srv.server) is None
        port = metrics_port(srv.server)
        assert port
        zk = KazooClient(hosts=srv.hosts)
        zk.start(timeout=10)
        try:
            zk.create("/m", b"x")
            zk.get("/m")
        finally:
            zk.stop()
            zk.close()
        url = f"http://127.0.0.1:{port}"
        r = http("GET", url + "/metrics")
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for f in text_string_to_metric_families(r.body.decode()) for s in f.samples}
        assert value(samples, "roost_writes_total", op="create", result="ok") >= 1
        assert value(samples, "roost_read_seconds_count", op="get_data") >= 1
        assert value(samples, "roost_is_leader") == 1
        assert http("GET", url + "/v1/kv/x").status == 404  # only metrics on this port


def test_a_taken_metrics_port_fails_the_start_cleanly(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError), RoostServer(tmp_path / "d", fsync=False,
                                                 metrics_port=port):
            pass
    # the failed server let go of its data directory and its ports
    with RoostServer(tmp_path / "d", fsync=False, metrics_port=port) as srv:
        assert srv.server is not None and metrics_port(srv.server) == port
        assert http("GET", f"http://127.0.0.1:{port}/metrics").status == 200
