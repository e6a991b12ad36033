"""GET /v1/snapshot: a consistent backup of the tree through any member (Consul's
snapshot endpoint; the body is a roost backup file, see server/backup.py)."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from aiohttp import web

from roost.http.common import consistent, error, identities
from roost.server.backup import encode_backup
from roost.tree.acl import SUPER_ID

if TYPE_CHECKING:
    from roost.server.core import Server


def _loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


def snapshot_routes(server: Server) -> list[web.RouteDef]:
    async def snapshot(request: web.Request) -> web.Response:
        """The whole tree (ACLs, digests and sessions included): with a super digest
        configured only the super identity may take it, else only a loopback client."""
        if server.config.super_digest is not None:
            if SUPER_ID not in identities(server, request):
                raise error(403, "Permission denied: a snapshot needs the super token")
        elif not _loopback(request.remote):
            raise error(403, "Permission denied: set super_digest to take snapshots remotely")
        await consistent(server, request)  # everything committed before the request
        secret = server.config.peer_secret if server.config.ensemble else None
        blob = encode_backup(server.tree, secret)
        return web.Response(
            body=blob,
            content_type="application/octet-stream",
            headers={"X-Consul-Index": str(max(server.tree.last_zxid, 1))},
        )

    return [web.get("/v1/snapshot", snapshot)]
