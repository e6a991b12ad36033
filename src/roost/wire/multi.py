"""multi (14) and multiRead (22) request/response records (ZooKeeper's MultiOperationRecord)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from roost.wire.errors import Err, ProtocolError
from roost.wire.jute import Reader, Writer
from roost.wire.opcodes import Op
from roost.wire.records import (
    CheckVersionRequest,
    Create2Response,
    CreateRequest,
    CreateResponse,
    CreateTTLRequest,
    DeleteRequest,
    Empty,
    ErrorResponse,
    GetChildrenRequest,
    GetChildrenResponse,
    GetDataRequest,
    GetDataResponse,
    MultiHeader,
    Record,
    SetDataRequest,
    SetDataResponse,
)

#: op type -> request record, for ops allowed in a write multi
WRITE_OPS: dict[int, type[Record]] = {
    Op.CREATE: CreateRequest,
    Op.CREATE2: CreateRequest,
    Op.CREATE_CONTAINER: CreateRequest,
    Op.CREATE_TTL: CreateTTLRequest,
    Op.DELETE: DeleteRequest,
    Op.SET_DATA: SetDataRequest,
    Op.CHECK: CheckVersionRequest,
}
#: op type -> request record, for ops allowed in multiRead
READ_OPS: dict[int, type[Record]] = {
    Op.GET_CHILDREN: GetChildrenRequest,
    Op.GET_DATA: GetDataRequest,
}
#: result type -> response record (None = no body)
RESULT_RECORDS: dict[int, type[Record] | None] = {
    Op.CREATE: CreateResponse,
    Op.CREATE2: Create2Response,
    Op.DELETE: None,
    Op.SET_DATA: SetDataResponse,
    Op.CHECK: None,
    Op.GET_CHILDREN: GetChildrenResponse,
    Op.GET_DATA: GetDataResponse,
}

_END = MultiHeader(-1, True, -1)


@dataclass(slots=True)
class MultiRequest(Record):
    """A sequence of (op type, request record). `read` accepts write or read ops, not both."""

    ops: tuple[tuple[int, Record], ...]

    @property
    def is_read(self) -> bool:
        return bool(self.ops) and self.ops[0][0] in READ_OPS

    def write(self, w: Writer) -> None:
        for op, rec in self.ops:
            MultiHeader(op, False, -1).write(w)
            rec.write(w)
        _END.write(w)

    @classmethod
    def read(cls, r: Reader) -> Self:
        ops: list[tuple[int, Record]] = []
        kinds: set[bool] = set()
        while True:
            h = MultiHeader.read(r)
            if h.done:
                break
            if h.type in WRITE_OPS:
                kinds.add(False)
                ops.append((h.type, WRITE_OPS[h.type].read(r)))
            elif h.type in READ_OPS:
                kinds.add(True)
                ops.append((h.type, READ_OPS[h.type].read(r)))
            else:
                raise ProtocolError(f"op type {h.type} is not allowed in a multi")
            if len(kinds) > 1:
                raise ProtocolError("multi mixes read and write ops")
        return cls(tuple(ops))


@dataclass(slots=True)
class OpResult:
    """One multi result: `type` is the result type (-1 for an error), `err` its code."""

    type: int
    err: int = 0
    record: Record | None = None

    @classmethod
    def error(cls, err: int) -> OpResult:
        return cls(Op.ERROR, err, None)


@dataclass(slots=True)
class MultiResponse(Record):
    results: tuple[OpResult, ...]

    def write(self, w: Writer) -> None:
        for res in self.results:
            MultiHeader(res.type, False, res.err).write(w)
            if res.type == Op.ERROR:
                ErrorResponse(res.err).write(w)
            elif res.record is not None:
                res.record.write(w)
        _END.write(w)

    @classmethod
    def read(cls, r: Reader) -> Self:
        results: list[OpResult] = []
        while True:
            h = MultiHeader.read(r)
            if h.done:
                break
            if h.type == Op.ERROR:
                results.append(OpResult(Op.ERROR, ErrorResponse.read(r).err))
                continue
            if h.type not in RESULT_RECORDS:
                raise ProtocolError(f"unknown multi result type {h.type}")
            rc = RESULT_RECORDS[h.type]
            results.append(
                OpResult(h.type, h.err if h.err != -1 else Err.OK, rc.read(r) if rc else None)
            )
        return cls(tuple(results))


__all__ = ["READ_OPS", "WRITE_OPS", "Empty", "MultiRequest", "MultiResponse", "OpResult"]
