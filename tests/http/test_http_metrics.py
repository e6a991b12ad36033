"""/metrics parses with prometheus-client's parser and its numbers move under load."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import Served, start_served
from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError
from prometheus_client.parser import text_string_to_metric_families


@pytest.fixture(scope="module")
def durable() -> Iterator[Served]:
    yield from start_served(fsync=True)


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
