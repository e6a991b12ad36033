"""Writes through the server's replicated log, as the HTTP API's requests make them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost.tree.state import OPEN_ACL
from roost.wire.errors import Err
from roost.wire.opcodes import CreateMode, Op
from roost.wire.records import ACL, CreateRequest, DeleteRequest, Id, Record, SetDataRequest

if TYPE_CHECKING:
    from roost.server.core import Server

Auth = tuple[Id, ...]


class WriteFailed(Exception):
    """A write ended with a ZooKeeper error the caller did not expect."""

    def __init__(self, err: int, path: str) -> None:
        super().__init__(f"{Err(err).name if err in Err._value2member_map_ else err} at {path}")
        self.err = err
        self.path = path


async def execute(
    server: Server, op: int, req: Record, session_id: int = 0, auth: Auth = ()
) -> tuple[int, int]:
    """(zxid, error code) of one write."""
    zxid, err, _rec = await server.execute(op, req, session_id, auth)
    return zxid, err


async def create(
    server: Server,
    path: str,
    data: bytes,
    auth: Auth = (),
    mode: int = CreateMode.PERSISTENT,
    session_id: int = 0,
    acl: tuple[ACL, ...] = OPEN_ACL,
) -> int:
    _z, err = await execute(
        server, Op.CREATE, CreateRequest(path, data, list(acl), int(mode)), session_id, auth
    )
    return err


async def set_data(server: Server, path: str, data: bytes, version: int, auth: Auth = ()) -> int:
    _z, err = await execute(server, Op.SET_DATA, SetDataRequest(path, data, version), 0, auth)
    return err


async def delete(server: Server, path: str, version: int = -1, auth: Auth = ()) -> int:
    _z, err = await execute(server, Op.DELETE, DeleteRequest(path, version), 0, auth)
    return err


async def ensure_parents(server: Server, path: str, auth: Auth = ()) -> None:
    """Create every missing ancestor of `path` as an empty persistent znode."""
    parts = path.strip("/").split("/")[:-1]
    cur = ""
    for part in parts:
        cur += "/" + part
        if server.tree.get(cur) is not None:
            continue
        err = await create(server, cur, b"", auth)
        if err not in (0, Err.NODE_EXISTS):
            raise WriteFailed(err, cur)
