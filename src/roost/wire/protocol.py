"""Frames: length prefix, request/reply headers, opcode dispatch. Pure functions, no I/O."""

from __future__ import annotations

import struct
from typing import Final

from roost.wire.errors import ProtocolError
from roost.wire.jute import INT, REPLY_HEADER, REQUEST_HEADER, Reader
from roost.wire.multi import MultiRequest, MultiResponse
from roost.wire.opcodes import Op, Xid
from roost.wire.records import (
    AddWatchRequest,
    AuthPacket,
    CheckVersionRequest,
    CheckWatchesRequest,
    Create2Response,
    CreateRequest,
    CreateResponse,
    CreateTTLRequest,
    DeleteRequest,
    Empty,
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
    GetSASLRequest,
    HistoryBatch,
    HistoryEventRecord,
    ReconfigRequest,
    Record,
    RemoveWatchesRequest,
    SetACLRequest,
    SetACLResponse,
    SetDataRequest,
    SetDataResponse,
    SetSASLResponse,
    SetWatches,
    SetWatches2,
    StopWatchHistoryRequest,
    SyncRequest,
    SyncResponse,
    WatcherEvent,
    WatchHistoryRequest,
    WatchHistoryResponse,
    WhoAmIResponse,
)

#: Default jute.maxbuffer: the largest frame body accepted.
DEFAULT_MAX_FRAME = 0xFFFFF

# a frame is built in one buffer: room for the length prefix and header, the record
# appended after it, then the prefix and header packed in place
_REPLY_FRAME: Final = struct.Struct(">iiqi")
_REPLY_PREFIX: Final = bytes(_REPLY_FRAME.size)
_REQUEST_FRAME: Final = struct.Struct(">iii")
_REQUEST_PREFIX: Final = bytes(_REQUEST_FRAME.size)

#: opcode -> (request record, success response record or None for an empty body)
OPS: dict[int, tuple[type[Record], type[Record] | None]] = {
    Op.CREATE: (CreateRequest, CreateResponse),
    Op.DELETE: (DeleteRequest, None),
    Op.EXISTS: (ExistsRequest, ExistsResponse),
    Op.GET_DATA: (GetDataRequest, GetDataResponse),
    Op.SET_DATA: (SetDataRequest, SetDataResponse),
    Op.GET_ACL: (GetACLRequest, GetACLResponse),
    Op.SET_ACL: (SetACLRequest, SetACLResponse),
    Op.GET_CHILDREN: (GetChildrenRequest, GetChildrenResponse),
    Op.SYNC: (SyncRequest, SyncResponse),
    Op.PING: (Empty, None),
    Op.GET_CHILDREN2: (GetChildren2Request, GetChildren2Response),
    Op.CHECK: (CheckVersionRequest, None),
    Op.MULTI: (MultiRequest, MultiResponse),
    Op.CREATE2: (CreateRequest, Create2Response),
    Op.RECONFIG: (ReconfigRequest, GetDataResponse),
    Op.CHECK_WATCHES: (CheckWatchesRequest, None),
    Op.REMOVE_WATCHES: (RemoveWatchesRequest, None),
    Op.CREATE_CONTAINER: (CreateRequest, Create2Response),
    Op.CREATE_TTL: (CreateTTLRequest, Create2Response),
    Op.MULTI_READ: (MultiRequest, MultiResponse),
    Op.AUTH: (AuthPacket, None),
    Op.SET_WATCHES: (SetWatches, None),
    Op.SASL: (GetSASLRequest, SetSASLResponse),
    Op.GET_EPHEMERALS: (GetEphemeralsRequest, GetEphemeralsResponse),
    Op.GET_ALL_CHILDREN_NUMBER: (GetAllChildrenNumberRequest, GetAllChildrenNumberResponse),
    Op.SET_WATCHES2: (SetWatches2, None),
    Op.ADD_WATCH: (AddWatchRequest, ErrorResponse),
    Op.WHO_AM_I: (Empty, WhoAmIResponse),
    Op.CLOSE_SESSION: (Empty, None),
    Op.WATCH_HISTORY: (WatchHistoryRequest, WatchHistoryResponse),
    Op.STOP_WATCH_HISTORY: (StopWatchHistoryRequest, None),
}


class UnknownOpcode(ProtocolError):
    """A well-framed request with an opcode the server does not implement."""

    def __init__(self, xid: int, op: int) -> None:
        super().__init__(f"unknown opcode {op}")
        self.xid = xid
        self.op = op


class BadRequestBody(ProtocolError):
    """A known opcode whose body does not parse (answered with MarshallingError)."""

    def __init__(self, xid: int, op: int, reason: str) -> None:
        super().__init__(f"opcode {op}: {reason}")
        self.xid = xid
        self.op = op


def decode_request(body: bytes) -> tuple[int, int, Record]:
    """Decode one request frame body into (xid, opcode, record).

    Raises `UnknownOpcode` for opcodes outside `OPS`, `BadRequestBody` when the
    header parsed but the record did not, and `ProtocolError` for a short header.
    """
    if len(body) < 8:
        raise ProtocolError(f"request frame of {len(body)} bytes has no header")
    xid, op = REQUEST_HEADER.unpack_from(body, 0)
    entry = OPS.get(op)  # (no entry for Op.NOTIFICATION: a client never sends one)
    if entry is None:
        raise UnknownOpcode(xid, op)
    try:
        rec = entry[0].read(Reader(body, 8))
    except ProtocolError as e:
        raise BadRequestBody(xid, op, str(e)) from None
    return xid, op, rec


def encode_request(xid: int, op: int, rec: Record | None = None) -> bytes:
    """A whole request frame, length prefix included."""
    out = bytearray(_REQUEST_PREFIX)
    if rec is not None:
        rec._encode(rec, out)
    _REQUEST_FRAME.pack_into(out, 0, len(out) - 4, xid, op)
    return bytes(out)


def encode_reply(
    xid: int, zxid: int, err: int, rec: Record | None = None, body_on_error: bool = False
) -> bytes:
    """A whole reply frame; the record is sent only when err == 0 (or `body_on_error`: a
    failed SASL step, whose reply ZooKeeper's clients read a body from)."""
    out = bytearray(_REPLY_PREFIX)
    if rec is not None and (err == 0 or body_on_error):
        rec._encode(rec, out)
    _REPLY_FRAME.pack_into(out, 0, len(out) - 4, xid, zxid, err)
    return bytes(out)


def encode_event(ev_type: int, state: int, path: str) -> bytes:
    """A watch notification frame (xid -1, zxid -1)."""
    return encode_reply(-1, -1, 0, WatcherEvent(ev_type, state, path))


def encode_history(stream_id: int, zxid: int, events: list[HistoryEventRecord]) -> bytes:
    """A watch-history frame: the events of one zxid for one stream (xid `Xid.HISTORY`)."""
    return encode_reply(Xid.HISTORY, zxid, 0, HistoryBatch(stream_id, events))


def decode_reply_header(body: bytes) -> tuple[int, int, int]:
    if len(body) < 16:
        raise ProtocolError(f"reply frame of {len(body)} bytes has no header")
    xid, zxid, err = REPLY_HEADER.unpack_from(body, 0)
    return int(xid), int(zxid), int(err)


def encode_frame(rec: Record) -> bytes:
    """A frame holding one bare record (ConnectRequest / ConnectResponse)."""
    out = bytearray(4)
    rec._encode(rec, out)
    INT.pack_into(out, 0, len(out) - 4)
    return bytes(out)


class FrameBuffer:
    """Accumulates bytes and splits them into frame bodies.

    A length below zero or above `max_frame` raises `ProtocolError`; the caller
    closes the connection (ZooKeeper does the same, without a reply).
    """

    __slots__ = ("_buf", "max_frame")

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self._buf = bytearray()
        self.max_frame = max_frame

    def __len__(self) -> int:
        return len(self._buf)

    def peek(self, n: int) -> bytes:
        return bytes(self._buf[:n])

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf
        buf += data
        frames: list[bytes] = []
        pos = 0
        end = len(buf)
        while end - pos >= 4:
            (n,) = INT.unpack_from(buf, pos)
            if n < 0 or n > self.max_frame:
                raise ProtocolError(f"frame length {n} out of range (max {self.max_frame})")
            if end - pos - 4 < n:
                break
            frames.append(bytes(buf[pos + 4 : pos + 4 + n]))
            pos += 4 + n
        if pos:
            del buf[:pos]
        return frames
