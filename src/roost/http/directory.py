"""Where each ensemble member serves HTTP, kept in the tree so that any member's dashboard
can show the leader's view of replication (follower lag is known to the leader only).

Each member writes `<root>/<member id>` = "http(s)://host:port" once it has a leader. A URL
is used only if its host is the one the member list gives that member, so a znode edited
by a client cannot point the server at other hosts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp

from roost.http import ops
from roost.wire.errors import Err

if TYPE_CHECKING:
    from roost.server.core import Server

log = logging.getLogger("roost.http")
FETCH_TIMEOUT_S = 0.5
RETRY_S = 1.0


class HttpDirectory:
    def __init__(self, server: Server, root: str, port: int) -> None:
        self.server = server
        self.root = root
        self.port = port
        self._session: aiohttp.ClientSession | None = None

    def my_url(self) -> str:
        cfg = self.server.config
        host = cfg.http_listen_host
        if host in ("", "*", "0.0.0.0", "::"):
            host = cfg.member().host
        scheme = "https" if cfg.http_tls else "http"
        return f"{scheme}://{host}:{self.port}"

    async def publish(self) -> None:
        """Write this member's URL once a leader is known (retrying until it sticks)."""
        log_ = self.server.log
        if log_ is None or not log_.ensemble:
            return
        path = f"{self.root}/{log_.id}"
        data = self.my_url().encode()
        while True:
            try:
                if log_.leader and await self._write(path, data):
                    return
            except (ops.WriteFailed, ConnectionError) as e:
                log.debug("publishing the HTTP address failed: %s", e)
            await asyncio.sleep(RETRY_S)

    async def _write(self, path: str, data: bytes) -> bool:
        node = self.server.tree.get(path)
        if node is not None and node.data == data:
            return True
        if node is None:
            await ops.ensure_parents(self.server, path)
            err = await ops.create(self.server, path, data)
        else:
            err = await ops.set_data(self.server, path, data, node.version)
        return err in (0, Err.NODE_EXISTS, Err.BAD_VERSION) and self._current(path, data)

    def _current(self, path: str, data: bytes) -> bool:
        node = self.server.tree.get(path)
        return node is not None and node.data == data

    def url_of(self, member_id: int) -> str | None:
        log_ = self.server.log
        if log_ is None or not log_.ensemble:
            return None
        member = log_.members.get(member_id)
        node = self.server.tree.get(f"{self.root}/{member_id}")
        if member is None or node is None or not node.data:
            return None
        try:
            parts = urlsplit(node.data.decode())
            port = parts.port
        except (UnicodeDecodeError, ValueError):
            return None
        if parts.scheme not in ("http", "https") or parts.hostname != member.host or port is None:
            return None
        return f"{parts.scheme}://{member.host}:{port}"

    async def fetch_json(self, url: str) -> Any:
        """GET a JSON document from another member, or None."""
        if self._session is None:
            ca = self.server.config.tls_ca
            tls = ssl.create_default_context(cafile=ca) if ca else None
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S),
                connector=aiohttp.TCPConnector(ssl=tls) if tls is not None else None)
        try:
            async with self._session.get(url) as resp:
                if resp.status != 200:
                    return None
                return json.loads(await resp.read())
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None

    async def close(self) -> None:
        if self._session is not None:
            with contextlib.suppress(Exception):
                await self._session.close()
            self._session = None
