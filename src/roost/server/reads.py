"""Requests answered from the local tree: reads, watch registration, sync, whoAmI.

Each handler returns the whole reply frame. It runs when every earlier request
of the same connection has been answered (see Connection.reply_later).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from roost.server.watches import ancestors
from roost.wire.errors import Err
from roost.wire.multi import MultiRequest, MultiResponse, OpResult
from roost.wire.opcodes import AddWatchMode, KeeperState, Op, Perm
from roost.wire.protocol import encode_event, encode_reply
from roost.wire.records import (
    ACL,
    AddWatchRequest,
    CheckWatchesRequest,
    ClientInfo,
    ErrorResponse,
    ExistsRequest,
    ExistsResponse,
    GetACLRequest,
    GetACLResponse,
    GetAllChildrenNumberRequest,
    GetAllChildrenNumberResponse,
    GetChildren2Request,
    GetChildren2Response,
    GetChildrenRequest,
    GetChildrenResponse,
    GetDataRequest,
    GetDataResponse,
    GetEphemeralsRequest,
    GetEphemeralsResponse,
    Id,
    Record,
    RemoveWatchesRequest,
    SetWatches,
    SetWatches2,
    SyncRequest,
    SyncResponse,
    WhoAmIResponse,
)

if TYPE_CHECKING:
    from roost.server.connection import Connection
    from roost.server.watches import WatchManager
    from roost.tree import DataTree


class ReadHost(Protocol):
    """What the read handlers need of the server (`roost.server.core.Server`)."""

    @property
    def tree(self) -> DataTree: ...
    @property
    def watches(self) -> WatchManager: ...


Auth = tuple[Id, ...]
#: plain ints: `int & Perm` goes through enum.Flag's Python-level operators on every read
_READ, _ADMIN = int(Perm.READ), int(Perm.ADMIN)
Handler = Callable[["ReadHost", "Connection", int, Any, Auth], bytes]


def _err(server: ReadHost, xid: int, err: int) -> bytes:
    return encode_reply(xid, server.tree.last_zxid, err)


def _ok(server: ReadHost, xid: int, rec: Record | None) -> bytes:
    return encode_reply(xid, server.tree.last_zxid, 0, rec)


def _readable(server: ReadHost, path: str, auth: Auth) -> tuple[int, Any]:
    """(0, node) or (error code, None) for a read of `path` needing READ."""
    tree = server.tree
    node = tree.get(path)
    if node is None:
        return Err.NO_NODE, None
    if not tree.check_acl(node, _READ, auth):
        return Err.NO_AUTH, None
    return 0, node


def exists(server: ReadHost, conn: Connection, xid: int, req: ExistsRequest, auth: Auth) -> bytes:
    if "\x00" in req.path:
        return _err(server, xid, Err.BAD_ARGUMENTS)
    tree = server.tree
    node = tree.get(req.path)  # like ZooKeeper, exists checks no ACL
    if req.watch:
        server.watches.add_data(req.path, conn)
    if node is None:
        return _err(server, xid, Err.NO_NODE)
    return _ok(server, xid, ExistsResponse(tree.stat(node)))


def get_data(
    server: ReadHost, conn: Connection, xid: int, req: GetDataRequest, auth: Auth
) -> bytes:
    err, node = _readable(server, req.path, auth)
    if err:
        return _err(server, xid, err)
    if req.watch:
        server.watches.add_data(req.path, conn)
    return _ok(server, xid, GetDataResponse(node.data, server.tree.stat(node)))


def get_children(
    server: ReadHost,
    conn: Connection,
    xid: int,
    req: GetChildrenRequest | GetChildren2Request,
    auth: Auth,
) -> bytes:
    """getChildren (8) and getChildren2 (12, which adds the parent's Stat)."""
    err, node = _readable(server, req.path, auth)
    if err:
        return _err(server, xid, err)
    if req.watch:
        server.watches.add_child(req.path, conn)
    tree = server.tree
    if isinstance(req, GetChildren2Request):
        return _ok(server, xid, GetChildren2Response(tree.children(node), tree.stat(node)))
    return _ok(server, xid, GetChildrenResponse(tree.children(node)))


def _mask(acl: ACL) -> ACL:
    if acl.id.scheme == "digest":
        user = acl.id.id.split(":", 1)[0]
        return ACL(acl.perms, Id("digest", f"{user}:x"))
    return acl


def get_acl(server: ReadHost, conn: Connection, xid: int, req: GetACLRequest, auth: Auth) -> bytes:
    tree = server.tree
    node = tree.get(req.path)
    if node is None:
        return _err(server, xid, Err.NO_NODE)
    if not tree.check_acl(node, _READ | _ADMIN, auth):
        return _err(server, xid, Err.NO_AUTH)
    acl = list(node.acl)
    if not tree.check_acl(node, _ADMIN, auth):
        acl = [_mask(a) for a in acl]
    return _ok(server, xid, GetACLResponse(acl, tree.stat(node)))


def all_children_number(
    server: ReadHost, conn: Connection, xid: int, req: GetAllChildrenNumberRequest, auth: Auth
) -> bytes:
    err, node = _readable(server, req.path, auth)
    if err:
        return _err(server, xid, err)
    return _ok(server, xid, GetAllChildrenNumberResponse(server.tree.count_descendants(node)))


def ephemerals(
    server: ReadHost, conn: Connection, xid: int, req: GetEphemeralsRequest, auth: Auth
) -> bytes:
    prefix = req.prefixPath or None
    paths = server.tree.ephemerals(conn.session_id, prefix)
    return _ok(server, xid, GetEphemeralsResponse(paths))


def sync(server: ReadHost, conn: Connection, xid: int, req: SyncRequest, auth: Auth) -> bytes:
    return _ok(server, xid, SyncResponse(req.path))


def who_am_i(server: ReadHost, conn: Connection, xid: int, req: Any, auth: Auth) -> bytes:
    infos = [
        ClientInfo(i.scheme, i.id.split(":", 1)[0] if i.scheme == "digest" else i.id) for i in auth
    ]
    return _ok(server, xid, WhoAmIResponse(infos))


def add_watch(
    server: ReadHost, conn: Connection, xid: int, req: AddWatchRequest, auth: Auth
) -> bytes:
    if req.mode not in (AddWatchMode.PERSISTENT, AddWatchMode.PERSISTENT_RECURSIVE):
        return _err(server, xid, Err.BAD_ARGUMENTS)
    server.watches.add_persistent(req.path, conn, req.mode == AddWatchMode.PERSISTENT_RECURSIVE)
    return _ok(server, xid, ErrorResponse(0))


def check_watches(
    server: ReadHost, conn: Connection, xid: int, req: CheckWatchesRequest, auth: Auth
) -> bytes:
    found = server.watches.remove(req.path, conn, req.type, dry_run=True)
    return _ok(server, xid, None) if found else _err(server, xid, Err.NO_WATCHER)


def remove_watches(
    server: ReadHost, conn: Connection, xid: int, req: RemoveWatchesRequest, auth: Auth
) -> bytes:
    found = server.watches.remove(req.path, conn, req.type)
    return _ok(server, xid, None) if found else _err(server, xid, Err.NO_WATCHER)


def set_watches(
    server: ReadHost, conn: Connection, xid: int, req: SetWatches | SetWatches2, auth: Auth
) -> bytes:
    """Re-register watches after a reconnect, firing what changed after relativeZxid."""
    events = server.watches.set_watches(server.tree, conn, req)
    frames = [encode_event(t, KeeperState.SYNC_CONNECTED, p) for t, p in events]
    return b"".join(frames) + _ok(server, xid, None)


def multi_read(
    server: ReadHost, conn: Connection, xid: int, req: MultiRequest, auth: Auth
) -> bytes:
    if not req.is_read and req.ops:
        return _err(server, xid, Err.MARSHALLING_ERROR)
    tree = server.tree
    results: list[OpResult] = []
    for op, sub in req.ops:
        err, node = _readable(server, sub.path, auth)  # type: ignore[attr-defined]
        if err:
            results.append(OpResult.error(err))
        elif op == Op.GET_DATA:
            results.append(OpResult(op, 0, GetDataResponse(node.data, tree.stat(node))))
        else:
            results.append(OpResult(op, 0, GetChildrenResponse(tree.children(node))))
    return _ok(server, xid, MultiResponse(tuple(results)))


#: opcode -> read handler
READS: dict[int, Handler] = {
    Op.EXISTS: exists,
    Op.GET_DATA: get_data,
    Op.GET_CHILDREN: get_children,
    Op.GET_CHILDREN2: get_children,
    Op.GET_ACL: get_acl,
    Op.GET_ALL_CHILDREN_NUMBER: all_children_number,
    Op.GET_EPHEMERALS: ephemerals,
    Op.SYNC: sync,
    Op.WHO_AM_I: who_am_i,
    Op.ADD_WATCH: add_watch,
    Op.CHECK_WATCHES: check_watches,
    Op.REMOVE_WATCHES: remove_watches,
    Op.SET_WATCHES: set_watches,
    Op.SET_WATCHES2: set_watches,
    Op.MULTI_READ: multi_read,
}

__all__ = ["READS", "ancestors"]
