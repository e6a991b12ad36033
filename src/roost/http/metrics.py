"""Prometheus' text format for one server: `/metrics` on the HTTP API and on the metrics port.

This module only reads. Counts and latencies are recorded by the server where they happen
(`Server.stats`, see roost.server.stats); gauges are read from the server's state (tree,
watches, sessions, raft progress) at scrape time. With them: `process_*` and `python_*`
from prometheus-client's own collectors and `roost_build_info`. No `_created` series.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

import prometheus_client
from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from roost.buildinfo import build_info
from roost.server.stats import Histogram, by_opcode, op_name, result_name, write_name

if TYPE_CHECKING:
    from roost.server.core import Server

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_PYTHON = f"{platform.python_implementation()} {platform.python_version()}"
log = logging.getLogger("roost.metrics")
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _histograms(name: str, doc: str, labels: list[str],
                items: Iterable[tuple[list[str], Histogram]]) -> HistogramMetricFamily:
    fam = HistogramMetricFamily(name, doc, labels=labels)
    for values, h in items:
        buckets = [(_le(b), float(n)) for b, n in h.cumulative()]
        fam.add_metric(values, buckets, h.sum)
    return fam


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


class ServerCollector(Collector):
    """roost_* families: the server's stats and state, read when scraped."""

    def __init__(self, server: Server) -> None:
        self.server = server
        #: further gauges read at scrape time, by name: (help, reader); e.g. the HTTP API's
        #: blocking queries
        self.gauges: dict[str, tuple[str, Callable[[], float]]] = {}

    def collect(self) -> Iterator[Metric]:
        s = self.server
        build = build_info()
        info = GaugeMetricFamily("roost_build_info", "roost's version, Python, source commit",
                                 labels=["version", "python", "commit"])
        info.add_metric([build.version, _PYTHON, build.commit], 1)
        yield info
        yield from self._stats()
        if s.log is None:
            return
        tree = s.tree
        yield _gauge("roost_storage_failed", "1 once a storage error fenced this member "
                     "(it acknowledges nothing until restarted)", int(s.log.failed is not None))
        yield _gauge("roost_znodes", "znodes in the tree", tree.node_count())
        yield _gauge("roost_data_bytes", "approximate data size (paths + data)",
                     tree.approximate_data_size())
        yield _gauge("roost_sessions", "replicated sessions", len(tree.sessions))
        yield _gauge("roost_ephemerals", "ephemeral znodes", tree.ephemeral_count())
        yield _gauge("roost_watches", "watches registered on this member", s.watches.count())
        yield _gauge("roost_connections", "ZooKeeper client connections", len(s.connections))
        yield _gauge("roost_outstanding_requests", "ZooKeeper requests awaiting a reply",
                     sum(len(c.slots) for c in s.connections))
        yield _gauge("roost_last_zxid", "last applied zxid", tree.last_zxid)
        yield _gauge("roost_is_leader", "1 if this member leads (or is standalone)",
                     int(s.is_leader))
        yield _counter("roost_fsyncs", "write-ahead log fsyncs", s.log.fsync_count)
        yield _counter("roost_commit_batches", "group-commit batches", s.log.batches)
        for name, (doc, read) in sorted(self.gauges.items()):
            yield _gauge(name, doc, read())
        yield from self._raft()

    def _stats(self) -> Iterator[Metric]:
        s = self.server
        st = s.stats
        yield _counter("roost_zk_packets_received", "ZooKeeper packets received",
                       s.packets_received)
        yield _counter("roost_zk_packets_sent", "ZooKeeper packets sent", s.packets_sent)
        requests = CounterMetricFamily("roost_zk_requests",
                                       "ZooKeeper requests received, by opcode", labels=["op"])
        for op, n in sorted(st.request_counts().items()):
            requests.add_metric([op_name(op)], n)
        yield requests
        writes = CounterMetricFamily("roost_writes",
                                     "txns applied on this member, by operation and result",
                                     labels=["op", "result"])
        for (kind, op, err), n in sorted(st.writes.items()):
            writes.add_metric([write_name(kind, op), result_name(err)], n)
        yield writes
        yield _counter("roost_writes_lost", "writes whose outcome was lost in a leader change "
                       "(the client was disconnected)", st.writes_lost)
        yield _histograms("roost_write_seconds", "a write from receipt to reply, by opcode",
                          ["op"], (([op_name(op)], h) for op, h in sorted(
                              by_opcode(st.write_seconds).items())))
        yield _histograms("roost_read_seconds", "a read from receipt to reply, by opcode",
                          ["op"], (([op_name(op)], h) for op, h in sorted(
                              by_opcode(st.read_seconds).items())))
        yield _histograms("roost_fsync_seconds", "write-ahead log fsync latency", [],
                          [([], st.fsync_seconds)])
        yield _histograms("roost_snapshot_seconds", "snapshot duration", [],
                          [([], st.snapshot_seconds)])
        yield _counter("roost_snapshot_failures", "snapshots that failed", st.snapshot_failures)
        http = CounterMetricFamily("roost_http_requests", "HTTP requests by route and status",
                                   labels=["method", "route", "status"])
        for key, n in sorted(st.http_requests.items()):
            http.add_metric(list(key), n)
        yield http
        yield _histograms("roost_http_request_seconds", "HTTP request latency",
                          ["method", "route"], ((list(k), h) for k, h in sorted(
                              st.http_seconds.items())))

    def _raft(self) -> Iterator[Metric]:
        log = self.server.log
        if log is None or log.node is None:
            return
        node = log.node
        yield _gauge("roost_raft_term", "raft term", node.term)
        yield _gauge("roost_raft_leader", "id of the leader this member knows (0 = none)",
                     node.leader)
        yield _gauge("roost_raft_commit_index", "raft commit index", node.committed)
        yield _gauge("roost_raft_applied_index", "raft applied index", log.last_index)
        yield _gauge("roost_raft_snapshot_index", "index of the last snapshot",
                     log.snapshot_index)
        lag = GaugeMetricFamily("roost_raft_follower_lag",
                                "entries a follower is behind the leader (on the leader)",
                                labels=["follower"])
        match = GaugeMetricFamily("roost_raft_follower_match",
                                  "a follower's highest replicated index (on the leader)",
                                  labels=["follower"])
        if log.is_leader:
            raft = node.raft
            last = raft.log.last_index()
            for i, p in sorted(raft.prs.items()):
                if i != node.id:
                    lag.add_metric([str(i)], last - p.match)
                    match.add_metric([str(i)], p.match)
        yield lag
        yield match


class Exporter:
    """One server's metrics registry and its `/metrics` handler."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = ServerCollector(server)
        self.registry.register(self.collector)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    async def handle(self, request: web.Request) -> web.Response:
        return web.Response(body=self.render(), headers={"Content-Type": CONTENT_TYPE})


class MetricsPort:
    """`/metrics` on a port of its own (ZooKeeper's metricsProvider.httpPort), served
    whether or not the HTTP API is on."""

    def __init__(self, exporter: Exporter, host: str, port: int) -> None:
        self.exporter = exporter
        self.host = host
        self.port = port
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.add_routes([web.get("/metrics", self.exporter.handle)])
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                    shutdown_timeout=1.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await self.runner.cleanup()
            self.runner = None
            raise
        sockets = getattr(site._server, "sockets", None)  # asyncio's or uvloop's server
        if sockets:
            self.port = sockets[0].getsockname()[1]
        log.info("metrics on http://%s:%d/metrics", self.host, self.port)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
