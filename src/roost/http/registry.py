"""The service registry on the tree: Consul's nodes, services and checks, in a layout that
ZooKeeper clients share.

    <consul root>/nodes/<node>             {"ID", "Node", "Address", "TaggedAddresses", "Meta"}
    <consul root>/checks/<node>/<check>    a check (Consul's fields, plus TTL and deadline)
    <services root>/<name>/<instance>      Apache Curator's ServiceInstance JSON

The services root is the layout of Curator's service discovery (curator-x-discovery:
`<base path>/<name>/<id>`, one JSON ServiceInstance per znode) and of roost's
ServiceRegistry recipe, so one registry serves both protocols. An instance registered over
the Consul API is a persistent znode whose JSON has Curator's fields (name, id, address,
port, sslPort, payload, registrationTimeUTC, serviceType "STATIC", uriSpec, enabled) plus
fields Curator's default serializer ignores: "node", "serviceId", "tags", "metadata" (Consul's
Meta; roost's recipe reads it as metadata) and "health" ("up" while every check of the
instance and of its node passes or warns, else "down"; roost's recipe reads it). Its znode
name and Curator id are `<ServiceID>@<Node>`: Consul service IDs are unique per node,
Curator ids per service name. An instance without a "node" (written by Curator or the recipe)
belongs to a node named after its address, and has one check, "zookeeper", passing while
its health is "up" and it is enabled (an ephemeral instance is gone with its session).

Node, check and instance names are percent-encoded where they are znode names (a check ID
such as "service:web" keeps its letters, "/" becomes "%2F"). Every change is a write
through the replicated log; timers (TTL checks) take the time as an argument.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from roost.http import ops
from roost.http.durations import parse_seconds
from roost.http.sessions import CRITICAL, SERF_CHECK, ConsulSessions
from roost.tree.node import Node
from roost.wire.errors import Err

if TYPE_CHECKING:
    from roost.server.core import Server

log = logging.getLogger("roost.http")

PASSING, WARNING = "passing", "warning"
STATUSES = (PASSING, WARNING, CRITICAL)
ZK_CHECK = "zookeeper"
DATACENTER = "dc1"
#: the longest TTL a check may have (a year)
MAX_CHECK_TTL_S = 365 * 86400.0
#: read-modify-write attempts on one znode
MAX_ATTEMPTS = 20


def q(name: str) -> str:
    return quote(name, safe="@:")


class RegistryError(ValueError):
    """A request the registry refuses (answered 400, or 404 for a missing target)."""

    def __init__(self, text: str, status: int = 400) -> None:
        super().__init__(text)
        self.status = status


@dataclass(frozen=True, slots=True)
class CatalogNode:
    name: str
    address: str
    meta: dict[str, str] = field(default_factory=dict)
    tagged: dict[str, str] = field(default_factory=dict)
    czxid: int = 0
    mzxid: int = 0
    implied: bool = False

    def to_json(self) -> bytes:
        return json.dumps({"Node": self.name, "Address": self.address, "Meta": self.meta,
                           "TaggedAddresses": self.tagged}).encode()

    def api(self) -> dict[str, object]:
        return {"ID": "", "Node": self.name, "Address": self.address,
                "Datacenter": DATACENTER, "TaggedAddresses": self.tagged or None,
                "Meta": self.meta, "CreateIndex": self.czxid, "ModifyIndex": self.mzxid}


@dataclass(frozen=True, slots=True)
class Check:
    node: str
    check_id: str
    name: str = ""
    status: str = CRITICAL
    notes: str = ""
    output: str = ""
    service_id: str = ""
    service_name: str = ""
    service_tags: tuple[str, ...] = ()
    ttl_ms: int = 0
    #: wall-clock ms after which a TTL check not updated goes critical
    deadline_ms: int = 0
    czxid: int = 0
    mzxid: int = 0
    version: int = -1

    def with_(self, **changes: Any) -> Check:
        return replace(self, **changes)

    def to_json(self) -> bytes:
        return json.dumps({
            "Node": self.node, "CheckID": self.check_id, "Name": self.name,
            "Status": self.status, "Notes": self.notes, "Output": self.output,
            "ServiceID": self.service_id, "ServiceName": self.service_name,
            "ServiceTags": list(self.service_tags), "TTLms": self.ttl_ms,
            "DeadlineMs": self.deadline_ms}).encode()

    @classmethod
    def from_znode(cls, n: Node) -> Check | None:
        try:
            d = json.loads(n.data or b"")
            return cls(str(d["Node"]), str(d["CheckID"]), str(d.get("Name", "")),
                       str(d.get("Status", CRITICAL)), str(d.get("Notes", "")),
                       str(d.get("Output", "")), str(d.get("ServiceID", "")),
                       str(d.get("ServiceName", "")),
                       tuple(str(t) for t in d.get("ServiceTags") or ()),
                       int(d.get("TTLms", 0)), int(d.get("DeadlineMs", 0)),
                       n.czxid, n.mzxid, n.version)
        except (ValueError, KeyError, TypeError):
            return None

    def api(self) -> dict[str, object]:
        definition: dict[str, object] = {}
        if self.ttl_ms:
            definition["TTL"] = f"{self.ttl_ms / 1000:g}s"
        return {"Node": self.node, "CheckID": self.check_id, "Name": self.name,
                "Status": self.status, "Notes": self.notes, "Output": self.output,
                "ServiceID": self.service_id, "ServiceName": self.service_name,
                "ServiceTags": list(self.service_tags), "Type": "ttl" if self.ttl_ms else "",
                "Definition": definition, "Namespace": "",
                "CreateIndex": self.czxid, "ModifyIndex": self.mzxid}


@dataclass(frozen=True, slots=True)
class Instance:
    """One service instance (from the Consul API or a ZooKeeper client)."""

    name: str
    service_id: str
    node: str
    address: str
    port: int
    tags: tuple[str, ...] = ()
    meta: dict[str, str] = field(default_factory=dict)
    health: str = "up"
    enabled: bool = True
    #: registered by a ZooKeeper client (Curator or roost's recipe): no Consul node
    zookeeper: bool = False
    path: str = ""
    czxid: int = 0
    mzxid: int = 0
    registered_ms: int = 0

    @property
    def znode_name(self) -> str:
        return q(self.service_id if self.zookeeper else f"{self.service_id}@{self.node}")

    def to_json(self) -> bytes:
        """Curator's ServiceInstance JSON plus the Consul and roost fields."""
        return json.dumps({
            "name": self.name, "id": unquote(self.znode_name), "address": self.address,
            "port": self.port, "sslPort": None, "payload": None,
            "registrationTimeUTC": self.registered_ms, "serviceType": "STATIC",
            "uriSpec": None, "enabled": self.enabled,
            "node": self.node, "serviceId": self.service_id, "tags": list(self.tags),
            "metadata": self.meta, "health": self.health}).encode()

    @classmethod
    def from_znode(cls, name: str, path: str, n: Node) -> Instance | None:
        try:
            d = json.loads(n.data or b"")
            if not isinstance(d, dict):
                return None
            address = str(d.get("address") or "")
            node = d.get("node")
            meta = d.get("metadata") or {}
            port = d.get("port")
            return cls(
                str(d.get("name") or name),
                str(d.get("serviceId") or d.get("id") or unquote(path.rsplit("/", 1)[1])),
                str(node) if node else address or "zookeeper",
                address,
                int(port) if port is not None else 0,
                tuple(str(t) for t in d.get("tags") or ()),
                {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()}
                if isinstance(meta, dict) else {},
                str(d.get("health") or "up"),
                d.get("enabled") is not False,
                not node,
                path, n.czxid, n.mzxid, int(d.get("registrationTimeUTC") or 0))
        except (ValueError, TypeError, AttributeError):
            return None

    def agent_api(self) -> dict[str, object]:
        return {"ID": self.service_id, "Service": self.name, "Tags": list(self.tags),
                "Meta": self.meta, "Port": self.port, "Address": self.address,
                "Weights": {"Passing": 1, "Warning": 1}, "EnableTagOverride": False,
                "Datacenter": DATACENTER, "CreateIndex": self.czxid,
                "ModifyIndex": self.mzxid}


def worst(statuses: list[str]) -> str:
    """The aggregate status: critical over warning over passing."""
    for s in (CRITICAL, WARNING):
        if s in statuses:
            return s
    return PASSING


def overdue(checks: list[Check], now_ms: int) -> list[Check]:
    """TTL checks whose deadline passed and that are not critical yet."""
    return [c for c in checks if c.ttl_ms and c.status != CRITICAL and c.deadline_ms <= now_ms]


def _walk(path: str, node: Node) -> Iterator[tuple[str, Node]]:
    stack = [(path, node)]
    while stack:
        p, n = stack.pop()
        yield p, n
        for name, child in (n.children or {}).items():
            stack.append((f"{p}/{name}", child))


class Registry:
    def __init__(self, server: Server, consul_root: str, services_root: str,
                 scale: float = 1.0) -> None:
        self.server = server
        self.nodes_root = f"{consul_root}/nodes"
        self.checks_root = f"{consul_root}/checks"
        self.services_root = services_root
        self.scale = scale
        #: check znode path -> (mzxid, parsed check): the timers read every check often
        self._parsed: dict[str, tuple[int, Check | None]] = {}
        #: instance znode path -> (mzxid, parsed instance)
        self._instances: dict[str, tuple[int, Instance | None]] = {}
        #: (registry index, sessions index) when the session checks last found nothing
        self._clean_at: tuple[int, int] = (0, 0)

    @property
    def agent_node(self) -> str:
        return f"roost-{self.server.config.server_id}"

    # --- reads ------------------------------------------------------------------------
    def index(self) -> int:
        """Grows with every change to nodes, checks or instances (blocking queries)."""
        tree = self.server.tree
        best = 1
        for root in (self.nodes_root, self.checks_root, self.services_root):
            n = tree.get(root)
            if n is None:
                continue
            for _p, x in _walk(root, n):
                best = max(best, x.mzxid, x.pzxid)
        return best

    def instances(self) -> list[Instance]:
        tree = self.server.tree
        root = tree.get(self.services_root)
        out = []
        seen: dict[str, tuple[int, Instance | None]] = {}
        for sname, snode in sorted((root.children or {}).items()) if root is not None else []:
            for iname, inode in sorted((snode.children or {}).items()):
                path = f"{self.services_root}/{sname}/{iname}"
                hit = self._instances.get(path)
                if hit is None or hit[0] != inode.mzxid:
                    hit = (inode.mzxid, Instance.from_znode(unquote(sname), path, inode))
                seen[path] = hit
                if hit[1] is not None:
                    out.append(hit[1])
        self._instances = seen
        return out

    def stored_checks(self) -> list[Check]:
        root = self.server.tree.get(self.checks_root)
        out = []
        seen: dict[str, tuple[int, Check | None]] = {}
        for nname, nnode in sorted((root.children or {}).items()) if root is not None else []:
            for cname, cnode in sorted((nnode.children or {}).items()):
                path = f"{nname}/{cname}"
                hit = self._parsed.get(path)
                if hit is None or hit[0] != cnode.mzxid:
                    hit = (cnode.mzxid, Check.from_znode(cnode))
                seen[path] = hit
                if hit[1] is not None:
                    out.append(hit[1])
        self._parsed = seen
        return out

    def zk_check(self, inst: Instance) -> Check:
        ok = inst.health == "up" and inst.enabled
        return Check(inst.node, ZK_CHECK, "ZooKeeper registration",
                     PASSING if ok else CRITICAL, "", f"znode {inst.path}",
                     inst.service_id, inst.name, inst.tags, czxid=inst.czxid, mzxid=inst.mzxid)

    def checks(self) -> list[Check]:
        """Every check: stored ones and one per ZooKeeper-registered instance."""
        return self.stored_checks() + [self.zk_check(i) for i in self.instances() if i.zookeeper]

    def check(self, node: str, check_id: str) -> Check | None:
        n = self.server.tree.get(f"{self.checks_root}/{q(node)}/{q(check_id)}")
        return Check.from_znode(n) if n is not None else None

    def check_status(self, node: str, check_id: str) -> str | None:
        c = self.check(node, check_id)
        return c.status if c is not None else None

    def nodes(self) -> list[CatalogNode]:
        tree = self.server.tree
        root = tree.get(self.nodes_root)
        out: dict[str, CatalogNode] = {}
        for _name, n in (root.children or {}).items() if root is not None else []:
            try:
                d = json.loads(n.data or b"")
                out[str(d["Node"])] = CatalogNode(str(d["Node"]), str(d.get("Address", "")),
                                                  dict(d.get("Meta") or {}),
                                                  dict(d.get("TaggedAddresses") or {}),
                                                  n.czxid, n.mzxid)
            except (ValueError, KeyError, TypeError):
                continue
        for inst in self.instances():
            if inst.node not in out:
                out[inst.node] = CatalogNode(inst.node, inst.address,
                                             {"roost-source": "zookeeper"}, {},
                                             inst.czxid, inst.mzxid, implied=True)
        return sorted(out.values(), key=lambda n: n.name)

    def node(self, name: str) -> CatalogNode | None:
        return next((n for n in self.nodes() if n.name == name), None)

    def instance_checks(self, inst: Instance, checks: list[Check]) -> list[Check]:
        """The checks that decide an instance's health: its own and its node's."""
        return [c for c in checks if c.node == inst.node
                and (c.service_id == inst.service_id or not c.service_id)]

    # --- writes -----------------------------------------------------------------------
    async def _put(self, path: str, data: bytes) -> None:
        for _ in range(MAX_ATTEMPTS):
            n = self.server.tree.get(path)
            if n is None:
                await ops.ensure_parents(self.server, path)
                err = await ops.create(self.server, path, data)
                if err == Err.NODE_EXISTS:
                    continue
            else:
                err = await ops.set_data(self.server, path, data, n.version)
                if err in (Err.BAD_VERSION, Err.NO_NODE):
                    continue
            if err:
                raise ops.WriteFailed(err, path)
            return
        raise ops.WriteFailed(Err.BAD_VERSION, path)

    async def _delete_tree(self, path: str) -> None:
        n = self.server.tree.get(path)
        if n is None:
            return
        for p, _x in sorted(_walk(path, n), key=lambda t: t[0].count("/"), reverse=True):
            err = await ops.delete(self.server, p, -1)
            if err not in (0, Err.NO_NODE, Err.NOT_EMPTY):
                raise ops.WriteFailed(err, p)

    async def put_node(self, node: CatalogNode) -> None:
        await self._put(f"{self.nodes_root}/{q(node.name)}", node.to_json())

    async def put_instance(self, inst: Instance, now_ms: int) -> None:
        old = next((i for i in self.instances() if i.node == inst.node and not i.zookeeper
                    and i.service_id == inst.service_id), None)
        if old is not None and old.name != inst.name:  # renamed: it moves
            await self._delete_tree(old.path)
        inst = replace(inst, registered_ms=old.registered_ms if old else now_ms,
                       health=self._health(inst, self.checks()))
        await self._put(f"{self.services_root}/{q(inst.name)}/{inst.znode_name}", inst.to_json())

    async def put_check(self, check: Check, now_ms: int) -> Check:
        """Store a check (a TTL check's timer starts now)."""
        if check.status not in STATUSES:
            raise RegistryError(f"Invalid check status: {check.status!r}")
        if check.ttl_ms:
            check = check.with_(deadline_ms=now_ms + int(check.ttl_ms * self.scale))
        await self._put(f"{self.checks_root}/{q(check.node)}/{q(check.check_id)}",
                        check.to_json())
        await self.sync_health(check.node)
        return check

    async def update_check(self, node: str, check_id: str, status: str, output: str | None,
                           now_ms: int) -> Check:
        """pass/warn/fail/update: a new status (and a TTL check's timer restarts)."""
        if status not in STATUSES:
            raise RegistryError(f"Invalid check status: {status!r}")
        path = f"{self.checks_root}/{q(node)}/{q(check_id)}"
        for _ in range(MAX_ATTEMPTS):
            c = self.check(node, check_id)
            if c is None:
                raise RegistryError(f'Unknown check ID "{check_id}". Ensure that the check ID '
                                    "is passed, not the check name.", 404)
            new = c.with_(status=status, output=c.output if output is None else output)
            if c.ttl_ms:
                new = new.with_(deadline_ms=now_ms + int(c.ttl_ms * self.scale))
            err = await ops.set_data(self.server, path, new.to_json(), c.version)
            if err in (Err.BAD_VERSION, Err.NO_NODE):
                continue
            if err:
                raise ops.WriteFailed(err, path)
            if c.status != status:
                await self.sync_health(node)
            return new
        raise ops.WriteFailed(Err.BAD_VERSION, path)

    async def delete_check(self, node: str, check_id: str) -> bool:
        path = f"{self.checks_root}/{q(node)}/{q(check_id)}"
        if self.server.tree.get(path) is None:
            return False
        err = await ops.delete(self.server, path, -1)
        if err not in (0, Err.NO_NODE):
            raise ops.WriteFailed(err, path)
        await self.sync_health(node)
        return True

    async def delete_instance(self, node: str, service_id: str) -> bool:
        found = [i for i in self.instances() if i.node == node and i.service_id == service_id]
        for inst in found:
            err = await ops.delete(self.server, inst.path, -1)
            if err not in (0, Err.NO_NODE):
                raise ops.WriteFailed(err, inst.path)
        for c in self.stored_checks():
            if c.node == node and c.service_id == service_id:
                await self.delete_check(node, c.check_id)
        return bool(found)

    async def delete_node(self, node: str) -> None:
        for inst in self.instances():
            if inst.node == node:
                await self.delete_instance(node, inst.service_id)
        await self._delete_tree(f"{self.checks_root}/{q(node)}")
        await self._delete_tree(f"{self.nodes_root}/{q(node)}")

    def _health(self, inst: Instance, checks: list[Check]) -> str:
        mine = self.instance_checks(inst, checks)
        return "down" if worst([c.status for c in mine]) == CRITICAL else "up"

    async def sync_health(self, node: str) -> None:
        """Keep each Consul-registered instance's "health" (what roost's recipe reads) in
        step with its checks."""
        checks = self.checks()
        for inst in self.instances():
            if inst.node != node or inst.zookeeper:
                continue
            health = self._health(inst, checks)
            if health != inst.health:
                n = self.server.tree.get(inst.path)
                if n is None:
                    continue
                err = await ops.set_data(self.server, inst.path,
                                         replace(inst, health=health).to_json(), n.version)
                if err not in (0, Err.BAD_VERSION, Err.NO_NODE):
                    raise ops.WriteFailed(err, inst.path)

    async def expire_ttl(self, now_ms: int) -> int:
        """Mark every overdue TTL check critical (the leader calls this with the time)."""
        done = 0
        for c in overdue(self.stored_checks(), now_ms):
            path = f"{self.checks_root}/{q(c.node)}/{q(c.check_id)}"
            new = c.with_(status=CRITICAL, output="TTL expired")
            err = await ops.set_data(self.server, path, new.to_json(), c.version)
            if err == 0:
                done += 1
                log.info("check %s on %s: TTL expired", c.check_id, c.node)
                await self.sync_health(c.node)
            elif err not in (Err.BAD_VERSION, Err.NO_NODE):
                raise ops.WriteFailed(err, path)
        return done

    async def register_agent_node(self, address: str, now_ms: int) -> None:
        """This member as a Consul node, with a passing serfHealth check."""
        name = self.agent_node
        have = self.node(name)
        if have is None or have.implied or have.address != address:
            await self.put_node(CatalogNode(name, address))
        if self.check(name, SERF_CHECK) is None:
            await self.put_check(Check(name, SERF_CHECK, "Serf Health Status", PASSING,
                                       output="Agent alive and reachable"), now_ms)

    async def tick(self, now_ms: int, sessions: ConsulSessions) -> None:
        """The leader's timers: TTL checks go critical, then sessions whose checks failed
        are invalidated."""
        if not self.server.is_leader:
            return
        await self.expire_ttl(now_ms)
        state = (self.index(), sessions.index())
        if state != self._clean_at:  # nothing changed: no session can have failed since
            await sessions.invalidate_failed()
            self._clean_at = (self.index(), sessions.index())


# --- request bodies ------------------------------------------------------------------------
_RUN_BY_AGENT = ("http", "tcp", "args", "script", "grpc", "dockercontainerid", "h2ping", "udp",
                 "osservice", "aliasservice", "aliasnode")


def text(d: dict[str, Any], key: str, what: str) -> str:
    """A string field ("" when absent); anything else is a 400."""
    v = d.get(key)
    if v is None:
        return ""
    if not isinstance(v, str):
        raise RegistryError(f"{what}: {key} must be a string")
    return v


def lower_keys(raw: object, what: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise RegistryError(f"{what} must be a JSON object")
    return {str(k).lower(): v for k, v in raw.items()}


def parse_check(raw: object, node: str, *, agent: bool, service: Instance | None = None,
                default_id: str = "") -> Check:
    """A check definition as the agent or catalog register endpoints take it. The agent
    runs TTL checks only (script, HTTP, TCP, gRPC ... checks are refused); a catalog check
    is a status someone else keeps current."""
    d = lower_keys(raw, "Check")
    runs = [k for k in _RUN_BY_AGENT if d.get(k)]
    if runs:
        raise RegistryError(f"roost does not run {runs[0].upper()} checks: register a TTL "
                            "check and report its status with /v1/agent/check/pass|warn|fail")
    ttl_ms = 0
    if d.get("ttl"):
        try:
            ttl_s = parse_seconds(str(d["ttl"]))
        except ValueError:
            raise RegistryError(f"invalid TTL {d['ttl']!r}") from None
        if not 0 < ttl_s <= MAX_CHECK_TTL_S:  # also refuses NaN
            raise RegistryError(f"TTL must be > 0 and at most {MAX_CHECK_TTL_S:g}s")
        ttl_ms = int(ttl_s * 1000)
    elif agent:
        raise RegistryError("Must provide TTL (roost's agent runs TTL checks only)")
    name = text(d, "name", "Check")
    check_id = text(d, "checkid", "Check") or text(d, "id", "Check") or default_id or name
    if not check_id:
        raise RegistryError("Missing check name")
    status = text(d, "status", "Check") or CRITICAL
    if status not in STATUSES:
        raise RegistryError(f"Invalid check status: {status!r}")
    sid = text(d, "serviceid", "Check")
    sname = ""
    tags: tuple[str, ...] = ()
    if service is not None:
        sid, sname, tags = service.service_id, service.name, service.tags
    return Check(node, check_id, name or check_id, status, text(d, "notes", "Check"),
                 text(d, "output", "Check"), sid, sname, tags, ttl_ms)


def parse_service(raw: object, node: str, default_address: str) -> Instance:
    d = lower_keys(raw, "Service")
    name = text(d, "service", "Service") or text(d, "name", "Service")
    if not name:
        raise RegistryError("Missing service name")
    sid = text(d, "id", "Service") or name
    tags = d.get("tags") or []
    meta = d.get("meta") or {}
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise RegistryError("Service: Tags must be a list of strings")
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise RegistryError("Service: Meta must be an object of strings")
    port = d.get("port") or 0
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise RegistryError(f"Service: invalid Port {port!r}")
    return Instance(name, sid, node, text(d, "address", "Service") or default_address, port,
                    tuple(tags), {str(k): v for k, v in meta.items()})
