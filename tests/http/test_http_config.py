"""Configuration: read-only HTTP, CORS, another KV root; the API is off by default; the
metrics port from roost's TOML and from ZooKeeper's zoo.cfg."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Served, start_served

from roost.node import http_api, metrics_port
from roost.server.config import ConfigError, ServerConfig
from roost.server.configload import load_toml
from roost.server.zoocfg import load_zoo_cfg
from roost.testing.server import RoostServer


@pytest.fixture(scope="module")
def read_only() -> Iterator[Served]:
    yield from start_served(http_read_only=True, http_cors_origin="https://ops.example",
                            kv_root="/consul/kv")


def test_mutations_refused_when_read_only(read_only: Served) -> None:
    assert read_only.put("/v1/kv/a", b"x").status == 403
    assert read_only.delete("/v1/kv/a").status == 403
    assert read_only.put("/v1/session/create", b"{}").status == 403
    assert read_only.put("/ui/api/node?path=/x", b'{"data": "y"}').status == 403
    assert read_only.get("/v1/kv/a").status == 404  # reads still work
    cluster = read_only.get("/ui/api/cluster").json()
    assert isinstance(cluster, dict) and cluster["read_only"] is True  # the page disables edits


def test_cors_headers_only_when_configured(read_only: Served, served: Served) -> None:
    r = read_only.get("/v1/status/leader")
    assert r.headers.get("Access-Control-Allow-Origin") == "https://ops.example"
    assert "Access-Control-Allow-Origin" not in served.get("/v1/status/leader").headers


def test_kv_root_is_configurable(read_only: Served) -> None:
    from kazoo.client import KazooClient

    zk = KazooClient(hosts=read_only.server.hosts)
    zk.start(timeout=10)
    try:
        zk.ensure_path("/consul/kv/app")
        zk.create("/consul/kv/app/name", b"roost")
    finally:
        zk.stop()
        zk.close()
    _i, item = read_only.consul().kv.get("app/name")
    assert item is not None and item["Value"] == b"roost"


def test_http_is_off_by_default() -> None:
    assert ServerConfig().http_port is None
    with RoostServer(fsync=False) as srv:
        assert srv.server is not None and http_api(srv.server) is None
        assert metrics_port(srv.server) is None
    cfg = ServerConfig().replace(http_port="8500")
    assert cfg.http_port == 8500


def test_a_server_without_http_does_not_import_it() -> None:
    """A plain server starts without aiohttp and prometheus_client (~0.4 s of imports)."""
    code = (
        "import sys; from roost.node import build_server; from roost.server import ServerConfig;"
        "build_server(ServerConfig()); print(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('aiohttp', 'prometheus_client') or m.startswith('roost.http')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_bad_roots_are_refused() -> None:
    from roost.server.config import ConfigError

    for bad in ({"kv_root": "/"}, {"kv_root": "/zookeeper/kv"}, {"kv_root": "kv"},
                {"kv_root": "/a", "http_session_root": "/a/sessions"},
                {"http_services_root": "/kv/services"}, {"kv_root": "/consul/nodes"},
                {"http_services_root": "/consul"}):
        with pytest.raises(ConfigError), RoostServer(http_port=0, fsync=False, **bad):
            pass


def test_stop_answers_pending_blocking_queries() -> None:
    import threading
    import time

    from conftest import http

    from roost.testing.wait import wait_until

    gen = start_served()
    s = next(gen)
    c = s.consul()
    c.kv.put("k", b"v")
    index, _item = c.kv.get("k")
    out: list[int] = []

    def block() -> None:
        out.append(http("GET", f"{s.url}/v1/kv/k?index={index}&wait=60s").status)

    t = threading.Thread(target=block)
    t.start()
    api = http_api(s.server.server) if s.server.server is not None else None
    assert api is not None
    wait_until(lambda: api.changes.waiting == 1, what="the blocking query")
    started = time.monotonic()
    gen.close()  # stops the server
    t.join(30)
    assert time.monotonic() - started < 10
    assert out == [200]  # answered with the current value, not cut off


def test_metrics_port_from_toml_and_zoo_cfg(tmp_path: Path) -> None:
    assert ServerConfig().metrics_port is None
    toml = tmp_path / "roost.toml"
    toml.write_text('[server]\nmetrics_port = 9141\nmetrics_host = "0.0.0.0"\n')
    cfg = load_toml(toml)
    assert (cfg.metrics_port, cfg.metrics_host, cfg.http_port) == (9141, "0.0.0.0", None)
    zoo = tmp_path / "zoo.cfg"
    provider = ("metricsProvider.className="
                "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n")
    zoo.write_text("clientPort=2181\n" + provider + "metricsProvider.exportJvmInfo=true\n")
    cfg = load_zoo_cfg(zoo)
    assert (cfg.metrics_port, cfg.metrics_host) == (7000, "0.0.0.0")  # ZooKeeper's defaults
    zoo.write_text(provider + "metricsProvider.httpPort=7001\nmetricsProvider.httpHost=::1\n")
    cfg = load_zoo_cfg(zoo)
    assert (cfg.metrics_port, cfg.metrics_host) == (7001, "::1")
    zoo.write_text("metricsProvider.httpPort=7001\n")  # no provider: ZooKeeper serves none
    assert load_zoo_cfg(zoo).metrics_port is None
    for bad in ("metricsProvider.className=com.example.Other\n",
                provider + "metricsProvider.httpsPort=4443\n",
                provider + "metricsProvider.httpPort=seven\n",
                provider + "metricsProvider.httpPort=70000\n"):
        zoo.write_text(bad)
        with pytest.raises(ConfigError):
            load_zoo_cfg(zoo)
