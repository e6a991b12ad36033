"""`/v1/kv/<key>`: Consul's KV API on the znodes under the configured root."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from aiohttp import web

from roost.http import ops
from roost.http.changes import Changes
from roost.http.common import (
    Auth,
    blocking,
    consistent,
    error,
    flag,
    identities,
    reply,
    uint_param,
)
from roost.http.envelope import HEADER_SIZE, NO_SESSION, Entry, decode, encode
from roost.http.keys import (
    BadKey,
    Found,
    key_index,
    key_path,
    list_prefix,
    prefix_index,
    read_key,
    scan_root,
)
from roost.http.sessions import BadSession, ConsulSessions, parse_id
from roost.tree.node import Node
from roost.wire.errors import Err
from roost.wire.opcodes import Perm

if TYPE_CHECKING:
    from roost.server.core import Server

#: read-modify-write attempts before a contended write gives up
MAX_ATTEMPTS = 50


def entry_json(f: Found) -> dict[str, object]:
    e = f.entry
    out: dict[str, object] = {
        "LockIndex": e.lock_index,
        "Key": f.key,
        "Flags": e.flags,
        "Value": base64.b64encode(e.value).decode() if e.value else None,
        "CreateIndex": f.node.czxid,
        "ModifyIndex": f.node.mzxid,
    }
    if e.session != NO_SESSION:
        out["Session"] = e.session_id
    return out


class KvApi:
    def __init__(self, server: Server, root: str, sessions: ConsulSessions,
                 changes: Changes, read_only: bool) -> None:
        self.server = server
        self.root = root
        self.sessions = sessions
        self.changes = changes
        self.read_only = read_only

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v1/kv/{key:.*}", self.get),
            web.put("/v1/kv/{key:.*}", self.put),
            web.delete("/v1/kv/{key:.*}", self.delete),
        ]

    # --- reads ----------------------------------------------------------------------------
    def visible(self, e: Entry) -> bool:
        if e.session != NO_SESSION and not self.sessions.alive(e.session):
            return self.sessions.visible(e)
        return True

    def _shown(self, e: Entry) -> Entry:
        """A lock whose holder ended reads as released."""
        if e.session != NO_SESSION and not self.sessions.alive(e.session):
            return e.with_(session=NO_SESSION)
        return e

    def _readable(self, node: Node, auth: Auth) -> bool:
        return self.server.tree.check_acl(node, Perm.READ, auth)

    async def get(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        auth = identities(self.server, request)
        many = flag(request, "recurse") or flag(request, "keys")
        if not key and not many:
            raise error(400, "Missing key name")
        await consistent(self.server, request)
        tree = self.server.tree

        def index() -> int:
            if many:
                return prefix_index(tree, self.root, key)
            return key_index(tree, self.root, key)

        wait = blocking(request)
        if wait is not None:
            region = self._region(key, many)
            await self.changes.wait(region, lambda: index() > wait[0], wait[1])
        idx = index()
        if many:
            return self._get_many(request, key, auth, idx)
        try:
            found = read_key(tree, self.root, key, self.visible)
        except BadKey as e:
            raise error(400, str(e)) from None
        if found is None:
            return web.Response(status=404, headers={"X-Consul-Index": str(max(idx, 1))})
        if not self._readable(found.node, auth):
            raise error(403, "Permission denied")
        found = Found(found.key, found.path, found.node, self._shown(found.entry))
        if flag(request, "raw"):
            return web.Response(body=found.entry.value, headers={"X-Consul-Index": str(idx)},
                                content_type="application/octet-stream")
        return reply([entry_json(found)], idx)

    def _region(self, key: str, many: bool) -> str:
        """The znode path a blocking query on `key` depends on."""
        if many:
            return scan_root(self.server.tree, self.root, key)[0]
        try:
            return key_path(self.root, key)[0]
        except BadKey:
            return self.root

    def _get_many(self, request: web.Request, prefix: str, auth: Auth,
                  idx: int) -> web.Response:
        tree = self.server.tree
        items = [f for f in list_prefix(tree, self.root, prefix, self.visible)
                 if self._readable(f.node, auth)]
        if flag(request, "keys"):
            sep = request.query.get("separator", "")
            keys: list[str] = []
            for f in items:
                k = f.key
                if sep:
                    cut = k.find(sep, len(prefix))
                    if cut >= 0:
                        k = k[: cut + len(sep)]
                if not keys or keys[-1] != k:
                    keys.append(k)
            if not keys:
                return web.Response(status=404, headers={"X-Consul-Index": str(max(idx, 1))})
            return reply(keys, idx)
        if not items:
            return web.Response(status=404, headers={"X-Consul-Index": str(max(idx, 1))})
        shown = [Found(f.key, f.path, f.node, self._shown(f.entry)) for f in items]
        return reply([entry_json(f) for f in shown], idx)

    # --- writes ---------------------------------------------------------------------------
    def _check_writable(self) -> None:
        if self.read_only:
            raise error(403, "mutating HTTP endpoints are disabled on this server")

    def _session_param(self, request: web.Request, name: str) -> bytes | None:
        text = request.query.get(name)
        if text is None:
            return None
        try:
            raw = parse_id(text)
        except BadSession:
            raise error(500, f"invalid session {text!r}") from None
        if name == "acquire" and not self.sessions.alive(raw):
            raise error(500, f"invalid session {text!r}")
        return raw

    async def put(self, request: web.Request) -> web.Response:
        self._check_writable()
        key = request.match_info["key"]
        auth = identities(self.server, request)
        value = await request.read()
        if len(value) + HEADER_SIZE > self.server.tree_config.max_data_bytes:
            raise web.HTTPRequestEntityTooLarge(
                self.server.tree_config.max_data_bytes - HEADER_SIZE, len(value))
        flags = uint_param(request, "flags") or 0
        cas = uint_param(request, "cas")
        acquire = self._session_param(request, "acquire")
        release = self._session_param(request, "release")
        if acquire is not None and release is not None:
            raise error(400, "Conflicting flags: acquire and release")
        try:
            path, folder = key_path(self.root, key)
        except BadKey as e:
            raise error(400, str(e)) from None
        await consistent(self.server, request)
        for _ in range(MAX_ATTEMPTS):
            node = self.server.tree.get(path)
            cur = decode(node.data) if node is not None else None
            if cur is not None and not self.visible(cur):
                cur = None
            if cas is not None and not _cas_ok(cas, node, cur):
                return reply(False)
            new = self._next(cur or Entry(), value, flags, acquire, release)
            if new is None:
                return reply(False)
            data = encode(new.with_(folder=folder, enveloped=True))
            if node is None:
                await ops.ensure_parents(self.server, path, auth)
                err = await ops.create(self.server, path, data, auth)
                retry = (Err.NODE_EXISTS, Err.NO_NODE)
            else:
                err = await ops.set_data(self.server, path, data, node.version, auth)
                retry = (Err.BAD_VERSION, Err.NO_NODE)
            if err in retry:
                if cas is not None:
                    return reply(False)
                continue
            _raise_for(err, path)
            return reply(True)
        raise error(500, "too much contention on this key, try again")

    def _next(self, cur: Entry, value: bytes, flags: int, acquire: bytes | None,
              release: bytes | None) -> Entry | None:
        """The key's next entry, or None when the lock operation fails (false)."""
        holder_alive = cur.session != NO_SESSION and self.sessions.alive(cur.session)
        base = cur.with_(value=value, flags=flags)
        if acquire is not None:
            if holder_alive:
                return base if cur.session == acquire else None
            if self.sessions.lock_delayed(cur):
                return None
            s = self.sessions.settings(acquire)
            if s is None:
                return None
            return base.with_(session=acquire, lock_index=cur.lock_index + 1,
                              delete_behavior=s.behavior == "delete",
                              lock_delay_ms=int(s.lock_delay_s * 1000), delay_until_ms=0)
        if release is not None:
            if not holder_alive or cur.session != release:
                return None
            return base.with_(session=NO_SESSION, delete_behavior=False, lock_delay_ms=0)
        return base

    async def delete(self, request: web.Request) -> web.Response:
        self._check_writable()
        key = request.match_info["key"]
        auth = identities(self.server, request)
        cas = uint_param(request, "cas")
        await consistent(self.server, request)
        if flag(request, "recurse"):
            await self._delete_tree(key, auth)
            return reply(True)
        try:
            path, _folder = key_path(self.root, key)
        except BadKey as e:
            raise error(400, str(e)) from None
        for _ in range(MAX_ATTEMPTS):
            found = read_key(self.server.tree, self.root, key, self.visible)
            if found is None:
                return reply(cas is None or cas == 0)
            if cas is not None and found.node.mzxid != cas:
                return reply(False)
            version = found.node.version
            if found.node.children:  # keep the znode as a directory for its children
                err = await ops.set_data(self.server, path, b"", version, auth)
            else:
                err = await ops.delete(self.server, path, version, auth)
            if err in (Err.BAD_VERSION, Err.NOT_EMPTY):
                if cas is not None:
                    return reply(False)
                continue
            if err != Err.NO_NODE:
                _raise_for(err, path)
            return reply(True)
        raise error(500, "too much contention on this key, try again")

    async def _delete_tree(self, prefix: str, auth: Auth) -> None:
        tree = self.server.tree
        path, node, partial = scan_root(tree, self.root, prefix)
        if node is None:
            return
        targets: list[str] = []
        if partial == "" and path != self.root:
            targets.append(path)
        else:
            targets += [f"{path}/{n}" for n in (node.children or {}) if n.startswith(partial)]
        doomed: list[str] = []
        for t in targets:
            stack = [t]
            while stack:
                p = stack.pop()
                n = tree.get(p)
                if n is None:
                    continue
                doomed.append(p)
                stack.extend(f"{p}/{c}" for c in (n.children or {}))
        for p in sorted(doomed, key=lambda s: s.count("/"), reverse=True):
            err = await ops.delete(self.server, p, -1, auth)
            if err not in (0, Err.NO_NODE, Err.NOT_EMPTY):
                _raise_for(err, p)


def _cas_ok(cas: int, node: Node | None, cur: Entry | None) -> bool:
    if cas == 0:
        return cur is None
    return cur is not None and node is not None and node.mzxid == cas


def _raise_for(err: int, path: str) -> None:
    if err == 0:
        return
    if err == Err.NO_AUTH:
        raise error(403, "Permission denied")
    if err == Err.CONNECTION_LOSS:
        raise error(500, "outcome unknown: the server lost its leader")
    raise error(500, str(ops.WriteFailed(err, path)))
