"""`/v1/agent/*`: the roost member a client talks to plays its local Consul agent.

The agent's node is `roost-<member id>`; its services and checks are kept in the
replicated registry (roost.http.registry), so they survive the member and a failover:
any member's leader runs the TTL timers.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

import roost
from roost.http import ops
from roost.http.common import consistent, error, flag, reply
from roost.http.registry import (
    PASSING,
    WARNING,
    Check,
    Registry,
    RegistryError,
    lower_keys,
    parse_check,
    parse_service,
    text,
)
from roost.http.sessions import CRITICAL, SERF_CHECK, ConsulSessions
from roost.server.clock import now_ms

if TYPE_CHECKING:
    from roost.server.core import Server

log = logging.getLogger("roost.http")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: how often the leader runs the TTL-check and session-check timers
TIMER_S = 0.1
RETRY_S = 1.0


def registry_errors(handler: Handler) -> Handler:
    """RegistryError -> its status; a write that failed -> 500."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except RegistryError as e:
            raise error(e.status, str(e)) from None
        except ops.WriteFailed as e:
            raise error(500, str(e)) from None
        except ConnectionError as e:
            raise error(500, str(e)) from None

    return wrapped


async def json_body(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError as e:
        raise RegistryError(f"Request decode failed: {e}") from None


def member_host(server: Server) -> str:
    """This member's address as its peers know it (the client address when standalone)."""
    cfg = server.config
    return cfg.member().host if cfg.ensemble else cfg.listen_host


def member_port(server: Server) -> int:
    cfg = server.config
    return cfg.member().peer_port if cfg.ensemble else server.port


class AgentApi:
    def __init__(self, server: Server, registry: Registry, sessions: ConsulSessions,
                 read_only: bool) -> None:
        self.server = server
        self.registry = registry
        self.sessions = sessions
        self.read_only = read_only

    def routes(self) -> list[web.RouteDef]:
        w = registry_errors
        return [
            web.get("/v1/agent/self", w(self.self_)),
            web.get("/v1/agent/members", w(self.members)),
            web.get("/v1/agent/services", w(self.services)),
            web.get("/v1/agent/service/{id}", w(self.service)),
            web.put("/v1/agent/service/register", w(self.service_register)),
            web.put("/v1/agent/service/deregister/{id}", w(self.service_deregister)),
            web.get("/v1/agent/checks", w(self.checks)),
            web.put("/v1/agent/check/register", w(self.check_register)),
            web.put("/v1/agent/check/deregister/{id}", w(self.check_deregister)),
            web.put("/v1/agent/check/pass/{id}", w(self.check_pass)),
            web.put("/v1/agent/check/warn/{id}", w(self.check_warn)),
            web.put("/v1/agent/check/fail/{id}", w(self.check_fail)),
            web.put("/v1/agent/check/update/{id}", w(self.check_update)),
        ]

    @property
    def node(self) -> str:
        return self.registry.agent_node

    def address(self) -> str:
        return member_host(self.server)

    def _writable(self) -> None:
        if self.read_only:
            raise error(403, "mutating HTTP endpoints are disabled on this server")

    # --- reads ------------------------------------------------------------------------
    async def self_(self, request: web.Request) -> web.Response:
        cfg = self.server.config
        member = {"Name": self.node, "Addr": self.address(), "Port": member_port(self.server),
                  "Tags": {"role": "consul", "dc": "dc1", "build": roost.__version__},
                  "Status": 1}
        return reply({
            "Config": {"Datacenter": "dc1", "PrimaryDatacenter": "dc1", "NodeName": self.node,
                       "NodeID": "", "Server": True, "Revision": "",
                       "Version": f"roost-{roost.__version__}"},
            "Member": member,
            "Meta": {},
            "Stats": {"roost": {"mode": self.server.mode, "member_id": str(cfg.server_id)}},
        })

    async def members(self, request: web.Request) -> web.Response:
        log = self.server.log
        out = []
        if log is not None and log.ensemble:
            for mid, m in sorted(log.members.items()):
                out.append({"Name": f"roost-{mid}", "Addr": m.host, "Port": m.peer_port,
                            "Tags": {"role": "consul" if m.voter else "observer", "dc": "dc1"},
                            "Status": 1})
        else:
            cfg = self.server.config
            out.append({"Name": self.node, "Addr": cfg.listen_host, "Port": self.server.port,
                        "Tags": {"role": "consul", "dc": "dc1"}, "Status": 1})
        return reply(out)

    async def services(self, request: web.Request) -> web.Response:
        await consistent(self.server, request)
        mine = {i.service_id: i.agent_api() for i in self.registry.instances()
                if i.node == self.node and not i.zookeeper}
        return reply(mine)

    async def service(self, request: web.Request) -> web.Response:
        await consistent(self.server, request)
        sid = request.match_info["id"]
        for i in self.registry.instances():
            if i.node == self.node and not i.zookeeper and i.service_id == sid:
                return reply(i.agent_api(), self.registry.index())
        raise error(404, f"unknown service ID: {sid}")

    async def checks(self, request: web.Request) -> web.Response:
        await consistent(self.server, request)
        mine = {c.check_id: c.api() for c in self.registry.stored_checks()
                if c.node == self.node and c.check_id != SERF_CHECK}  # as Consul's agent
        return reply(mine)

    # --- services -----------------------------------------------------------------------
    async def service_register(self, request: web.Request) -> web.Response:
        self._writable()
        body = lower_keys(await json_body(request), "the service definition")
        await self.registry.register_agent_node(self.address(), now_ms())
        inst = parse_service(body, self.node, self.address())
        defs: list[object] = []
        if body.get("check"):
            defs.append(body["check"])
        extra = body.get("checks") or []
        if not isinstance(extra, list):
            raise RegistryError("Checks must be a list")
        defs += extra
        checks = []
        for n, d in enumerate(defs):
            default = f"service:{inst.service_id}" + (f":{n + 1}" if len(defs) > 1 else "")
            c = parse_check(d, self.node, agent=True, service=inst, default_id=default)
            if not lower_keys(d, "Check").get("name"):
                c = c.with_(name=f"Service '{inst.name}' check")
            checks.append(c)
        now = now_ms()
        if flag(request, "replace-existing-checks"):
            keep = {c.check_id for c in checks}
            for old in self.registry.stored_checks():
                if (old.node == self.node and old.service_id == inst.service_id
                        and old.check_id not in keep):
                    await self.registry.delete_check(self.node, old.check_id)
        for c in checks:
            await self.registry.put_check(c, now)
        await self.registry.put_instance(inst, now)
        return web.Response(status=200)

    async def service_deregister(self, request: web.Request) -> web.Response:
        self._writable()
        sid = request.match_info["id"]
        if not await self.registry.delete_instance(self.node, sid):
            raise error(404, f'Unknown service ID "{sid}". Ensure that the service ID is '
                             "passed, not the service name.")
        await self.sessions_check()
        return web.Response(status=200)

    # --- checks -------------------------------------------------------------------------
    async def check_register(self, request: web.Request) -> web.Response:
        self._writable()
        body = lower_keys(await json_body(request), "the check definition")
        await self.registry.register_agent_node(self.address(), now_ms())
        service = None
        sid = text(body, "serviceid", "Check")
        if sid:
            service = next((i for i in self.registry.instances() if i.node == self.node
                            and not i.zookeeper and i.service_id == sid), None)
            if service is None:
                raise RegistryError(f'ServiceID "{sid}" does not exist')
        c = parse_check(body, self.node, agent=True, service=service)
        await self.registry.put_check(c, now_ms())
        await self.sessions_check()
        return web.Response(status=200)

    async def check_deregister(self, request: web.Request) -> web.Response:
        self._writable()
        cid = request.match_info["id"]
        if not await self.registry.delete_check(self.node, cid):
            raise error(404, f'Unknown check ID "{cid}". Ensure that the check ID is passed, '
                             "not the check name.")
        await self.sessions_check()
        return web.Response(status=200)

    async def _set(self, request: web.Request, status: str, output: str | None) -> web.Response:
        self._writable()
        c: Check = await self.registry.update_check(self.node, request.match_info["id"],
                                                    status, output, now_ms())
        if c.status == CRITICAL:
            await self.sessions_check()
        return web.Response(status=200)

    async def check_pass(self, request: web.Request) -> web.Response:
        return await self._set(request, PASSING, request.query.get("note"))

    async def check_warn(self, request: web.Request) -> web.Response:
        return await self._set(request, WARNING, request.query.get("note"))

    async def check_fail(self, request: web.Request) -> web.Response:
        return await self._set(request, CRITICAL, request.query.get("note"))

    async def check_update(self, request: web.Request) -> web.Response:
        body = lower_keys(await json_body(request) or {}, "the update")
        status = text(body, "status", "the update")
        if status not in (PASSING, WARNING, CRITICAL):
            raise RegistryError(f"Invalid check status: {status!r}")
        out = text(body, "output", "the update") if "output" in body else None
        return await self._set(request, status, out)

    async def sessions_check(self) -> None:
        """A check went critical or away: invalidate the sessions tied to it now (the
        leader's timer would, a moment later)."""
        await self.sessions.invalidate_failed()


async def run_timers(registry: Registry, sessions: ConsulSessions) -> None:
    """Drive the registry's timers with the wall clock (the leader acts, others idle)."""
    while True:
        await asyncio.sleep(TIMER_S)
        try:
            await registry.tick(now_ms(), sessions)
        except (ops.WriteFailed, ConnectionError) as e:
            log.debug("registry timers: %s", e)
        except Exception:
            log.exception("registry timers failed; retrying")


async def publish_agent_node(registry: Registry, address: str) -> None:
    """Register this member as a Consul node once there is a leader to write to."""
    while True:
        log_ = registry.server.log
        if log_ is None or not log_.ensemble or log_.leader:
            try:
                await registry.register_agent_node(address, now_ms())
                return
            except (ops.WriteFailed, ConnectionError) as e:
                log.debug("registering the agent's node failed: %s", e)
        await asyncio.sleep(RETRY_S)


def unserved_routes() -> list[web.RouteDef]:
    """Every other /v1/ path: a Consul-shaped error naming what roost does not serve (a
    bare 404 would read as "no such key" to a Consul client); a served path asked with
    another method answers 405 with the methods it takes."""
    pattern = "/v1/{tail:.*}"

    async def unserved(request: web.Request) -> web.Response:
        allowed: set[str] = set()
        for res in request.app.router.resources():
            if res.canonical == "/v1/{tail}":
                continue
            match, methods = await res.resolve(request)
            if match is None and methods:
                allowed |= methods
        if allowed:
            raise web.HTTPMethodNotAllowed(
                request.method, sorted(allowed),
                text=f"method {request.method} not allowed on {request.path}")
        raise error(501, f"roost does not serve {request.method} {request.path} (see "
                         "docs/http.md for the Consul endpoints it serves)")

    return [web.route("*", pattern, unserved)]
