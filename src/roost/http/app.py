"""The HTTP app: built on the server's event loop, started and stopped with it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from roost.http.agent import (
    AgentApi,
    member_host,
    publish_agent_node,
    run_timers,
    unserved_routes,
)
from roost.http.catalog import CatalogApi
from roost.http.changes import Changes
from roost.http.directory import HttpDirectory
from roost.http.history import HistoryApi
from roost.http.kv import KvApi
from roost.http.metrics import Exporter
from roost.http.registry import Registry
from roost.http.routes import SessionApi, status_routes
from roost.http.sessions import ConsulSessions
from roost.http.snapshot import snapshot_routes
from roost.http.txn import TxnApi
from roost.http.ui import Dashboard, EventFeed
from roost.server.config import ConfigError
from roost.tree import is_valid_path

if TYPE_CHECKING:
    from roost.server.core import Server

log = logging.getLogger("roost.http")
#: how long stopping waits for HTTP requests in progress
SHUTDOWN_S = 2.0
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _cors(origin: str) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "OPTIONS":
            resp: web.StreamResponse = web.Response(status=204)
        else:
            resp = await handler(request)
        resp.headers["Access-Control-Allow-Origin"] = origin
        resp.headers["Access-Control-Allow-Methods"] = "GET, PUT, POST, DELETE, OPTIONS"
        resp.headers["Access-Control-Allow-Headers"] = "Content-Type, X-Consul-Token"
        resp.headers["Access-Control-Expose-Headers"] = "X-Consul-Index"
        return resp

    return cors


def _timing(server: Server) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """Count every request and its latency in the server's stats, by route."""
    stats = server.stats

    @web.middleware
    async def timing(request: web.Request, handler: Handler) -> web.StreamResponse:
        info = request.match_info.route.resource
        route = info.canonical if info is not None else "unmatched"
        started = time.monotonic()
        status = 500
        try:
            resp = await handler(request)
            status = resp.status
            return resp
        except web.HTTPException as e:
            status = e.status
            raise
        finally:
            stats.http(request.method, route, status, time.monotonic() - started)

    return timing


class HttpApi:
    """Consul-style KV and sessions, status, metrics and the dashboard for one server."""

    def __init__(self, server: Server, metrics: Exporter | None = None) -> None:
        cfg = server.config
        self.server = server
        self.kv_root = _root("kv_root", cfg.kv_root)
        self.changes = Changes()
        self.feed = EventFeed()
        session_root = _root("http_session_root", cfg.http_session_root)
        self.sessions = ConsulSessions(server, session_root, self.kv_root,
                                       cfg.http_time_scale_pct / 100)
        consul_root = session_root.rsplit("/", 1)[0]  # nodes and checks sit next to sessions
        services_root = _root("http_services_root", cfg.http_services_root)
        self.registry = Registry(server, consul_root, services_root,
                                 cfg.http_time_scale_pct / 100)
        _disjoint({"kv_root": self.kv_root, "http_session_root": session_root,
                   "http_services_root": services_root,
                   "the catalog's nodes": self.registry.nodes_root,
                   "the catalog's checks": self.registry.checks_root})
        self.sessions.check_status = self.registry.check_status
        self.metrics = metrics if metrics is not None else Exporter(server)
        self.metrics.collector.gauges["roost_http_blocking_queries"] = (
            "HTTP blocking queries waiting", lambda: self.changes.waiting)
        members_root = session_root.rsplit("/", 1)[0] + "/http-members"
        self.directory = HttpDirectory(server, members_root, cfg.http_port or 0)
        self.history = HistoryApi(server)
        self.runner: web.AppRunner | None = None
        self.port = 0
        self._tasks: list[asyncio.Task[None]] = []

    def build(self) -> web.Application:
        cfg = self.server.config
        middlewares: list[Any] = [_timing(self.server)]
        if cfg.http_cors_origin:
            middlewares.append(_cors(cfg.http_cors_origin))
        app = web.Application(middlewares=middlewares, client_max_size=cfg.max_frame_bytes)
        ro = cfg.http_read_only
        kv = KvApi(self.server, self.kv_root, self.sessions, self.changes, ro)
        app.add_routes(kv.routes())
        app.add_routes(TxnApi(kv).routes())
        app.add_routes(AgentApi(self.server, self.registry, self.sessions, ro).routes())
        app.add_routes(CatalogApi(self.server, self.registry, self.sessions, self.changes,
                                  ro).routes())
        app.add_routes(SessionApi(self.server, self.sessions, self.changes, ro).routes())
        app.add_routes(status_routes(self.server))
        app.add_routes(snapshot_routes(self.server))
        app.add_routes(Dashboard(self.server, self.feed, ro, self.directory).routes())
        app.add_routes([web.get("/metrics", self.metrics.handle)])
        app.add_routes(self.history.routes())
        app.add_routes(unserved_routes())  # last: every other /v1/ path
        return app

    async def start(self) -> None:
        s = self.server
        cfg = s.config
        assert cfg.http_port is not None
        s.watches.add_persistent(self.kv_root, self.changes, recursive=True)
        s.watches.add_persistent(self.sessions.root, self.changes, recursive=True)
        for root in (self.registry.nodes_root, self.registry.checks_root,
                     self.registry.services_root):
            s.watches.add_persistent(root, self.changes, recursive=True)
        s.watches.add_persistent("/", self.feed, recursive=True)
        s.listeners.append(self.sessions.on_event)
        s.listeners.append(self.feed.on_event)
        self.runner = web.AppRunner(self.build(), access_log=None, handle_signals=False,
                                    shutdown_timeout=SHUTDOWN_S)
        await self.runner.setup()
        host = cfg.http_listen_host
        tls = s.tls.http if s.tls is not None and cfg.http_tls else None
        site = web.TCPSite(
            self.runner,
            None if host == "*" else host,
            cfg.http_port,
            reuse_address=True,
            ssl_context=tls,
        )
        await site.start()
        server = site._server
        if isinstance(server, asyncio.base_events.Server) and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        else:
            self.port = cfg.http_port
        self.directory.port = self.port
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self.sessions.run_sweeper()))
        self._tasks.append(loop.create_task(self.directory.publish()))
        self._tasks.append(loop.create_task(run_timers(self.registry, self.sessions)))
        self._tasks.append(loop.create_task(publish_agent_node(self.registry,
                                                               member_host(s))))
        scheme = "https" if tls is not None else "http"
        log.info("HTTP API on %s://%s:%d/ (dashboard at /ui)", scheme, host, self.port)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        s = self.server
        for listener in (self.sessions.on_event, self.feed.on_event):
            if listener in s.listeners:
                s.listeners.remove(listener)
        s.watches.drop(self.changes)
        s.watches.drop(self.feed)
        self.changes.close()
        self.history.close()
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
        await self.directory.close()
        self.metrics.collector.gauges.pop("roost_http_blocking_queries", None)


def _root(key: str, path: str) -> str:
    path = path.rstrip("/")
    if not path or not is_valid_path(path) or path == "/zookeeper" or path.startswith(
        "/zookeeper/"
    ):
        raise ConfigError(f"{key}: must be a znode path below / outside /zookeeper, got {path!r}")
    return path


def _disjoint(roots: dict[str, str]) -> None:
    """No root may lie inside another (KV keys would show catalog data, and so on)."""
    items = list(roots.items())
    for i, (ka, a) in enumerate(items):
        for kb, b in items[i + 1:]:
            if a == b or a.startswith(b + "/") or b.startswith(a + "/"):
                raise ConfigError(f"{ka} ({a}) and {kb} ({b}) must not overlap")

