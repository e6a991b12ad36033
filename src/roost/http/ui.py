"""The dashboard: `/ui` (static page) and the JSON endpoints it polls (`/ui/api/*`)."""

from __future__ import annotations

import base64
import collections
import time
from importlib import resources
from typing import TYPE_CHECKING

from aiohttp import web

from roost.http import ops
from roost.http.common import error, identities, reply
from roost.http.directory import HttpDirectory
from roost.http.routes import ready
from roost.server.connection import Connection
from roost.tree import Kind, Node
from roost.wire.errors import Err
from roost.wire.opcodes import CreateMode, EventType, Perm
from roost.wire.records import ACL

if TYPE_CHECKING:
    from roost.server.core import Server

#: children described one by one (kind, own child count) in a znode's answer, at most
TREE_DETAIL = 2000
_STATIC = {"app.js": "application/javascript", "style.css": "text/css"}
_EV_NAMES: dict[int, str] = {EventType.NODE_CREATED: "created", EventType.NODE_DELETED: "deleted"}
#: the watch manager's tables, in its order
_WATCH_KINDS = ("data", "children", "persistent", "persistent_recursive")


class EventFeed:
    """The last few hundred events for the live feed: znode creates and deletes (a
    recursive watch on "/"), role changes and session events (server listeners)."""

    def __init__(self, size: int = 500) -> None:
        #: (seq, time, kind, detail): a tuple, not the dict the page gets (one is kept for
        #: every create and delete; the page asks for a few)
        self.items: collections.deque[tuple[int, float, str, str]] = collections.deque(
            maxlen=size)
        self.seq = 0

    def add(self, kind: str, detail: str) -> None:
        self.seq += 1
        self.items.append((self.seq, time.time(), kind, detail))

    def notify(self, ev_type: int, path: str, acl: tuple[ACL, ...]) -> None:
        name = _EV_NAMES.get(ev_type)
        if name is not None:
            self.add(name, path)

    def on_event(self, kind: str, info: dict[str, object]) -> None:
        if kind == "role":
            leader = info.get("leader")
            who = f"member {leader} leads" if leader else "no leader"
            self.add("election", f"{who}; this member: {info.get('mode')}")
        elif kind.startswith("session_"):
            sid = info.get("session")
            text = f"0x{sid & 0xFFFFFFFFFFFFFFFF:x}" if isinstance(sid, int) else str(sid)
            self.add(kind.replace("_", " "), text)

    def after(self, seq: int) -> list[dict[str, object]]:
        return [{"seq": n, "time": t, "kind": kind, "detail": detail}
                for n, t, kind, detail in self.items if n > seq]


def hexid(sid: int) -> str:
    return f"0x{sid & 0xFFFFFFFFFFFFFFFF:x}"


def cluster(server: Server) -> dict[str, object]:
    log = server.log
    tree = server.tree
    out: dict[str, object] = {
        "id": server.config.server_id, "mode": server.mode, "last_zxid": tree.last_zxid,
        "ready": ready(server)[0], "znodes": tree.node_count(),
        "sessions": len(tree.sessions), "watches": server.watches.count(),
        "connections": len(server.connections),
    }
    if log is None or log.node is None:
        out.update(leader=server.config.server_id, term=0, commit=tree.last_zxid,
                   applied=tree.last_zxid, members=[{
                       "id": server.config.server_id, "role": "standalone", "self": True,
                       "address": f"{server.config.listen_host}:{server.port}", "match": None,
                       "lag": 0}])
        return out
    node = log.node
    prs = node.raft.prs if log.is_leader else {}
    last = node.raft.log.last_index()
    members = []
    for mid, m in sorted(log.members.items()):
        role = "leader" if mid == log.leader else ("follower" if m.voter else "observer")
        p = prs.get(mid)
        members.append({
            "id": mid, "role": role, "self": mid == log.id,
            "address": f"{m.host}:{m.client_port}",
            "match": p.match if p is not None else None,
            "lag": (last - p.match) if p is not None and mid != log.id else None,
            "active": p.active if p is not None and mid != log.id else None,
        })
    out.update(leader=log.leader, term=node.term, commit=node.committed,
               applied=log.last_index, members=members)
    return out


_FOLLOWER_FIELDS = ("match", "lag", "active")


class Dashboard:
    def __init__(self, server: Server, feed: EventFeed, read_only: bool,
                 directory: HttpDirectory) -> None:
        self.server = server
        self.feed = feed
        self.read_only = read_only
        self.directory = directory

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/ui", self.index),
            web.get("/ui/", self.index),
            web.get("/ui/static/{name}", self.static),
            web.get("/ui/api/cluster", self.cluster),
            web.get("/ui/api/node", self.node),
            web.put("/ui/api/node", self.set_node),
            web.post("/ui/api/node", self.create_node),
            web.delete("/ui/api/node", self.delete_node),
            web.get("/ui/api/sessions", self.sessions),
            web.get("/ui/api/watches", self.watches),
            web.get("/ui/api/events", self.events),
        ]

    async def index(self, request: web.Request) -> web.Response:
        text = resources.files("roost.http").joinpath("static/index.html").read_text()
        return web.Response(text=text, content_type="text/html")

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in _STATIC:
            raise error(404, "no such file")
        text = resources.files("roost.http").joinpath(f"static/{name}").read_text()
        return web.Response(text=text, content_type=_STATIC[name])

    async def cluster(self, request: web.Request) -> web.Response:
        """This member's view; on a follower, with the leader's replication figures (when
        the leader's HTTP API answers within half a second)."""
        out = cluster(self.server)
        out["read_only"] = self.read_only
        leader = out.get("leader")
        log = self.server.log
        if ("local" in request.query or log is None or not log.ensemble or log.is_leader
                or not isinstance(leader, int) or not leader):
            return reply(out)
        url = self.directory.url_of(leader)
        theirs = await self.directory.fetch_json(f"{url}/ui/api/cluster?local=1") if url else None
        if isinstance(theirs, dict) and theirs.get("leader") == leader:
            by_id = {m.get("id"): m for m in theirs.get("members", []) if isinstance(m, dict)}
            for m in out["members"]:  # type: ignore[attr-defined]
                src = by_id.get(m["id"])
                if src is not None:
                    m.update({k: src.get(k) for k in _FOLLOWER_FIELDS})
            out["replication_from"] = leader
        return reply(out)

    def _path(self, request: web.Request) -> str:
        path = request.query.get("path", "/")
        if not path.startswith("/") or (path != "/" and path.endswith("/")):
            raise error(400, f"bad path {path!r}")
        return path

    async def node(self, request: web.Request) -> web.Response:
        path = self._path(request)
        auth = identities(self.server, request)
        tree = self.server.tree
        node = tree.get(path)
        if node is None:
            raise error(404, f"no znode {path}")
        stat = tree.stat(node)
        readable = tree.check_acl(node, Perm.READ, auth)
        return reply({
            "path": path,
            "data": base64.b64encode(node.data or b"").decode() if readable else None,
            "readable": readable,
            "children": sorted(tree.children(node)) if readable else [],
            "child_info": _child_info(node) if readable else {},
            "stat": {k: getattr(stat, k) for k in (
                "czxid", "mzxid", "ctime", "mtime", "version", "cversion", "aversion",
                "ephemeralOwner", "dataLength", "numChildren", "pzxid")},
            "owner": hexid(stat.ephemeralOwner) if stat.ephemeralOwner else "",
            "acl": [{"perms": _perms(a.perms), "scheme": a.id.scheme,
                     "id": _mask(a.id.scheme, a.id.id)} for a in node.acl],
        })

    def _writable(self) -> None:
        if self.read_only:
            raise error(403, "mutating HTTP endpoints are disabled on this server")

    async def _body(self, request: web.Request) -> dict[str, object]:
        try:
            body = await request.json()
        except ValueError:
            raise error(400, "body must be JSON") from None
        if not isinstance(body, dict):
            raise error(400, "body must be a JSON object")
        return body

    async def set_node(self, request: web.Request) -> web.Response:
        self._writable()
        path = self._path(request)
        body = await self._body(request)
        version = int(str(body.get("version", -1)))
        err = await ops.set_data(self.server, path, _data(body), version,
                                 identities(self.server, request))
        return _result(err)

    async def create_node(self, request: web.Request) -> web.Response:
        self._writable()
        path = self._path(request)
        body = await self._body(request)
        err = await ops.create(self.server, path, _data(body), identities(self.server, request),
                               CreateMode.PERSISTENT)
        return _result(err)

    async def delete_node(self, request: web.Request) -> web.Response:
        self._writable()
        path = self._path(request)
        version = int(request.query.get("version", "-1"))
        err = await ops.delete(self.server, path, version, identities(self.server, request))
        return _result(err)

    async def sessions(self, request: web.Request) -> web.Response:
        """Every replicated session with its ephemerals; for a session connected to this
        member, its client's address and its watches (other members hold the others')."""
        s = self.server
        out = []
        for sid, info in sorted(s.tree.sessions.items()):
            conn = s.by_session.get(sid)
            here = conn is not None and not conn.closed
            out.append({
                "id": hexid(sid), "timeout_ms": info.timeout_ms,
                "ephemerals": sorted(info.ephemerals),
                "client": f"{conn.ip}:{conn.port}" if here and conn is not None else None,
                "watches": _watches_of(s, conn) if here and conn is not None else None,
            })
        return reply(out)

    async def watches(self, request: web.Request) -> web.Response:
        """Clients' watches by path (the HTTP API's own watches are not listed)."""
        by_path = self.server.watches.by_path()
        out = []
        for p, watchers in sorted(by_path.items()):
            sessions = sorted(hexid(w.session_id) for w in watchers if isinstance(w, Connection))
            if sessions:
                out.append({"path": p, "watchers": len(sessions), "sessions": sessions})
        return reply(out)

    async def events(self, request: web.Request) -> web.Response:
        try:
            after = int(request.query.get("after", "0"))
        except ValueError:
            raise error(400, "bad after") from None
        return reply({"seq": self.feed.seq, "events": self.feed.after(after)})


def _child_info(node: Node) -> dict[str, list[object]]:
    """name -> [its kind ("persistent", "ephemeral", "container", "ttl"), its child count],
    for the tree (which marks leaves and ephemerals); {} for a znode with too many."""
    kids = node.children
    if not kids or len(kids) > TREE_DETAIL:
        return {}
    return {name: [Kind(k.kind).name.lower(), k.num_children] for name, k in kids.items()}


def _watches_of(server: Server, conn: Connection) -> dict[str, list[str]]:
    """The paths a connection watches, by kind (kinds it has none of left out)."""
    out = {}
    for kind, owned in zip(_WATCH_KINDS, server.watches.owned, strict=True):
        paths = owned.get(conn)
        if paths:
            out[kind] = sorted(paths)
    return out


def _data(body: dict[str, object]) -> bytes:
    if body.get("base64") is not None:
        return base64.b64decode(str(body["base64"]))
    return str(body.get("data", "")).encode()


def _result(err: int) -> web.Response:
    if err == 0:
        return reply({"ok": True})
    name = Err(err).name if err in Err._value2member_map_ else str(err)
    status = 403 if err == Err.NO_AUTH else 409
    return reply({"ok": False, "error": name}, status=status)


def _perms(p: int) -> str:
    return "".join(c for bit, c in ((Perm.CREATE, "c"), (Perm.DELETE, "d"), (Perm.READ, "r"),
                                    (Perm.WRITE, "w"), (Perm.ADMIN, "a")) if p & bit)


def _mask(scheme: str, ident: str) -> str:
    return ident.split(":", 1)[0] + ":x" if scheme == "digest" else ident
