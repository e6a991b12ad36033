"""Small drivers for DataTree tests: a zxid/time counter and one-line request helpers."""

from __future__ import annotations

from dataclasses import dataclass, field

from roost.tree import DataTree, Node, TxnContext, WatchEvent
from roost.wire.multi import MultiRequest, MultiResponse
from roost.wire.opcodes import Op, Perm
from roost.wire.records import (
    ACL,
    CheckVersionRequest,
    CreateRequest,
    CreateTTLRequest,
    DeleteRequest,
    Id,
    Record,
    SetACLRequest,
    SetDataRequest,
)

OPEN = [ACL(int(Perm.ALL), Id("world", "anyone"))]
READ_ONLY = [ACL(int(Perm.READ), Id("world", "anyone"))]
CREATOR_ALL = [ACL(int(Perm.ALL), Id("auth", ""))]


@dataclass
class Driver:
    """Applies txns to a tree with zxid 1, 2, 3... and time 1000 * zxid."""

    tree: DataTree = field(default_factory=DataTree)
    zxid: int = 0
    session: int = 0
    auth: tuple[Id, ...] = ()

    def ctx(self, time_ms: int | None = None) -> TxnContext:
        self.zxid += 1
        when = self.zxid * 1000 if time_ms is None else time_ms
        return TxnContext(self.zxid, when, self.session, self.auth)

    def apply(self, op: int, req: Record) -> tuple[int, Record | None, list[WatchEvent]]:
        return self.tree.apply(self.ctx(), op, req)

    def create(
        self,
        path: str,
        data: bytes | None = b"",
        flags: int = 0,
        acl: list[ACL] | None = None,
        op: int = Op.CREATE,
    ) -> tuple[int, Record | None, list[WatchEvent]]:
        return self.apply(op, CreateRequest(path, data, OPEN if acl is None else acl, flags))

    def create_ttl(
        self, path: str, ttl: int, flags: int = 5, data: bytes | None = b""
    ) -> tuple[int, Record | None, list[WatchEvent]]:
        return self.apply(Op.CREATE_TTL, CreateTTLRequest(path, data, OPEN, flags, ttl))

    def delete(self, path: str, version: int = -1) -> tuple[int, Record | None, list[WatchEvent]]:
        return self.apply(Op.DELETE, DeleteRequest(path, version))

    def set(
        self, path: str, data: bytes | None, version: int = -1
    ) -> tuple[int, Record | None, list[WatchEvent]]:
        return self.apply(Op.SET_DATA, SetDataRequest(path, data, version))

    def set_acl(
        self, path: str, acl: list[ACL], version: int = -1
    ) -> tuple[int, Record | None, list[WatchEvent]]:
        return self.apply(Op.SET_ACL, SetACLRequest(path, acl, version))

    def check(self, path: str, version: int) -> tuple[int, Record | None, list[WatchEvent]]:
        return self.apply(Op.CHECK, CheckVersionRequest(path, version))

    def multi(self, *ops: tuple[int, Record]) -> MultiResponse:
        err, rec, _ = self.apply(Op.MULTI, MultiRequest(tuple(ops)))
        assert err == 0
        assert isinstance(rec, MultiResponse)
        return rec


def node_at(tree: DataTree, path: str) -> Node:
    """The node at `path`, which must exist."""
    found = tree.get(path)
    assert found is not None, path
    return found
