"""Shared request helpers: tokens to ZooKeeper identities, JSON replies, query values."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aiohttp import web

from roost.http.durations import parse_seconds
from roost.tree.acl import auth_ids
from roost.wire.records import Id

if TYPE_CHECKING:
    from roost.server.core import Server

Auth = tuple[Id, ...]
DEFAULT_WAIT_S = 300.0
MAX_WAIT_S = 600.0


def error(status: int, text: str) -> web.HTTPException:
    classes: dict[int, type[web.HTTPException]] = {
        400: web.HTTPBadRequest,
        403: web.HTTPForbidden,
        404: web.HTTPNotFound,
        405: web.HTTPMethodNotAllowed,
        500: web.HTTPInternalServerError,
        501: web.HTTPNotImplemented,
        503: web.HTTPServiceUnavailable,
    }
    cls = classes.get(status, web.HTTPInternalServerError)
    if status == 405:
        return web.HTTPMethodNotAllowed("", [], text=text)
    return cls(text=text)


def token_of(request: web.Request) -> str:
    tok = request.headers.get("X-Consul-Token") or request.query.get("token", "")
    bearer = request.headers.get("Authorization", "")
    if not tok and bearer.lower().startswith("bearer "):
        tok = bearer[7:].strip()
    return tok


def identities(server: Server, request: web.Request) -> Auth:
    """The ZooKeeper identities of a request: a token "user:password" is the digest
    identity that `addauth digest user:password` gives (plus super for the super digest)."""
    tok = token_of(request)
    if not tok:
        return ()
    if ":" not in tok:
        raise error(403, "ACL not found: a token is user:password")
    ip = request.remote or "127.0.0.1"
    ids = auth_ids("digest", tok.encode(), ip, server.config.super_digest)
    return tuple(ids or ())


def reply(data: object, index: int | None = None, status: int = 200) -> web.Response:
    headers = {} if index is None else {"X-Consul-Index": str(max(index, 1))}
    return web.Response(
        text=json.dumps(data), status=status, content_type="application/json", headers=headers
    )


def flag(request: web.Request, name: str) -> bool:
    """A present query flag (?recurse, ?recurse=true); "false" and "0" mean off."""
    v = request.query.get(name)
    return v is not None and v.lower() not in ("false", "0")


def uint_param(request: web.Request, name: str) -> int | None:
    v = request.query.get(name)
    if v is None or v == "":
        return None
    try:
        n = int(v)
    except ValueError:
        raise error(400, f"invalid {name}: {v!r}") from None
    if n < 0 or n >= 1 << 64:
        raise error(400, f"invalid {name}: {v!r}")
    return n


def blocking(request: web.Request) -> tuple[int, float] | None:
    """(index, wait seconds) of a blocking query, or None."""
    index = uint_param(request, "index")
    if index is None:
        return None
    raw = request.query.get("wait")
    try:
        wait = parse_seconds(raw) if raw else DEFAULT_WAIT_S
    except ValueError:
        raise error(400, f"invalid wait: {raw!r}") from None
    return index, min(max(wait, 0.0), MAX_WAIT_S)


async def consistent(server: Server, request: web.Request) -> None:
    """Reads go through a ReadIndex round (a leader-confirmed point) unless ?stale."""
    if flag(request, "stale"):
        return
    try:
        await server.barrier()
    except TimeoutError:
        raise error(500, "No cluster leader") from None


def body_limit(server: Server) -> int:
    return int(server.config.max_frame_bytes)
