"""The HTTP app: built on the server's event loop, started and stopped with it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from roost.http.changes import Changes
from roost.http.directory import HttpDirectory
from roost.http.history import HistoryApi
from roost.http.kv import KvApi
from roost.http.metrics import Metrics
from roost.http.routes import SessionApi, status_routes
from roost.http.sessions import ConsulSessions
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


class HttpApi:
    """Consul-style KV and sessions, status, metrics and the dashboard for one server."""

    def __init__(self, server: Server) -> None:
        cfg = server.config
        self.server = server
        self.kv_root = _root("kv_root", cfg.kv_root)
        self.changes = Changes()
        self.feed = EventFeed()
        session_root = _root("http_session_root", cfg.http_session_root)
        if session_root.startswith(self.kv_root + "/") or session_root == self.kv_root:
            raise ConfigError("http_session_root: must not be inside kv_root")
        self.sessions = ConsulSessions(server, session_root, self.kv_root)
        self.metrics = Metrics(server, lambda: self.changes.waiting)
        members_root = session_root.rsplit("/", 1)[0] + "/http-members"
        self.directory = HttpDirectory(server, members_root, cfg.http_port or 0)
        self.history = HistoryApi(server)
        self.runner: web.AppRunner | None = None
        self.port = 0
        self._tasks: list[asyncio.Task[None]] = []

    def build(self) -> web.Application:
        cfg = self.server.config
        middlewares: list[Any] = [self.metrics.middleware]
        if cfg.http_cors_origin:
            middlewares.append(_cors(cfg.http_cors_origin))
        app = web.Application(middlewares=middlewares, client_max_size=cfg.max_frame_bytes)
        ro = cfg.http_read_only
        app.add_routes(KvApi(self.server, self.kv_root, self.sessions, self.changes, ro).routes())
        app.add_routes(SessionApi(self.server, self.sessions, self.changes, ro).routes())
        app.add_routes(status_routes(self.server))
        app.add_routes(Dashboard(self.server, self.feed, ro, self.directory).routes())
        app.add_routes([web.get("/metrics", self.metrics.handle)])
        app.add_routes(self.history.routes())
        return app

    async def start(self) -> None:
        s = self.server
        cfg = s.config
        assert cfg.http_port is not None
        s.watches.add_persistent(self.kv_root, self.changes, recursive=True)
        s.watches.add_persistent(self.sessions.root, self.changes, recursive=True)
        s.watches.add_persistent("/", self.feed, recursive=True)
        s.listeners.append(self.sessions.on_event)
        s.listeners.append(self.feed.on_event)
        self.metrics.attach()
        self.runner = web.AppRunner(self.build(), access_log=None, handle_signals=False,
                                    shutdown_timeout=SHUTDOWN_S)
        await self.runner.setup()
        site = web.TCPSite(self.runner, cfg.http_host, cfg.http_port, reuse_address=True)
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
        log.info("HTTP API on http://%s:%d/ (dashboard at /ui)", cfg.http_host, self.port)

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
        self.metrics.detach()


def _root(key: str, path: str) -> str:
    path = path.rstrip("/")
    if not path or not is_valid_path(path) or path == "/zookeeper" or path.startswith(
        "/zookeeper/"
    ):
        raise ConfigError(f"{key}: must be a znode path below / outside /zookeeper, got {path!r}")
    return path


async def start_http(server: Server) -> HttpApi | None:
    """Start the HTTP API if the server's config enables it (http_port is not None)."""
    if server.config.http_port is None:
        return None
    api = HttpApi(server)
    await api.start()
    return api
