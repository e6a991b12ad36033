"""multi (atomic writes) and multiRead (batched reads) builders, and create-request choice."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from roost.client.errors import (
    CodedError,
    RolledBackError,
    RuntimeInconsistencyError,
    error_for,
)
from roost.wire.errors import Err
from roost.wire.multi import MultiRequest, MultiResponse, OpResult
from roost.wire.opcodes import CreateMode, Op
from roost.wire.records import (
    ACL,
    CheckVersionRequest,
    Create2Response,
    CreateRequest,
    CreateResponse,
    CreateTTLRequest,
    DeleteRequest,
    GetChildrenRequest,
    GetChildrenResponse,
    GetDataRequest,
    GetDataResponse,
    Record,
    SetDataRequest,
    SetDataResponse,
)

if TYPE_CHECKING:
    from roost.client.connection import Connection
    from roost.client.inflight import OnDone

#: largest TTL ZooKeeper accepts (ms)
MAX_TTL = 0xFF_FFFF_FFFF

_R = TypeVar("_R", bound=Record)


class BatchClient(Protocol):
    """What a transaction or read batch needs of its client (`roost.client.client.Client`):
    its connection, default ACL, path translation and request call."""

    @property
    def conn(self) -> Connection: ...
    @property
    def default_acl(self) -> list[ACL]: ...
    def _sp(self, path: str, sequence: bool = False) -> str: ...
    async def _typed(self, rtype: type[_R], op: int, rec: Record, path: str = "",
                     on_done: OnDone | None = None) -> _R: ...


def create_op(
    server_path: str,
    data: bytes | None,
    acl: list[ACL],
    ephemeral: bool,
    sequence: bool,
    container: bool,
    ttl: int | None,
) -> tuple[int, Record]:
    """Pick the opcode and record for a create: plain (1), container (19) or TTL (21)."""
    if container:
        if ephemeral or sequence or ttl is not None:
            raise ValueError("a container node cannot be ephemeral, sequential or have a TTL")
        return Op.CREATE_CONTAINER, CreateRequest(server_path, data, acl, CreateMode.CONTAINER)
    if ttl is not None:
        if ephemeral:
            raise ValueError("an ephemeral node cannot have a TTL")
        if not 0 < ttl <= MAX_TTL:
            raise ValueError(f"ttl must be in 1..{MAX_TTL} ms")
        mode = CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL if sequence else (
            CreateMode.PERSISTENT_WITH_TTL)
        return Op.CREATE_TTL, CreateTTLRequest(server_path, data, acl, mode, ttl)
    flags = (CreateMode.EPHEMERAL if ephemeral else 0) | (
        CreateMode.PERSISTENT_SEQUENTIAL if sequence else 0)
    return Op.CREATE, CreateRequest(server_path, data, acl, flags)


class Transaction:
    """Collects write ops; `commit` sends them as one atomic multi.

    ``commit()`` returns one result per op: the created path (str), a `Stat` for
    set, ``True`` for delete and check. If the multi failed, nothing was applied
    and it raises the first failing op's typed error, with ``.results`` holding
    every op's outcome (`RolledBackError` for ops that were fine). With
    ``raise_on_error=False`` the list of results/exceptions is returned instead.
    """

    def __init__(self, client: BatchClient) -> None:
        self._client = client
        self._ops: list[tuple[int, Record]] = []
        self._paths: list[str] = []

    def __len__(self) -> int:
        return len(self._ops)

    def create(
        self,
        path: str,
        data: bytes | None = b"",
        acl: list[ACL] | None = None,
        *,
        ephemeral: bool = False,
        sequence: bool = False,
        container: bool = False,
        ttl: int | None = None,
    ) -> Transaction:
        c = self._client
        sp = c._sp(path, sequence)
        op = create_op(sp, data, acl or c.default_acl, ephemeral, sequence, container, ttl)
        return self._add(path, *op)

    def delete(self, path: str, version: int = -1) -> Transaction:
        return self._add(path, Op.DELETE, DeleteRequest(self._client._sp(path), version))

    def set(self, path: str, data: bytes | None, version: int = -1) -> Transaction:
        return self._add(path, Op.SET_DATA, SetDataRequest(self._client._sp(path), data, version))

    def check(self, path: str, version: int) -> Transaction:
        return self._add(path, Op.CHECK, CheckVersionRequest(self._client._sp(path), version))

    def _add(self, path: str, op: int, rec: Record) -> Transaction:
        self._ops.append((op, rec))
        self._paths.append(path)
        return self

    async def commit(self, raise_on_error: bool = True) -> list[Any]:
        if not self._ops:
            return []
        res = await self._client._typed(MultiResponse, Op.MULTI, MultiRequest(tuple(self._ops)))
        results = [self._result(r, p) for r, p in zip(res.results, self._paths, strict=False)]
        if raise_on_error:
            _raise_first(results)
        return results

    def _result(self, r: OpResult, path: str) -> Any:
        if r.type == Op.ERROR:
            if r.err == Err.OK:
                return RolledBackError(path)
            return error_for(r.err, path)
        rec = r.record
        if isinstance(rec, CreateResponse | Create2Response):
            return self._client.conn.client_path(rec.path)
        if isinstance(rec, SetDataResponse):
            return rec.stat
        return True


def _raise_first(results: list[Any]) -> None:
    errors = [r for r in results if isinstance(r, CodedError)]
    if not errors:
        return
    real = [
        e for e in errors if not isinstance(e, RolledBackError | RuntimeInconsistencyError)
    ]
    exc = (real or errors)[0]
    exc.results = results
    raise exc


class ReadBatch:
    """Collects getData/getChildren reads; `execute` sends them as one multiRead.

    Each result is ``(data, Stat)`` for get, a list of names for children, or the
    typed `KeeperError` instance for a read that failed (others still succeed).
    """

    def __init__(self, client: BatchClient) -> None:
        self._client = client
        self._ops: list[tuple[int, Record]] = []
        self._paths: list[str] = []

    def get(self, path: str) -> ReadBatch:
        self._ops.append((Op.GET_DATA, GetDataRequest(self._client._sp(path), False)))
        self._paths.append(path)
        return self

    def children(self, path: str) -> ReadBatch:
        self._ops.append((Op.GET_CHILDREN, GetChildrenRequest(self._client._sp(path), False)))
        self._paths.append(path)
        return self

    async def execute(self) -> list[Any]:
        if not self._ops:
            return []
        res = await self._client._typed(
            MultiResponse, Op.MULTI_READ, MultiRequest(tuple(self._ops))
        )
        out: list[Any] = []
        for r, path in zip(res.results, self._paths, strict=False):
            rec = r.record
            if r.type == Op.ERROR:
                out.append(error_for(r.err, path))
            elif isinstance(rec, GetDataResponse):
                out.append((rec.data, rec.stat))
            elif isinstance(rec, GetChildrenResponse):
                out.append(rec.children)
            else:
                out.append(rec)
        return out


__all__ = ["MAX_TTL", "ReadBatch", "Transaction", "create_op"]
