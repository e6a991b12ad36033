"""`/metrics` in Prometheus' text format, on a registry of this server's own.

Figures read at scrape time come from the server's state (tree, watches, sessions,
raft progress). Request counts, latencies, fsync and snapshot times are recorded by
wrapping a few methods of this server's objects when the HTTP app starts
(`Server.dispatch`, the log's `propose` and `snapshot`, the write-ahead log's `sync`);
`detach()` puts them back.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from roost.server.replica import LOST
from roost.tree.txn import Kind, Txn, TxnResult
from roost.wire.errors import Err
from roost.wire.opcodes import Op

if TYPE_CHECKING:
    from roost.server.connection import Connection
    from roost.server.core import Server

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)


def op_name(op: int) -> str:
    try:
        return Op(op).name.lower()
    except ValueError:
        return f"op{op}"


def result_name(err: int) -> str:
    if err == 0:
        return "ok"
    try:
        return Err(err).name.lower()
    except ValueError:
        return f"err{err}"


class StateCollector(Collector):
    """Gauges read from the server when scraped."""

    def __init__(self, server: Server, blocking: Callable[[], int]) -> None:
        self.server = server
        self.blocking = blocking

    def collect(self) -> Iterator[Metric]:
        s = self.server
        if s.log is None:
            return
        tree = s.tree
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
        yield _gauge("roost_http_blocking_queries", "HTTP blocking queries waiting",
                     self.blocking())
        yield _gauge("roost_is_leader", "1 if this member leads (or is standalone)",
                     int(s.is_leader))
        yield _counter("roost_fsyncs", "write-ahead log fsyncs", s.log.fsync_count)
        yield _counter("roost_commit_batches", "group-commit batches", s.log.batches)
        yield _counter("roost_zk_packets_received", "ZooKeeper packets received",
                       s.packets_received)
        yield _counter("roost_zk_packets_sent", "ZooKeeper packets sent", s.packets_sent)
        yield from self._raft()

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


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


class Metrics:
    def __init__(self, server: Server, blocking: Callable[[], int]) -> None:
        self.server = server
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(StateCollector(server, blocking))
        r = self.registry
        self.zk_requests = Counter("roost_zk_requests", "ZooKeeper requests received, by opcode",
                                   ["op"], registry=r)
        self.writes = Counter("roost_writes", "writes applied, by opcode and result",
                              ["op", "result"], registry=r)
        self.write_seconds = Histogram("roost_write_seconds",
                                       "proposal to apply, by opcode", ["op"],
                                       buckets=_LATENCY_BUCKETS, registry=r)
        self.http_requests = Counter("roost_http_requests", "HTTP requests by route and status",
                                     ["method", "route", "status"], registry=r)
        self.http_seconds = Histogram("roost_http_request_seconds", "HTTP request latency",
                                      ["method", "route"], buckets=_LATENCY_BUCKETS, registry=r)
        self.fsync_seconds = Histogram("roost_fsync_seconds", "write-ahead log fsync latency",
                                       buckets=_LATENCY_BUCKETS, registry=r)
        self.snapshot_seconds = Histogram("roost_snapshot_seconds", "snapshot duration",
                                          buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60),
                                          registry=r)
        self._restore: list[tuple[object, str, object]] = []

    # --- instrumentation ----------------------------------------------------------------
    def attach(self) -> None:
        s = self.server
        assert s.log is not None
        self._wrap(s, "dispatch", self._dispatch(s.dispatch))
        self._wrap(s.log, "propose", self._propose(s.log.propose))
        self._wrap(s.log, "snapshot", self._snapshot(s.log.snapshot))
        if s.datadir is not None:
            wal = s.datadir.wal
            self._wrap(wal, "sync", self._timed(wal.sync, self.fsync_seconds))

    def detach(self) -> None:
        for obj, name, _orig in reversed(self._restore):
            vars(obj).pop(name, None)
        self._restore.clear()

    def _wrap(self, obj: object, name: str, fn: object) -> None:
        self._restore.append((obj, name, getattr(obj, name)))
        setattr(obj, name, fn)

    def _dispatch(self, orig: Callable[[Connection, bytes], None]) -> Callable[..., None]:
        counter = self.zk_requests
        children: dict[int, Any] = {}  # opcode -> its labelled counter (saves labels())

        @functools.wraps(orig)
        def dispatch(conn: Connection, body: bytes) -> None:
            if len(body) >= 8:
                op = int.from_bytes(body[4:8], "big", signed=True)
                child = children.get(op)
                if child is None:
                    child = children[op] = counter.labels(op_name(op))
                child.inc()
            orig(conn, body)

        return dispatch

    def _propose(self, orig: Callable[..., None]) -> Callable[..., None]:
        writes, seconds = self.writes, self.write_seconds
        counters: dict[tuple[str, int | None], Any] = {}  # (op, err or None if lost) -> child
        histograms: dict[str, Any] = {}

        def count(name: str, res: TxnResult) -> None:
            key = (name, None if res is LOST else res.err)
            child = counters.get(key)
            if child is None:
                result = "connection_loss" if res is LOST else result_name(res.err)
                child = counters[key] = writes.labels(name, result)
            child.inc()

        @functools.wraps(orig)
        def propose(txn: Txn, done: Callable[[int, TxnResult], None] | None = None,
                    *args: Any, **kwargs: Any) -> None:
            name = op_name(txn.op) if txn.kind is Kind.REQUEST else txn.kind.name.lower()
            started = time.monotonic()

            def observed(zxid: int, res: TxnResult) -> None:
                count(name, res)
                hist = histograms.get(name)
                if hist is None:
                    hist = histograms[name] = seconds.labels(name)
                hist.observe(time.monotonic() - started)
                if done is not None:
                    done(zxid, res)

            orig(txn, observed, *args, **kwargs)

        return propose

    def _snapshot(self, orig: Callable[[], Coroutine[Any, Any, None]]
                  ) -> Callable[[], Coroutine[Any, Any, None]]:
        hist = self.snapshot_seconds

        @functools.wraps(orig)
        async def snapshot() -> None:
            with hist.time():
                await orig()

        return snapshot

    @staticmethod
    def _timed(orig: Callable[[], None], hist: Histogram) -> Callable[[], None]:
        @functools.wraps(orig)
        def timed() -> None:
            with hist.time():
                orig()

        return timed

    # --- HTTP -------------------------------------------------------------------------------
    @web.middleware
    async def middleware(self, request: web.Request,
                         handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        info = request.match_info.route.resource
        route = info.canonical if info is not None else "unmatched"
        started = time.monotonic()
        status = 500
        try:
            resp: web.StreamResponse = await handler(request)
            status = resp.status
            return resp
        except web.HTTPException as e:
            status = e.status
            raise
        finally:
            self.http_requests.labels(request.method, route, str(status)).inc()
            self.http_seconds.labels(request.method, route).observe(time.monotonic() - started)

    async def handle(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry),
                            headers={"Content-Type": CONTENT_TYPE})
