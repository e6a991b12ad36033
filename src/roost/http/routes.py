"""`/v1/session/*`, `/v1/status/*`, `/health` and `/ready`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aiohttp import web

from roost.http.changes import Changes
from roost.http.common import blocking, consistent, error, reply
from roost.http.sessions import BadSession, ConsulSessions, parse_id, parse_settings

if TYPE_CHECKING:
    from roost.server.core import Server


class SessionApi:
    def __init__(self, server: Server, sessions: ConsulSessions, changes: Changes,
                 read_only: bool) -> None:
        self.server = server
        self.sessions = sessions
        self.changes = changes
        self.read_only = read_only

    def routes(self) -> list[web.RouteDef]:
        return [
            web.put("/v1/session/create", self.create),
            web.put("/v1/session/renew/{id}", self.renew),
            web.put("/v1/session/destroy/{id}", self.destroy),
            web.get("/v1/session/info/{id}", self.info),
            web.get("/v1/session/list", self.list),
            web.get("/v1/session/node/{node}", self.node),
        ]

    def _writable(self) -> None:
        if self.read_only:
            raise error(403, "mutating HTTP endpoints are disabled on this server")

    def _id(self, request: web.Request) -> bytes:
        try:
            return parse_id(request.match_info["id"])
        except BadSession as e:
            raise error(400, str(e)) from None

    async def create(self, request: web.Request) -> web.Response:
        self._writable()
        node = f"roost-{self.server.config.server_id}"
        try:
            settings = parse_settings(await request.read(), node)
        except (ValueError, json.JSONDecodeError) as e:
            raise error(400, f"Request decode failed: {e}") from None
        try:
            sid = await self.sessions.create(settings)
        except (ConnectionError, BadSession) as e:
            raise error(500, str(e)) from None
        return reply({"ID": sid})

    async def renew(self, request: web.Request) -> web.Response:
        self._writable()
        raw = self._id(request)
        info = self.sessions.renew(raw)
        if info is None:
            return web.Response(status=404, text=f"Session id '{request.match_info['id']}' "
                                "not found")
        return reply([info], self.sessions.index())

    async def destroy(self, request: web.Request) -> web.Response:
        self._writable()
        await self.sessions.destroy(self._id(request))
        return reply(True)

    async def _wait(self, request: web.Request) -> None:
        await consistent(self.server, request)
        wait = blocking(request)
        if wait is not None:
            await self.changes.wait(self.sessions.root, lambda: self.sessions.index() > wait[0],
                                    wait[1])

    async def info(self, request: web.Request) -> web.Response:
        raw = self._id(request)
        await self._wait(request)
        info = self.sessions.info(raw)
        return reply([info] if info is not None else [], self.sessions.index())

    async def list(self, request: web.Request) -> web.Response:
        await self._wait(request)
        return reply(self.sessions.all(), self.sessions.index())

    async def node(self, request: web.Request) -> web.Response:
        await self._wait(request)
        name = request.match_info["node"]
        mine = [s for s in self.sessions.all() if s["Node"] == name]
        return reply(mine, self.sessions.index())


def leader_address(server: Server) -> str:
    """The leader's peer address as Consul prints its raft address ("" without one)."""
    log = server.log
    if log is None or not log.ensemble:
        return f"{server.config.listen_host}:{server.port}"
    if log.node is None or not log.node.leader:
        return ""
    m = log.members.get(log.node.leader)
    return f"{m.host}:{m.peer_port}" if m is not None else ""


def peer_addresses(server: Server) -> list[str]:
    log = server.log
    if log is None or not log.ensemble:
        return [f"{server.config.listen_host}:{server.port}"]
    return [f"{m.host}:{m.peer_port}" for _i, m in sorted(log.members.items()) if m.voter]


def ready(server: Server) -> tuple[bool, str]:
    if server.log is None or server.log.failed is not None:
        return False, "storage failed"
    if server.partitioned:
        return False, "no leader: cut off from the majority"
    if server.log.ensemble and (server.log.node is None or not server.log.leader):
        return False, "no leader yet"
    return True, "ready"


def status_routes(server: Server) -> list[web.RouteDef]:
    async def leader(request: web.Request) -> web.Response:
        return reply(leader_address(server))

    async def peers(request: web.Request) -> web.Response:
        return reply(peer_addresses(server))

    async def health(request: web.Request) -> web.Response:
        failed = server.log.failed if server.log is not None else None
        if failed is not None:  # alive, but fenced: it will serve nothing until restarted
            return web.Response(text=f"storage failed: {failed}\n", status=503)
        return web.Response(text="ok\n")

    async def ready_(request: web.Request) -> web.Response:
        ok, why = ready(server)
        return web.Response(text=why + "\n", status=200 if ok else 503)

    return [
        web.get("/v1/status/leader", leader),
        web.get("/v1/status/peers", peers),
        web.get("/health", health),
        web.get("/ready", ready_),
    ]
