"""`/v1/catalog/*` and `/v1/health/*` on the replicated registry (roost.http.registry).

Every read can block (`?index=` and `?wait=`): it answers once the registry's index (the
largest zxid among nodes, checks and instances) passes the one given, or the wait ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from roost.http.agent import json_body, registry_errors
from roost.http.changes import Changes
from roost.http.common import blocking, consistent, error, flag, reply
from roost.http.registry import (
    PASSING,
    STATUSES,
    CatalogNode,
    Check,
    Instance,
    Registry,
    RegistryError,
    lower_keys,
    parse_check,
    parse_service,
    text,
    worst,
)
from roost.http.sessions import ConsulSessions, parse_id
from roost.server.clock import now_ms

if TYPE_CHECKING:
    from roost.server.core import Server


def catalog_entry(inst: Instance, node: CatalogNode | None) -> dict[str, object]:
    n = node.api() if node is not None else CatalogNode(inst.node, inst.address).api()
    return {
        "ID": "", "Node": inst.node, "Address": n["Address"], "Datacenter": "dc1",
        "TaggedAddresses": n["TaggedAddresses"], "NodeMeta": n["Meta"],
        "ServiceKind": "", "ServiceID": inst.service_id, "ServiceName": inst.name,
        "ServiceTags": list(inst.tags), "ServiceAddress": inst.address,
        "ServicePort": inst.port, "ServiceMeta": inst.meta,
        "ServiceWeights": {"Passing": 1, "Warning": 1},
        "ServiceEnableTagOverride": False,
        "CreateIndex": inst.czxid, "ModifyIndex": inst.mzxid,
    }


def tagged(inst: Instance, tags: list[str]) -> bool:
    return all(t in inst.tags for t in tags)


class CatalogApi:
    def __init__(self, server: Server, registry: Registry, sessions: ConsulSessions,
                 changes: Changes, read_only: bool) -> None:
        self.server = server
        self.registry = registry
        self.sessions = sessions
        self.changes = changes
        self.read_only = read_only

    def routes(self) -> list[web.RouteDef]:
        w = registry_errors
        return [
            web.put("/v1/catalog/register", w(self.register)),
            web.put("/v1/catalog/deregister", w(self.deregister)),
            web.get("/v1/catalog/nodes", w(self.nodes)),
            web.get("/v1/catalog/services", w(self.services)),
            web.get("/v1/catalog/service/{name}", w(self.service)),
            web.get("/v1/catalog/node/{node}", w(self.node)),
            web.get("/v1/health/service/{name}", w(self.health_service)),
            web.get("/v1/health/checks/{name}", w(self.health_checks)),
            web.get("/v1/health/node/{node}", w(self.health_node)),
            web.get("/v1/health/state/{state}", w(self.health_state)),
        ]

    async def _wait(self, request: web.Request) -> int:
        """Consistency and blocking: the index to answer with."""
        await consistent(self.server, request)
        wait = blocking(request)
        if wait is not None:
            regions = (self.registry.nodes_root, self.registry.checks_root,
                       self.registry.services_root)
            await self.changes.wait(regions, lambda: self.registry.index() > wait[0], wait[1])
        return self.registry.index()

    # --- catalog writes -------------------------------------------------------------------
    async def register(self, request: web.Request) -> web.Response:
        if self.read_only:
            raise error(403, "mutating HTTP endpoints are disabled on this server")
        d = lower_keys(await json_body(request), "the registration")
        node = text(d, "node", "the registration")
        address = text(d, "address", "the registration")
        if not node or not address:
            raise RegistryError("Must provide node and address")
        meta = d.get("nodemeta") or {}
        tagged_ = d.get("taggedaddresses") or {}
        if not isinstance(meta, dict) or not isinstance(tagged_, dict):
            raise RegistryError("NodeMeta and TaggedAddresses must be objects")
        cnode = CatalogNode(node, address, {str(k): str(v) for k, v in meta.items()},
                            {str(k): str(v) for k, v in tagged_.items()})
        inst = parse_service(d["service"], node, address) if d.get("service") else None
        checks = d.get("checks") or []
        if not isinstance(checks, list):
            raise RegistryError("Checks must be a list")
        parsed: list[Check] = []
        for raw in ([d["check"]] if d.get("check") else []) + checks:
            cd = lower_keys(raw, "Check")
            sid = text(cd, "serviceid", "Check")
            service = None
            if sid:
                service = inst if inst is not None and inst.service_id == sid else next(
                    (i for i in self.registry.instances()
                     if i.node == node and not i.zookeeper and i.service_id == sid), None)
                if service is None:
                    raise RegistryError(f'Unknown service ID "{sid}" for check')
            parsed.append(parse_check(cd, node, agent=False, service=service))
        # everything parsed: now write
        now = now_ms()
        if not d.get("skipnodeupdate") or self.registry.node(node) is None:
            await self.registry.put_node(cnode)
        if inst is not None:
            await self.registry.put_instance(inst, now)
        for c in parsed:
            await self.registry.put_check(c, now)
        await self.sessions.invalidate_failed()
        return reply(True)

    async def deregister(self, request: web.Request) -> web.Response:
        if self.read_only:
            raise error(403, "mutating HTTP endpoints are disabled on this server")
        d = lower_keys(await json_body(request), "the deregistration")
        node = text(d, "node", "the deregistration")
        if not node:
            raise RegistryError("Must provide node")
        if text(d, "serviceid", "the deregistration"):
            await self.registry.delete_instance(node, d["serviceid"])
        elif text(d, "checkid", "the deregistration"):
            await self.registry.delete_check(node, d["checkid"])
        else:
            await self.registry.delete_node(node)
            for info in self.sessions.all():  # a node's sessions end with the node
                if info["Node"] == node:
                    await self.sessions.destroy(parse_id(str(info["ID"])))
        await self.sessions.invalidate_failed()
        return reply(True)

    # --- catalog reads --------------------------------------------------------------------
    async def nodes(self, request: web.Request) -> web.Response:
        idx = await self._wait(request)
        return reply([n.api() for n in self.registry.nodes()], idx)

    async def services(self, request: web.Request) -> web.Response:
        idx = await self._wait(request)
        out: dict[str, list[str]] = {}
        for inst in self.registry.instances():
            tags = out.setdefault(inst.name, [])
            tags.extend(t for t in inst.tags if t not in tags)
        return reply(out, idx)

    def _instances(self, request: web.Request) -> list[Instance]:
        name = request.match_info["name"]
        tags = request.query.getall("tag", [])
        return [i for i in self.registry.instances() if i.name == name and tagged(i, tags)]

    async def service(self, request: web.Request) -> web.Response:
        idx = await self._wait(request)
        nodes = {n.name: n for n in self.registry.nodes()}
        return reply([catalog_entry(i, nodes.get(i.node)) for i in self._instances(request)],
                     idx)

    async def node(self, request: web.Request) -> web.Response:
        idx = await self._wait(request)
        name = request.match_info["node"]
        n = self.registry.node(name)
        if n is None:
            return reply(None, idx)
        services = {i.service_id: i.agent_api() for i in self.registry.instances()
                    if i.node == name}
        return reply({"Node": n.api(), "Services": services}, idx)

    # --- health ---------------------------------------------------------------------------
    async def health_service(self, request: web.Request) -> web.Response:
        idx = await self._wait(request)
        checks = self.registry.checks()
        nodes = {n.name: n for n in self.registry.nodes()}
        passing = flag(request, "passing")
        out = []
        for inst in self._instances(request):
            mine = self.registry.instance_checks(inst, checks)
            if passing and worst([c.status for c in mine]) != PASSING:
                continue
            node = nodes.get(inst.node) or CatalogNode(inst.node, inst.address)
            out.append({"Node": node.api(), "Service": inst.agent_api(),
                        "Checks": [c.api() for c in mine]})
        return reply(out, idx)

    async def health_checks(self, request: web.Request) -> web.Response:
        idx = await self._wait(request)
        name = request.match_info["name"]
        return reply([c.api() for c in self.registry.checks() if c.service_name == name], idx)

    async def health_node(self, request: web.Request) -> web.Response:
        idx = await self._wait(request)
        name = request.match_info["node"]
        return reply([c.api() for c in self.registry.checks() if c.node == name], idx)

    async def health_state(self, request: web.Request) -> web.Response:
        state = request.match_info["state"]
        if state != "any" and state not in STATUSES:
            raise error(400, f"Invalid state: {state!r} (any, passing, warning or critical)")
        idx = await self._wait(request)
        checks: list[Check] = self.registry.checks()
        return reply([c.api() for c in checks if state in ("any", c.status)], idx)

