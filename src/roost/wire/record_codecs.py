"""Readers and writers of the jute records, generated from the layouts in
roost/wire/records.py by `python3 src/roost/wire/codegen.py`: do not edit, regenerate
(tests/wire/test_codegen.py fails when this file is not what the generator writes).

It imports the record classes and installs these on them; the package roost.wire imports
it (its __init__), so the codecs are in place before any record is used. Compiled with
the rest of the request path by the opt-in mypyc build (setup.py, MYPYC_MODULES).
"""

from __future__ import annotations

import struct
from typing import Final

from roost.wire.errors import ProtocolError
from roost.wire.jute import MAX_FIELD, Reader, RecentVectors, bad_length, truncated
from roost.wire.recordbase import check_installed, install
from roost.wire.records import (
    ACL,
    AddWatchRequest,
    AuthPacket,
    CheckVersionRequest,
    CheckWatchesRequest,
    ClientInfo,
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
    Id,
    MultiHeader,
    ReconfigRequest,
    RemoveWatchesRequest,
    ReplyHeader,
    RequestHeader,
    SetACLRequest,
    SetACLResponse,
    SetDataRequest,
    SetDataResponse,
    SetSASLResponse,
    SetWatches,
    SetWatches2,
    Stat,
    StopWatchHistoryRequest,
    SyncRequest,
    SyncResponse,
    WatcherEvent,
    WatchHistoryRequest,
    WatchHistoryResponse,
    WhoAmIResponse,
)

_NULL: Final = b"\xff\xff\xff\xff"
_P_i: Final = struct.Struct(">i").pack
_P_ii: Final = struct.Struct(">ii").pack
_P_iq: Final = struct.Struct(">iq").pack
_P_iqi: Final = struct.Struct(">iqi").pack
_P_izi: Final = struct.Struct(">i?i").pack
_P_q: Final = struct.Struct(">q").pack
_P_qqqqiiiqiiq: Final = struct.Struct(">qqqqiiiqiiq").pack
_P_z: Final = struct.Struct(">?").pack
_P_zqq: Final = struct.Struct(">?qq").pack
_P_zqz: Final = struct.Struct(">?q?").pack
_U_i: Final = struct.Struct(">i").unpack_from
_U_ii: Final = struct.Struct(">ii").unpack_from
_U_iq: Final = struct.Struct(">iq").unpack_from
_U_iqi: Final = struct.Struct(">iqi").unpack_from
_U_izi: Final = struct.Struct(">i?i").unpack_from
_U_q: Final = struct.Struct(">q").unpack_from
_U_qqqqiiiqiiq: Final = struct.Struct(">qqqqiiiqiiq").unpack_from
_U_z: Final = struct.Struct(">?").unpack_from
_U_zqq: Final = struct.Struct(">?qq").unpack_from
_U_zqz: Final = struct.Struct(">?q?").unpack_from


def dec_Id(buf: bytes, pos: int, end: int) -> tuple[Id, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_scheme: str
    if n < 0:
        v_scheme = ""
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_scheme = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    if pos + 4 > end:
        raise truncated(4, pos)
    n = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_id: str
    if n < 0:
        v_id = ""
    else:
        e = pos + n
        if e > end:
            raise truncated(n, pos)
        v_id = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    return Id(v_scheme, v_id), pos


def enc_Id(self: Id, out: bytearray) -> None:
    f_scheme = self.scheme
    if f_scheme is None:
        out += _NULL
    else:
        b = f_scheme.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    f_id = self.id
    if f_id is None:
        out += _NULL
    else:
        b = f_id.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b


def read_Id(cls: object, r: Reader) -> Id:
    try:
        obj, r._pos = dec_Id(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"Id: {e}") from None
    return obj


def dec_ACL(buf: bytes, pos: int, end: int) -> tuple[ACL, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    v_perms = _U_i(buf, pos)[0]
    pos += 4
    v_id, pos = dec_Id(buf, pos, end)
    return ACL(v_perms, v_id), pos


def enc_ACL(self: ACL, out: bytearray) -> None:
    out += _P_i(self.perms)
    enc_Id(self.id, out)


def read_ACL(cls: object, r: Reader) -> ACL:
    try:
        obj, r._pos = dec_ACL(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"ACL: {e}") from None
    return obj


def dec_Stat(buf: bytes, pos: int, end: int) -> tuple[Stat, int]:
    if pos + 68 > end:
        raise truncated(68, pos)
    (
        v_czxid, v_mzxid, v_ctime, v_mtime, v_version, v_cversion, v_aversion, v_ephemeralOwner,
        v_dataLength, v_numChildren, v_pzxid,
    ) = _U_qqqqiiiqiiq(buf, pos)
    pos += 68
    return Stat(
        v_czxid, v_mzxid, v_ctime, v_mtime, v_version, v_cversion, v_aversion, v_ephemeralOwner,
        v_dataLength, v_numChildren, v_pzxid,
    ), pos


def enc_Stat(self: Stat, out: bytearray) -> None:
    out += _P_qqqqiiiqiiq(
        self.czxid, self.mzxid, self.ctime, self.mtime, self.version, self.cversion, self.aversion,
        self.ephemeralOwner, self.dataLength, self.numChildren, self.pzxid,
    )


def read_Stat(cls: object, r: Reader) -> Stat:
    try:
        obj, r._pos = dec_Stat(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"Stat: {e}") from None
    return obj


def dec_RequestHeader(buf: bytes, pos: int, end: int) -> tuple[RequestHeader, int]:
    if pos + 8 > end:
        raise truncated(8, pos)
    (v_xid, v_type) = _U_ii(buf, pos)
    pos += 8
    return RequestHeader(v_xid, v_type), pos


def enc_RequestHeader(self: RequestHeader, out: bytearray) -> None:
    out += _P_ii(self.xid, self.type)


def read_RequestHeader(cls: object, r: Reader) -> RequestHeader:
    try:
        obj, r._pos = dec_RequestHeader(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"RequestHeader: {e}") from None
    return obj


def dec_ReplyHeader(buf: bytes, pos: int, end: int) -> tuple[ReplyHeader, int]:
    if pos + 16 > end:
        raise truncated(16, pos)
    (v_xid, v_zxid, v_err) = _U_iqi(buf, pos)
    pos += 16
    return ReplyHeader(v_xid, v_zxid, v_err), pos


def enc_ReplyHeader(self: ReplyHeader, out: bytearray) -> None:
    out += _P_iqi(self.xid, self.zxid, self.err)


def read_ReplyHeader(cls: object, r: Reader) -> ReplyHeader:
    try:
        obj, r._pos = dec_ReplyHeader(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"ReplyHeader: {e}") from None
    return obj


def dec_MultiHeader(buf: bytes, pos: int, end: int) -> tuple[MultiHeader, int]:
    if pos + 9 > end:
        raise truncated(9, pos)
    (v_type, v_done, v_err) = _U_izi(buf, pos)
    pos += 9
    return MultiHeader(v_type, v_done, v_err), pos


def enc_MultiHeader(self: MultiHeader, out: bytearray) -> None:
    out += _P_izi(self.type, self.done, self.err)


def read_MultiHeader(cls: object, r: Reader) -> MultiHeader:
    try:
        obj, r._pos = dec_MultiHeader(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"MultiHeader: {e}") from None
    return obj


def dec_AuthPacket(buf: bytes, pos: int, end: int) -> tuple[AuthPacket, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    v_type = _U_i(buf, pos)[0]
    pos += 4
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_scheme: str
    if n < 0:
        v_scheme = ""
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_scheme = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    if pos + 4 > end:
        raise truncated(4, pos)
    n = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_auth: bytes | None
    if n < 0:
        v_auth = None
    else:
        e = pos + n
        if e > end:
            raise truncated(n, pos)
        v_auth = bytes(buf[pos:e])
        pos = e
    return AuthPacket(v_type, v_scheme, v_auth), pos


def enc_AuthPacket(self: AuthPacket, out: bytearray) -> None:
    out += _P_i(self.type)
    f_scheme = self.scheme
    if f_scheme is None:
        out += _NULL
    else:
        b = f_scheme.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    f_auth = self.auth
    if f_auth is None:
        out += _NULL
    else:
        out += _P_i(len(f_auth))
        out += f_auth


def read_AuthPacket(cls: object, r: Reader) -> AuthPacket:
    try:
        obj, r._pos = dec_AuthPacket(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"AuthPacket: {e}") from None
    return obj


_V_CreateRequest_acl: Final = RecentVectors(dec_ACL)


def dec_CreateRequest(buf: bytes, pos: int, end: int) -> tuple[CreateRequest, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_path: str
    if n < 0:
        v_path = ""
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_path = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    if pos + 4 > end:
        raise truncated(4, pos)
    n = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_data: bytes | None
    if n < 0:
        v_data = None
    else:
        e = pos + n
        if e > end:
            raise truncated(n, pos)
        v_data = bytes(buf[pos:e])
        pos = e
    v_acl, pos = _V_CreateRequest_acl.read(buf, pos, end)
    if pos + 4 > end:
        raise truncated(4, pos)
    v_flags = _U_i(buf, pos)[0]
    pos += 4
    return CreateRequest(v_path, v_data, v_acl, v_flags), pos


def enc_CreateRequest(self: CreateRequest, out: bytearray) -> None:
    f_path = self.path
    if f_path is None:
        out += _NULL
    else:
        b = f_path.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    f_data = self.data
    if f_data is None:
        out += _NULL
    else:
        out += _P_i(len(f_data))
        out += f_data
    f_acl = self.acl
    out += _P_i(len(f_acl))
    for i_acl in f_acl:
        enc_ACL(i_acl, out)
    out += _P_i(self.flags)


def read_CreateRequest(cls: object, r: Reader) -> CreateRequest:
    try:
        obj, r._pos = dec_CreateRequest(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"CreateRequest: {e}") from None
    return obj


_V_CreateTTLRequest_acl: Final = RecentVectors(dec_ACL)


def dec_CreateTTLRequest(buf: bytes, pos: int, end: int) -> tuple[CreateTTLRequest, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_path: str
    if n < 0:
        v_path = ""
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_path = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    if pos + 4 > end:
        raise truncated(4, pos)
    n = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_data: bytes | None
    if n < 0:
        v_data = None
    else:
        e = pos + n
        if e > end:
            raise truncated(n, pos)
        v_data = bytes(buf[pos:e])
        pos = e
    v_acl, pos = _V_CreateTTLRequest_acl.read(buf, pos, end)
    if pos + 12 > end:
        raise truncated(12, pos)
    (v_flags, v_ttl) = _U_iq(buf, pos)
    pos += 12
    return CreateTTLRequest(v_path, v_data, v_acl, v_flags, v_ttl), pos


def enc_CreateTTLRequest(self: CreateTTLRequest, out: bytearray) -> None:
    f_path = self.path
    if f_path is None:
        out += _NULL
    else:
        b = f_path.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    f_data = self.data
    if f_data is None:
        out += _NULL
    else:
        out += _P_i(len(f_data))
        out += f_data
    f_acl = self.acl
    out += _P_i(len(f_acl))
    for i_acl in f_acl:
        enc_ACL(i_acl, out)
    out += _P_iq(self.flags, self.ttl)


def read_CreateTTLRequest(cls: object, r: Reader) -> CreateTTLRequest:
    try:
        obj, r._pos = dec_CreateTTLRequest(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"CreateTTLRequest: {e}") from None
    return obj


def dec_DeleteRequest(buf: bytes, pos: int, end: int) -> tuple[DeleteRequest, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_path: str
    if n < 0:
        v_path = ""
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_path = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    if pos + 4 > end:
        raise truncated(4, pos)
    v_version = _U_i(buf, pos)[0]
    pos += 4
    return DeleteRequest(v_path, v_version), pos


def enc_DeleteRequest(self: DeleteRequest, out: bytearray) -> None:
    f_path = self.path
    if f_path is None:
        out += _NULL
    else:
        b = f_path.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    out += _P_i(self.version)


def read_DeleteRequest(cls: object, r: Reader) -> DeleteRequest:
    try:
        obj, r._pos = dec_DeleteRequest(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"DeleteRequest: {e}") from None
    return obj


def dec_ExistsRequest(buf: bytes, pos: int, end: int) -> tuple[ExistsRequest, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_path: str
    if n < 0:
        v_path = ""
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_path = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    if pos + 1 > end:
        raise truncated(1, pos)
    v_watch = _U_z(buf, pos)[0]
    pos += 1
    return ExistsRequest(v_path, v_watch), pos


def enc_ExistsRequest(self: ExistsRequest, out: bytearray) -> None:
    f_path = self.path
    if f_path is None:
        out += _NULL
    else:
        b = f_path.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    out += _P_z(self.watch)


def read_ExistsRequest(cls: object, r: Reader) -> ExistsRequest:
    try:
        obj, r._pos = dec_ExistsRequest(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"ExistsRequest: {e}") from None
    return obj


def dec_GetDataRequest(buf: bytes, pos: int, end: int) -> tuple[GetDataRequest, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_path: str
    if n < 0:
        v_path = ""
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_path = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    if pos + 1 > end:
        raise truncated(1, pos)
    v_watch = _U_z(buf, pos)[0]
    pos += 1
    return GetDataRequest(v_path, v_watch), pos


def enc_GetDataRequest(self: GetDataRequest, out: bytearray) -> None:
    f_path = self.path
    if f_path is None:
        out += _NULL
    else:
        b = f_path.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    out += _P_z(self.watch)


def read_GetDataRequest(cls: object, r: Reader) -> GetDataRequest:
    try:
        obj, r._pos = dec_GetDataRequest(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"GetDataRequest: {e}") from None
    return obj


def dec_SetDataRequest(buf: bytes, pos: int, end: int) -> tuple[SetDataRequest, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_path: str
    if n < 0:
        v_path = ""
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_path = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    if pos + 4 > end:
        raise truncated(4, pos)
    n = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_data: bytes | None
    if n < 0:
        v_data = None
    else:
        e = pos + n
        if e > end:
            raise truncated(n, pos)
        v_data = bytes(buf[pos:e])
        pos = e
    if pos + 4 > end:
        raise truncated(4, pos)
    v_version = _U_i(buf, pos)[0]
    pos += 4
    return SetDataRequest(v_path, v_data, v_version), pos


def enc_SetDataRequest(self: SetDataRequest, out: bytearray) -> None:
    f_path = self.path
    if f_path is None:
        out += _NULL
    else:
        b = f_path.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    f_data = self.data
    if f_data is None:
        out += _NULL
    else:
        out += _P_i(len(f_data))
        out += f_data
    out += _P_i(self.version)


def read_SetDataRequest(cls: object, r: Reader) -> SetDataRequest:
    try:
        obj, r._pos = dec_SetDataRequest(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"SetDataRequest: {e}") from None
    return obj


def dec_GetACLRequest(buf: bytes, pos: int, end: int) -> tuple[GetACLRequest, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_path: str
    if n < 0:
        v_path = ""
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_path = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    return GetACLRequest(v_path), pos


def enc_GetACLRequest(self: GetACLRequest, out: bytearray) -> None:
    f_path = self.path
    if f_path is None:
        out += _NULL
    else:
        b = f_path.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b


def read_GetACLRequest(cls: object, r: Reader) -> GetACLRequest:
    try:
        obj, r._pos = dec_GetACLRequest(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"GetACLRequest: {e}") from None
    return obj


_V_SetACLRequest_acl: Final = RecentVectors(dec_ACL)


def dec_SetACLRequest(buf: bytes, pos: int, end: int) -> tuple[SetACLRequest, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_path: str
    if n < 0:
        v_path = ""
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_path = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    v_acl, pos = _V_SetACLRequest_acl.read(buf, pos, end)
    if pos + 4 > end:
        raise truncated(4, pos)
    v_version = _U_i(buf, pos)[0]
    pos += 4
    return SetACLRequest(v_path, v_acl, v_version), pos


def enc_SetACLRequest(self: SetACLRequest, out: bytearray) -> None:
    f_path = self.path
    if f_path is None:
        out += _NULL
    else:
        b = f_path.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    f_acl = self.acl
    out += _P_i(len(f_acl))
    for i_acl in f_acl:
        enc_ACL(i_acl, out)
    out += _P_i(self.version)


def read_SetACLRequest(cls: object, r: Reader) -> SetACLRequest:
    try:
        obj, r._pos = dec_SetACLRequest(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"SetACLRequest: {e}") from None
    return obj


def dec_GetChildrenRequest(buf: bytes, pos: int, end: int) -> tuple[GetChildrenRequest, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_path: str
    if n < 0:
        v_path = ""
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_path = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    if pos + 1 > end:
        raise truncated(1, pos)
    v_watch = _U_z(buf, pos)[0]
    pos += 1
    return GetChildrenRequest(v_path, v_watch), pos


def enc_GetChildrenRequest(self: GetChildrenRequest, out: bytearray) -> None:
    f_path = self.path
    if f_path is None:
        out += _NULL
    else:
        b = f_path.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    out += _P_z(self.watch)


def read_GetChildrenRequest(cls: object, r: Reader) -> GetChildrenRequest:
    try:
        obj, r._pos = dec_GetChildrenRequest(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"GetChildrenRequest: {e}") from None
    return obj


def dec_GetChildren2Request(buf: bytes, pos: int, end: int) -> tuple[GetChildren2Request, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_path: str
    if n < 0:
        v_path = ""
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_path = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    if pos + 1 > end:
        raise truncated(1, pos)
    v_watch = _U_z(buf, pos)[0]
    pos += 1
    return GetChildren2Request(v_path, v_watch), pos


def enc_GetChildren2Request(self: GetChildren2Request, out: bytearray) -> None:
    f_path = self.path
    if f_path is None:
        out += _NULL
    else:
        b = f_path.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    out += _P_z(self.watch)


def read_GetChildren2Request(cls: object, r: Reader) -> GetChildren2Request:
    try:
        obj, r._pos = dec_GetChildren2Request(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"GetChildren2Request: {e}") from None
    return obj


def dec_SyncRequest(buf: bytes, pos: int, end: int) -> tuple[SyncRequest, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_path: str
    if n < 0:
        v_path = ""
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_path = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    return SyncRequest(v_path), pos


def enc_SyncRequest(self: SyncRequest, out: bytearray) -> None:
    f_path = self.path
    if f_path is None:
        out += _NULL
    else:
        b = f_path.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b


def read_SyncRequest(cls: object, r: Reader) -> SyncRequest:
    try:
        obj, r._pos = dec_SyncRequest(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"SyncRequest: {e}") from None
    return obj


def dec_CheckVersionRequest(buf: bytes, pos: int, end: int) -> tuple[CheckVersionRequest, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_path: str
    if n < 0:
        v_path = ""
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_path = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    if pos + 4 > end:
        raise truncated(4, pos)
    v_version = _U_i(buf, pos)[0]
    pos += 4
    return CheckVersionRequest(v_path, v_version), pos


def enc_CheckVersionRequest(self: CheckVersionRequest, out: bytearray) -> None:
    f_path = self.path
    if f_path is None:
        out += _NULL
    else:
        b = f_path.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    out += _P_i(self.version)


def read_CheckVersionRequest(cls: object, r: Reader) -> CheckVersionRequest:
    try:
        obj, r._pos = dec_CheckVersionRequest(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"CheckVersionRequest: {e}") from None
    return obj


def dec_CheckWatchesRequest(buf: bytes, pos: int, end: int) -> tuple[CheckWatchesRequest, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_path: str
    if n < 0:
        v_path = ""
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_path = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    if pos + 4 > end:
        raise truncated(4, pos)
    v_type = _U_i(buf, pos)[0]
    pos += 4
    return CheckWatchesRequest(v_path, v_type), pos


def enc_CheckWatchesRequest(self: CheckWatchesRequest, out: bytearray) -> None:
    f_path = self.path
    if f_path is None:
        out += _NULL
    else:
        b = f_path.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    out += _P_i(self.type)


def read_CheckWatchesRequest(cls: object, r: Reader) -> CheckWatchesRequest:
    try:
        obj, r._pos = dec_CheckWatchesRequest(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"CheckWatchesRequest: {e}") from None
    return obj


def dec_RemoveWatchesRequest(buf: bytes, pos: int, end: int) -> tuple[RemoveWatchesRequest, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_path: str
    if n < 0:
        v_path = ""
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_path = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    if pos + 4 > end:
        raise truncated(4, pos)
    v_type = _U_i(buf, pos)[0]
    pos += 4
    return RemoveWatchesRequest(v_path, v_type), pos


def enc_RemoveWatchesRequest(self: RemoveWatchesRequest, out: bytearray) -> None:
    f_path = self.path
    if f_path is None:
        out += _NULL
    else:
        b = f_path.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    out += _P_i(self.type)


def read_RemoveWatchesRequest(cls: object, r: Reader) -> RemoveWatchesRequest:
    try:
        obj, r._pos = dec_RemoveWatchesRequest(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"RemoveWatchesRequest: {e}") from None
    return obj


def dec_GetEphemeralsRequest(buf: bytes, pos: int, end: int) -> tuple[GetEphemeralsRequest, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_prefixPath: str
    if n < 0:
        v_prefixPath = ""
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_prefixPath = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    return GetEphemeralsRequest(v_prefixPath), pos


def enc_GetEphemeralsRequest(self: GetEphemeralsRequest, out: bytearray) -> None:
    f_prefixPath = self.prefixPath
    if f_prefixPath is None:
        out += _NULL
    else:
        b = f_prefixPath.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b


def read_GetEphemeralsRequest(cls: object, r: Reader) -> GetEphemeralsRequest:
    try:
        obj, r._pos = dec_GetEphemeralsRequest(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"GetEphemeralsRequest: {e}") from None
    return obj


def dec_GetAllChildrenNumberRequest(
    buf: bytes, pos: int, end: int
) -> tuple[GetAllChildrenNumberRequest, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_path: str
    if n < 0:
        v_path = ""
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_path = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    return GetAllChildrenNumberRequest(v_path), pos


def enc_GetAllChildrenNumberRequest(self: GetAllChildrenNumberRequest, out: bytearray) -> None:
    f_path = self.path
    if f_path is None:
        out += _NULL
    else:
        b = f_path.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b


def read_GetAllChildrenNumberRequest(cls: object, r: Reader) -> GetAllChildrenNumberRequest:
    try:
        obj, r._pos = dec_GetAllChildrenNumberRequest(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"GetAllChildrenNumberRequest: {e}") from None
    return obj


def dec_AddWatchRequest(buf: bytes, pos: int, end: int) -> tuple[AddWatchRequest, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_path: str
    if n < 0:
        v_path = ""
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_path = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    if pos + 4 > end:
        raise truncated(4, pos)
    v_mode = _U_i(buf, pos)[0]
    pos += 4
    return AddWatchRequest(v_path, v_mode), pos


def enc_AddWatchRequest(self: AddWatchRequest, out: bytearray) -> None:
    f_path = self.path
    if f_path is None:
        out += _NULL
    else:
        b = f_path.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    out += _P_i(self.mode)


def read_AddWatchRequest(cls: object, r: Reader) -> AddWatchRequest:
    try:
        obj, r._pos = dec_AddWatchRequest(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"AddWatchRequest: {e}") from None
    return obj


def dec_SetWatches(buf: bytes, pos: int, end: int) -> tuple[SetWatches, int]:
    if pos + 8 > end:
        raise truncated(8, pos)
    v_relativeZxid = _U_q(buf, pos)[0]
    pos += 8
    if pos + 4 > end:
        raise truncated(4, pos)
    count: int = _U_i(buf, pos)[0]
    pos += 4
    if count > MAX_FIELD or count < -1:
        raise bad_length(count)
    v_dataWatches: list[str] = []
    for _ in range(max(count, 0)):
        if pos + 4 > end:
            raise truncated(4, pos)
        n: int = _U_i(buf, pos)[0]
        pos += 4
        if n < 0:
            v_dataWatches.append("")
            continue
        e: int = pos + n
        if e > end or n > MAX_FIELD:
            raise truncated(n, pos)
        v_dataWatches.append(buf[pos:e].decode("utf-8", "surrogatepass"))
        pos = e
    if pos + 4 > end:
        raise truncated(4, pos)
    count = _U_i(buf, pos)[0]
    pos += 4
    if count > MAX_FIELD or count < -1:
        raise bad_length(count)
    v_existWatches: list[str] = []
    for _ in range(max(count, 0)):
        if pos + 4 > end:
            raise truncated(4, pos)
        n = _U_i(buf, pos)[0]
        pos += 4
        if n < 0:
            v_existWatches.append("")
            continue
        e = pos + n
        if e > end or n > MAX_FIELD:
            raise truncated(n, pos)
        v_existWatches.append(buf[pos:e].decode("utf-8", "surrogatepass"))
        pos = e
    if pos + 4 > end:
        raise truncated(4, pos)
    count = _U_i(buf, pos)[0]
    pos += 4
    if count > MAX_FIELD or count < -1:
        raise bad_length(count)
    v_childWatches: list[str] = []
    for _ in range(max(count, 0)):
        if pos + 4 > end:
            raise truncated(4, pos)
        n = _U_i(buf, pos)[0]
        pos += 4
        if n < 0:
            v_childWatches.append("")
            continue
        e = pos + n
        if e > end or n > MAX_FIELD:
            raise truncated(n, pos)
        v_childWatches.append(buf[pos:e].decode("utf-8", "surrogatepass"))
        pos = e
    return SetWatches(v_relativeZxid, v_dataWatches, v_existWatches, v_childWatches), pos


def enc_SetWatches(self: SetWatches, out: bytearray) -> None:
    out += _P_q(self.relativeZxid)
    f_dataWatches = self.dataWatches
    out += _P_i(len(f_dataWatches))
    for s in f_dataWatches:
        b = s.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    f_existWatches = self.existWatches
    out += _P_i(len(f_existWatches))
    for s in f_existWatches:
        b = s.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    f_childWatches = self.childWatches
    out += _P_i(len(f_childWatches))
    for s in f_childWatches:
        b = s.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b


def read_SetWatches(cls: object, r: Reader) -> SetWatches:
    try:
        obj, r._pos = dec_SetWatches(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"SetWatches: {e}") from None
    return obj


def dec_SetWatches2(buf: bytes, pos: int, end: int) -> tuple[SetWatches2, int]:
    if pos + 8 > end:
        raise truncated(8, pos)
    v_relativeZxid = _U_q(buf, pos)[0]
    pos += 8
    if pos + 4 > end:
        raise truncated(4, pos)
    count: int = _U_i(buf, pos)[0]
    pos += 4
    if count > MAX_FIELD or count < -1:
        raise bad_length(count)
    v_dataWatches: list[str] = []
    for _ in range(max(count, 0)):
        if pos + 4 > end:
            raise truncated(4, pos)
        n: int = _U_i(buf, pos)[0]
        pos += 4
        if n < 0:
            v_dataWatches.append("")
            continue
        e: int = pos + n
        if e > end or n > MAX_FIELD:
            raise truncated(n, pos)
        v_dataWatches.append(buf[pos:e].decode("utf-8", "surrogatepass"))
        pos = e
    if pos + 4 > end:
        raise truncated(4, pos)
    count = _U_i(buf, pos)[0]
    pos += 4
    if count > MAX_FIELD or count < -1:
        raise bad_length(count)
    v_existWatches: list[str] = []
    for _ in range(max(count, 0)):
        if pos + 4 > end:
            raise truncated(4, pos)
        n = _U_i(buf, pos)[0]
        pos += 4
        if n < 0:
            v_existWatches.append("")
            continue
        e = pos + n
        if e > end or n > MAX_FIELD:
            raise truncated(n, pos)
        v_existWatches.append(buf[pos:e].decode("utf-8", "surrogatepass"))
        pos = e
    if pos + 4 > end:
        raise truncated(4, pos)
    count = _U_i(buf, pos)[0]
    pos += 4
    if count > MAX_FIELD or count < -1:
        raise bad_length(count)
    v_childWatches: list[str] = []
    for _ in range(max(count, 0)):
        if pos + 4 > end:
            raise truncated(4, pos)
        n = _U_i(buf, pos)[0]
        pos += 4
        if n < 0:
            v_childWatches.append("")
            continue
        e = pos + n
        if e > end or n > MAX_FIELD:
            raise truncated(n, pos)
        v_childWatches.append(buf[pos:e].decode("utf-8", "surrogatepass"))
        pos = e
    if pos + 4 > end:
        raise truncated(4, pos)
    count = _U_i(buf, pos)[0]
    pos += 4
    if count > MAX_FIELD or count < -1:
        raise bad_length(count)
    v_persistentWatches: list[str] = []
    for _ in range(max(count, 0)):
        if pos + 4 > end:
            raise truncated(4, pos)
        n = _U_i(buf, pos)[0]
        pos += 4
        if n < 0:
            v_persistentWatches.append("")
            continue
        e = pos + n
        if e > end or n > MAX_FIELD:
            raise truncated(n, pos)
        v_persistentWatches.append(buf[pos:e].decode("utf-8", "surrogatepass"))
        pos = e
    if pos + 4 > end:
        raise truncated(4, pos)
    count = _U_i(buf, pos)[0]
    pos += 4
    if count > MAX_FIELD or count < -1:
        raise bad_length(count)
    v_persistentRecursiveWatches: list[str] = []
    for _ in range(max(count, 0)):
        if pos + 4 > end:
            raise truncated(4, pos)
        n = _U_i(buf, pos)[0]
        pos += 4
        if n < 0:
            v_persistentRecursiveWatches.append("")
            continue
        e = pos + n
        if e > end or n > MAX_FIELD:
            raise truncated(n, pos)
        v_persistentRecursiveWatches.append(buf[pos:e].decode("utf-8", "surrogatepass"))
        pos = e
    return SetWatches2(
        v_relativeZxid, v_dataWatches, v_existWatches, v_childWatches, v_persistentWatches,
        v_persistentRecursiveWatches,
    ), pos


def enc_SetWatches2(self: SetWatches2, out: bytearray) -> None:
    out += _P_q(self.relativeZxid)
    f_dataWatches = self.dataWatches
    out += _P_i(len(f_dataWatches))
    for s in f_dataWatches:
        b = s.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    f_existWatches = self.existWatches
    out += _P_i(len(f_existWatches))
    for s in f_existWatches:
        b = s.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    f_childWatches = self.childWatches
    out += _P_i(len(f_childWatches))
    for s in f_childWatches:
        b = s.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    f_persistentWatches = self.persistentWatches
    out += _P_i(len(f_persistentWatches))
    for s in f_persistentWatches:
        b = s.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    f_persistentRecursiveWatches = self.persistentRecursiveWatches
    out += _P_i(len(f_persistentRecursiveWatches))
    for s in f_persistentRecursiveWatches:
        b = s.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b


def read_SetWatches2(cls: object, r: Reader) -> SetWatches2:
    try:
        obj, r._pos = dec_SetWatches2(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"SetWatches2: {e}") from None
    return obj


def dec_ReconfigRequest(buf: bytes, pos: int, end: int) -> tuple[ReconfigRequest, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_joiningServers: str | None
    if n < 0:
        v_joiningServers = None
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_joiningServers = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    if pos + 4 > end:
        raise truncated(4, pos)
    n = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_leavingServers: str | None
    if n < 0:
        v_leavingServers = None
    else:
        e = pos + n
        if e > end:
            raise truncated(n, pos)
        v_leavingServers = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    if pos + 4 > end:
        raise truncated(4, pos)
    n = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_newMembers: str | None
    if n < 0:
        v_newMembers = None
    else:
        e = pos + n
        if e > end:
            raise truncated(n, pos)
        v_newMembers = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    if pos + 8 > end:
        raise truncated(8, pos)
    v_curConfigId = _U_q(buf, pos)[0]
    pos += 8
    return ReconfigRequest(v_joiningServers, v_leavingServers, v_newMembers, v_curConfigId), pos


def enc_ReconfigRequest(self: ReconfigRequest, out: bytearray) -> None:
    f_joiningServers = self.joiningServers
    if f_joiningServers is None:
        out += _NULL
    else:
        b = f_joiningServers.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    f_leavingServers = self.leavingServers
    if f_leavingServers is None:
        out += _NULL
    else:
        b = f_leavingServers.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    f_newMembers = self.newMembers
    if f_newMembers is None:
        out += _NULL
    else:
        b = f_newMembers.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    out += _P_q(self.curConfigId)


def read_ReconfigRequest(cls: object, r: Reader) -> ReconfigRequest:
    try:
        obj, r._pos = dec_ReconfigRequest(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"ReconfigRequest: {e}") from None
    return obj


def dec_GetSASLRequest(buf: bytes, pos: int, end: int) -> tuple[GetSASLRequest, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_token: bytes | None
    if n < 0:
        v_token = None
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_token = bytes(buf[pos:e])
        pos = e
    return GetSASLRequest(v_token), pos


def enc_GetSASLRequest(self: GetSASLRequest, out: bytearray) -> None:
    f_token = self.token
    if f_token is None:
        out += _NULL
    else:
        out += _P_i(len(f_token))
        out += f_token


def read_GetSASLRequest(cls: object, r: Reader) -> GetSASLRequest:
    try:
        obj, r._pos = dec_GetSASLRequest(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"GetSASLRequest: {e}") from None
    return obj


def dec_Empty(buf: bytes, pos: int, end: int) -> tuple[Empty, int]:
    return Empty(), pos


def enc_Empty(self: Empty, out: bytearray) -> None:
    pass


def read_Empty(cls: object, r: Reader) -> Empty:
    try:
        obj, r._pos = dec_Empty(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"Empty: {e}") from None
    return obj


def dec_CreateResponse(buf: bytes, pos: int, end: int) -> tuple[CreateResponse, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_path: str
    if n < 0:
        v_path = ""
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_path = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    return CreateResponse(v_path), pos


def enc_CreateResponse(self: CreateResponse, out: bytearray) -> None:
    f_path = self.path
    if f_path is None:
        out += _NULL
    else:
        b = f_path.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b


def read_CreateResponse(cls: object, r: Reader) -> CreateResponse:
    try:
        obj, r._pos = dec_CreateResponse(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"CreateResponse: {e}") from None
    return obj


def dec_Create2Response(buf: bytes, pos: int, end: int) -> tuple[Create2Response, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_path: str
    if n < 0:
        v_path = ""
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_path = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    v_stat, pos = dec_Stat(buf, pos, end)
    return Create2Response(v_path, v_stat), pos


def enc_Create2Response(self: Create2Response, out: bytearray) -> None:
    f_path = self.path
    if f_path is None:
        out += _NULL
    else:
        b = f_path.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    enc_Stat(self.stat, out)


def read_Create2Response(cls: object, r: Reader) -> Create2Response:
    try:
        obj, r._pos = dec_Create2Response(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"Create2Response: {e}") from None
    return obj


def dec_ExistsResponse(buf: bytes, pos: int, end: int) -> tuple[ExistsResponse, int]:
    v_stat, pos = dec_Stat(buf, pos, end)
    return ExistsResponse(v_stat), pos


def enc_ExistsResponse(self: ExistsResponse, out: bytearray) -> None:
    enc_Stat(self.stat, out)


def read_ExistsResponse(cls: object, r: Reader) -> ExistsResponse:
    try:
        obj, r._pos = dec_ExistsResponse(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"ExistsResponse: {e}") from None
    return obj


def dec_GetDataResponse(buf: bytes, pos: int, end: int) -> tuple[GetDataResponse, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_data: bytes | None
    if n < 0:
        v_data = None
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_data = bytes(buf[pos:e])
        pos = e
    v_stat, pos = dec_Stat(buf, pos, end)
    return GetDataResponse(v_data, v_stat), pos


def enc_GetDataResponse(self: GetDataResponse, out: bytearray) -> None:
    f_data = self.data
    if f_data is None:
        out += _NULL
    else:
        out += _P_i(len(f_data))
        out += f_data
    enc_Stat(self.stat, out)


def read_GetDataResponse(cls: object, r: Reader) -> GetDataResponse:
    try:
        obj, r._pos = dec_GetDataResponse(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"GetDataResponse: {e}") from None
    return obj


def dec_SetDataResponse(buf: bytes, pos: int, end: int) -> tuple[SetDataResponse, int]:
    v_stat, pos = dec_Stat(buf, pos, end)
    return SetDataResponse(v_stat), pos


def enc_SetDataResponse(self: SetDataResponse, out: bytearray) -> None:
    enc_Stat(self.stat, out)


def read_SetDataResponse(cls: object, r: Reader) -> SetDataResponse:
    try:
        obj, r._pos = dec_SetDataResponse(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"SetDataResponse: {e}") from None
    return obj


_V_GetACLResponse_acl: Final = RecentVectors(dec_ACL)


def dec_GetACLResponse(buf: bytes, pos: int, end: int) -> tuple[GetACLResponse, int]:
    v_acl, pos = _V_GetACLResponse_acl.read(buf, pos, end)
    v_stat, pos = dec_Stat(buf, pos, end)
    return GetACLResponse(v_acl, v_stat), pos


def enc_GetACLResponse(self: GetACLResponse, out: bytearray) -> None:
    f_acl = self.acl
    out += _P_i(len(f_acl))
    for i_acl in f_acl:
        enc_ACL(i_acl, out)
    enc_Stat(self.stat, out)


def read_GetACLResponse(cls: object, r: Reader) -> GetACLResponse:
    try:
        obj, r._pos = dec_GetACLResponse(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"GetACLResponse: {e}") from None
    return obj


def dec_SetACLResponse(buf: bytes, pos: int, end: int) -> tuple[SetACLResponse, int]:
    v_stat, pos = dec_Stat(buf, pos, end)
    return SetACLResponse(v_stat), pos


def enc_SetACLResponse(self: SetACLResponse, out: bytearray) -> None:
    enc_Stat(self.stat, out)


def read_SetACLResponse(cls: object, r: Reader) -> SetACLResponse:
    try:
        obj, r._pos = dec_SetACLResponse(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"SetACLResponse: {e}") from None
    return obj


def dec_GetChildrenResponse(buf: bytes, pos: int, end: int) -> tuple[GetChildrenResponse, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    count: int = _U_i(buf, pos)[0]
    pos += 4
    if count > MAX_FIELD or count < -1:
        raise bad_length(count)
    v_children: list[str] = []
    for _ in range(max(count, 0)):
        if pos + 4 > end:
            raise truncated(4, pos)
        n: int = _U_i(buf, pos)[0]
        pos += 4
        if n < 0:
            v_children.append("")
            continue
        e: int = pos + n
        if e > end or n > MAX_FIELD:
            raise truncated(n, pos)
        v_children.append(buf[pos:e].decode("utf-8", "surrogatepass"))
        pos = e
    return GetChildrenResponse(v_children), pos


def enc_GetChildrenResponse(self: GetChildrenResponse, out: bytearray) -> None:
    f_children = self.children
    out += _P_i(len(f_children))
    for s in f_children:
        b = s.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b


def read_GetChildrenResponse(cls: object, r: Reader) -> GetChildrenResponse:
    try:
        obj, r._pos = dec_GetChildrenResponse(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"GetChildrenResponse: {e}") from None
    return obj


def dec_GetChildren2Response(buf: bytes, pos: int, end: int) -> tuple[GetChildren2Response, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    count: int = _U_i(buf, pos)[0]
    pos += 4
    if count > MAX_FIELD or count < -1:
        raise bad_length(count)
    v_children: list[str] = []
    for _ in range(max(count, 0)):
        if pos + 4 > end:
            raise truncated(4, pos)
        n: int = _U_i(buf, pos)[0]
        pos += 4
        if n < 0:
            v_children.append("")
            continue
        e: int = pos + n
        if e > end or n > MAX_FIELD:
            raise truncated(n, pos)
        v_children.append(buf[pos:e].decode("utf-8", "surrogatepass"))
        pos = e
    v_stat, pos = dec_Stat(buf, pos, end)
    return GetChildren2Response(v_children, v_stat), pos


def enc_GetChildren2Response(self: GetChildren2Response, out: bytearray) -> None:
    f_children = self.children
    out += _P_i(len(f_children))
    for s in f_children:
        b = s.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    enc_Stat(self.stat, out)


def read_GetChildren2Response(cls: object, r: Reader) -> GetChildren2Response:
    try:
        obj, r._pos = dec_GetChildren2Response(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"GetChildren2Response: {e}") from None
    return obj


def dec_SyncResponse(buf: bytes, pos: int, end: int) -> tuple[SyncResponse, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_path: str
    if n < 0:
        v_path = ""
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_path = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    return SyncResponse(v_path), pos


def enc_SyncResponse(self: SyncResponse, out: bytearray) -> None:
    f_path = self.path
    if f_path is None:
        out += _NULL
    else:
        b = f_path.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b


def read_SyncResponse(cls: object, r: Reader) -> SyncResponse:
    try:
        obj, r._pos = dec_SyncResponse(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"SyncResponse: {e}") from None
    return obj


def dec_GetEphemeralsResponse(buf: bytes, pos: int, end: int) -> tuple[GetEphemeralsResponse, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    count: int = _U_i(buf, pos)[0]
    pos += 4
    if count > MAX_FIELD or count < -1:
        raise bad_length(count)
    v_ephemerals: list[str] = []
    for _ in range(max(count, 0)):
        if pos + 4 > end:
            raise truncated(4, pos)
        n: int = _U_i(buf, pos)[0]
        pos += 4
        if n < 0:
            v_ephemerals.append("")
            continue
        e: int = pos + n
        if e > end or n > MAX_FIELD:
            raise truncated(n, pos)
        v_ephemerals.append(buf[pos:e].decode("utf-8", "surrogatepass"))
        pos = e
    return GetEphemeralsResponse(v_ephemerals), pos


def enc_GetEphemeralsResponse(self: GetEphemeralsResponse, out: bytearray) -> None:
    f_ephemerals = self.ephemerals
    out += _P_i(len(f_ephemerals))
    for s in f_ephemerals:
        b = s.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b


def read_GetEphemeralsResponse(cls: object, r: Reader) -> GetEphemeralsResponse:
    try:
        obj, r._pos = dec_GetEphemeralsResponse(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"GetEphemeralsResponse: {e}") from None
    return obj


def dec_GetAllChildrenNumberResponse(
    buf: bytes, pos: int, end: int
) -> tuple[GetAllChildrenNumberResponse, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    v_totalNumber = _U_i(buf, pos)[0]
    pos += 4
    return GetAllChildrenNumberResponse(v_totalNumber), pos


def enc_GetAllChildrenNumberResponse(self: GetAllChildrenNumberResponse, out: bytearray) -> None:
    out += _P_i(self.totalNumber)


def read_GetAllChildrenNumberResponse(cls: object, r: Reader) -> GetAllChildrenNumberResponse:
    try:
        obj, r._pos = dec_GetAllChildrenNumberResponse(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"GetAllChildrenNumberResponse: {e}") from None
    return obj


def dec_ErrorResponse(buf: bytes, pos: int, end: int) -> tuple[ErrorResponse, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    v_err = _U_i(buf, pos)[0]
    pos += 4
    return ErrorResponse(v_err), pos


def enc_ErrorResponse(self: ErrorResponse, out: bytearray) -> None:
    out += _P_i(self.err)


def read_ErrorResponse(cls: object, r: Reader) -> ErrorResponse:
    try:
        obj, r._pos = dec_ErrorResponse(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"ErrorResponse: {e}") from None
    return obj


def dec_SetSASLResponse(buf: bytes, pos: int, end: int) -> tuple[SetSASLResponse, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_token: bytes | None
    if n < 0:
        v_token = None
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_token = bytes(buf[pos:e])
        pos = e
    return SetSASLResponse(v_token), pos


def enc_SetSASLResponse(self: SetSASLResponse, out: bytearray) -> None:
    f_token = self.token
    if f_token is None:
        out += _NULL
    else:
        out += _P_i(len(f_token))
        out += f_token


def read_SetSASLResponse(cls: object, r: Reader) -> SetSASLResponse:
    try:
        obj, r._pos = dec_SetSASLResponse(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"SetSASLResponse: {e}") from None
    return obj


def dec_ClientInfo(buf: bytes, pos: int, end: int) -> tuple[ClientInfo, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_authScheme: str
    if n < 0:
        v_authScheme = ""
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_authScheme = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    if pos + 4 > end:
        raise truncated(4, pos)
    n = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_user: str
    if n < 0:
        v_user = ""
    else:
        e = pos + n
        if e > end:
            raise truncated(n, pos)
        v_user = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    return ClientInfo(v_authScheme, v_user), pos


def enc_ClientInfo(self: ClientInfo, out: bytearray) -> None:
    f_authScheme = self.authScheme
    if f_authScheme is None:
        out += _NULL
    else:
        b = f_authScheme.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    f_user = self.user
    if f_user is None:
        out += _NULL
    else:
        b = f_user.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b


def read_ClientInfo(cls: object, r: Reader) -> ClientInfo:
    try:
        obj, r._pos = dec_ClientInfo(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"ClientInfo: {e}") from None
    return obj


def dec_WhoAmIResponse(buf: bytes, pos: int, end: int) -> tuple[WhoAmIResponse, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    count: int = _U_i(buf, pos)[0]
    pos += 4
    if count > MAX_FIELD or count < -1:
        raise bad_length(count)
    if count > end - pos:
        raise truncated(count, pos)
    v_clientInfo: list[ClientInfo] = []
    for _ in range(max(count, 0)):
        i_clientInfo, pos = dec_ClientInfo(buf, pos, end)
        v_clientInfo.append(i_clientInfo)
    return WhoAmIResponse(v_clientInfo), pos


def enc_WhoAmIResponse(self: WhoAmIResponse, out: bytearray) -> None:
    f_clientInfo = self.clientInfo
    out += _P_i(len(f_clientInfo))
    for i_clientInfo in f_clientInfo:
        enc_ClientInfo(i_clientInfo, out)


def read_WhoAmIResponse(cls: object, r: Reader) -> WhoAmIResponse:
    try:
        obj, r._pos = dec_WhoAmIResponse(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"WhoAmIResponse: {e}") from None
    return obj


def dec_WatcherEvent(buf: bytes, pos: int, end: int) -> tuple[WatcherEvent, int]:
    if pos + 8 > end:
        raise truncated(8, pos)
    (v_type, v_state) = _U_ii(buf, pos)
    pos += 8
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_path: str
    if n < 0:
        v_path = ""
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_path = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    return WatcherEvent(v_type, v_state, v_path), pos


def enc_WatcherEvent(self: WatcherEvent, out: bytearray) -> None:
    out += _P_ii(self.type, self.state)
    f_path = self.path
    if f_path is None:
        out += _NULL
    else:
        b = f_path.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b


def read_WatcherEvent(cls: object, r: Reader) -> WatcherEvent:
    try:
        obj, r._pos = dec_WatcherEvent(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"WatcherEvent: {e}") from None
    return obj


def dec_WatchHistoryRequest(buf: bytes, pos: int, end: int) -> tuple[WatchHistoryRequest, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_path: str
    if n < 0:
        v_path = ""
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_path = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    if pos + 10 > end:
        raise truncated(10, pos)
    (v_recursive, v_sinceZxid, v_withData) = _U_zqz(buf, pos)
    pos += 10
    return WatchHistoryRequest(v_path, v_recursive, v_sinceZxid, v_withData), pos


def enc_WatchHistoryRequest(self: WatchHistoryRequest, out: bytearray) -> None:
    f_path = self.path
    if f_path is None:
        out += _NULL
    else:
        b = f_path.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    out += _P_zqz(self.recursive, self.sinceZxid, self.withData)


def read_WatchHistoryRequest(cls: object, r: Reader) -> WatchHistoryRequest:
    try:
        obj, r._pos = dec_WatchHistoryRequest(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"WatchHistoryRequest: {e}") from None
    return obj


def dec_WatchHistoryResponse(buf: bytes, pos: int, end: int) -> tuple[WatchHistoryResponse, int]:
    if pos + 17 > end:
        raise truncated(17, pos)
    (v_compacted, v_floorZxid, v_lastZxid) = _U_zqq(buf, pos)
    pos += 17
    return WatchHistoryResponse(v_compacted, v_floorZxid, v_lastZxid), pos


def enc_WatchHistoryResponse(self: WatchHistoryResponse, out: bytearray) -> None:
    out += _P_zqq(self.compacted, self.floorZxid, self.lastZxid)


def read_WatchHistoryResponse(cls: object, r: Reader) -> WatchHistoryResponse:
    try:
        obj, r._pos = dec_WatchHistoryResponse(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"WatchHistoryResponse: {e}") from None
    return obj


def dec_StopWatchHistoryRequest(
    buf: bytes, pos: int, end: int
) -> tuple[StopWatchHistoryRequest, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    v_streamId = _U_i(buf, pos)[0]
    pos += 4
    return StopWatchHistoryRequest(v_streamId), pos


def enc_StopWatchHistoryRequest(self: StopWatchHistoryRequest, out: bytearray) -> None:
    out += _P_i(self.streamId)


def read_StopWatchHistoryRequest(cls: object, r: Reader) -> StopWatchHistoryRequest:
    try:
        obj, r._pos = dec_StopWatchHistoryRequest(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"StopWatchHistoryRequest: {e}") from None
    return obj


def dec_HistoryEventRecord(buf: bytes, pos: int, end: int) -> tuple[HistoryEventRecord, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    v_type = _U_i(buf, pos)[0]
    pos += 4
    if pos + 4 > end:
        raise truncated(4, pos)
    n: int = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_path: str
    if n < 0:
        v_path = ""
    else:
        e: int = pos + n
        if e > end:
            raise truncated(n, pos)
        v_path = buf[pos:e].decode("utf-8", "surrogatepass")
        pos = e
    if pos + 4 > end:
        raise truncated(4, pos)
    n = _U_i(buf, pos)[0]
    pos += 4
    if n > MAX_FIELD or n < -1:
        raise bad_length(n)
    v_data: bytes | None
    if n < 0:
        v_data = None
    else:
        e = pos + n
        if e > end:
            raise truncated(n, pos)
        v_data = bytes(buf[pos:e])
        pos = e
    return HistoryEventRecord(v_type, v_path, v_data), pos


def enc_HistoryEventRecord(self: HistoryEventRecord, out: bytearray) -> None:
    out += _P_i(self.type)
    f_path = self.path
    if f_path is None:
        out += _NULL
    else:
        b = f_path.encode("utf-8", "surrogatepass")
        out += _P_i(len(b))
        out += b
    f_data = self.data
    if f_data is None:
        out += _NULL
    else:
        out += _P_i(len(f_data))
        out += f_data


def read_HistoryEventRecord(cls: object, r: Reader) -> HistoryEventRecord:
    try:
        obj, r._pos = dec_HistoryEventRecord(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"HistoryEventRecord: {e}") from None
    return obj


def dec_HistoryBatch(buf: bytes, pos: int, end: int) -> tuple[HistoryBatch, int]:
    if pos + 4 > end:
        raise truncated(4, pos)
    v_streamId = _U_i(buf, pos)[0]
    pos += 4
    if pos + 4 > end:
        raise truncated(4, pos)
    count: int = _U_i(buf, pos)[0]
    pos += 4
    if count > MAX_FIELD or count < -1:
        raise bad_length(count)
    if count > end - pos:
        raise truncated(count, pos)
    v_events: list[HistoryEventRecord] = []
    for _ in range(max(count, 0)):
        i_events, pos = dec_HistoryEventRecord(buf, pos, end)
        v_events.append(i_events)
    return HistoryBatch(v_streamId, v_events), pos


def enc_HistoryBatch(self: HistoryBatch, out: bytearray) -> None:
    out += _P_i(self.streamId)
    f_events = self.events
    out += _P_i(len(f_events))
    for i_events in f_events:
        enc_HistoryEventRecord(i_events, out)


def read_HistoryBatch(cls: object, r: Reader) -> HistoryBatch:
    try:
        obj, r._pos = dec_HistoryBatch(r._buf, r._pos, r._end)
    except (UnicodeDecodeError, struct.error) as e:
        raise ProtocolError(f"HistoryBatch: {e}") from None
    return obj


install(Id, "scheme:s id:s", read_Id, enc_Id)
install(ACL, "perms:i id:Id", read_ACL, enc_ACL)
install(
    Stat,
    "czxid:l mzxid:l ctime:l mtime:l version:i cversion:i aversion:i ephemeralOwner:l dataLength:i "
    "numChildren:i pzxid:l",
    read_Stat,
    enc_Stat,
)
install(RequestHeader, "xid:i type:i", read_RequestHeader, enc_RequestHeader)
install(ReplyHeader, "xid:i zxid:l err:i", read_ReplyHeader, enc_ReplyHeader)
install(MultiHeader, "type:i done:z err:i", read_MultiHeader, enc_MultiHeader)
install(AuthPacket, "type:i scheme:s auth:b", read_AuthPacket, enc_AuthPacket)
install(CreateRequest, "path:s data:b acl:[ACL] flags:i", read_CreateRequest, enc_CreateRequest)
install(
    CreateTTLRequest,
    "path:s data:b acl:[ACL] flags:i ttl:l",
    read_CreateTTLRequest,
    enc_CreateTTLRequest,
)
install(DeleteRequest, "path:s version:i", read_DeleteRequest, enc_DeleteRequest)
install(ExistsRequest, "path:s watch:z", read_ExistsRequest, enc_ExistsRequest)
install(GetDataRequest, "path:s watch:z", read_GetDataRequest, enc_GetDataRequest)
install(SetDataRequest, "path:s data:b version:i", read_SetDataRequest, enc_SetDataRequest)
install(GetACLRequest, "path:s", read_GetACLRequest, enc_GetACLRequest)
install(SetACLRequest, "path:s acl:[ACL] version:i", read_SetACLRequest, enc_SetACLRequest)
install(GetChildrenRequest, "path:s watch:z", read_GetChildrenRequest, enc_GetChildrenRequest)
install(GetChildren2Request, "path:s watch:z", read_GetChildren2Request, enc_GetChildren2Request)
install(SyncRequest, "path:s", read_SyncRequest, enc_SyncRequest)
install(CheckVersionRequest, "path:s version:i", read_CheckVersionRequest, enc_CheckVersionRequest)
install(CheckWatchesRequest, "path:s type:i", read_CheckWatchesRequest, enc_CheckWatchesRequest)
install(RemoveWatchesRequest, "path:s type:i", read_RemoveWatchesRequest, enc_RemoveWatchesRequest)
install(GetEphemeralsRequest, "prefixPath:s", read_GetEphemeralsRequest, enc_GetEphemeralsRequest)
install(
    GetAllChildrenNumberRequest,
    "path:s",
    read_GetAllChildrenNumberRequest,
    enc_GetAllChildrenNumberRequest,
)
install(AddWatchRequest, "path:s mode:i", read_AddWatchRequest, enc_AddWatchRequest)
install(
    SetWatches,
    "relativeZxid:l dataWatches:[s] existWatches:[s] childWatches:[s]",
    read_SetWatches,
    enc_SetWatches,
)
install(
    SetWatches2,
    "relativeZxid:l dataWatches:[s] existWatches:[s] childWatches:[s] persistentWatches:[s] "
    "persistentRecursiveWatches:[s]",
    read_SetWatches2,
    enc_SetWatches2,
)
install(
    ReconfigRequest,
    "joiningServers:n leavingServers:n newMembers:n curConfigId:l",
    read_ReconfigRequest,
    enc_ReconfigRequest,
)
install(GetSASLRequest, "token:b", read_GetSASLRequest, enc_GetSASLRequest)
install(Empty, "", read_Empty, enc_Empty)
install(CreateResponse, "path:s", read_CreateResponse, enc_CreateResponse)
install(Create2Response, "path:s stat:Stat", read_Create2Response, enc_Create2Response)
install(ExistsResponse, "stat:Stat", read_ExistsResponse, enc_ExistsResponse)
install(GetDataResponse, "data:b stat:Stat", read_GetDataResponse, enc_GetDataResponse)
install(SetDataResponse, "stat:Stat", read_SetDataResponse, enc_SetDataResponse)
install(GetACLResponse, "acl:[ACL] stat:Stat", read_GetACLResponse, enc_GetACLResponse)
install(SetACLResponse, "stat:Stat", read_SetACLResponse, enc_SetACLResponse)
install(GetChildrenResponse, "children:[s]", read_GetChildrenResponse, enc_GetChildrenResponse)
install(
    GetChildren2Response,
    "children:[s] stat:Stat",
    read_GetChildren2Response,
    enc_GetChildren2Response,
)
install(SyncResponse, "path:s", read_SyncResponse, enc_SyncResponse)
install(
    GetEphemeralsResponse,
    "ephemerals:[s]",
    read_GetEphemeralsResponse,
    enc_GetEphemeralsResponse,
)
install(
    GetAllChildrenNumberResponse,
    "totalNumber:i",
    read_GetAllChildrenNumberResponse,
    enc_GetAllChildrenNumberResponse,
)
install(ErrorResponse, "err:i", read_ErrorResponse, enc_ErrorResponse)
install(SetSASLResponse, "token:b", read_SetSASLResponse, enc_SetSASLResponse)
install(ClientInfo, "authScheme:s user:s", read_ClientInfo, enc_ClientInfo)
install(WhoAmIResponse, "clientInfo:[ClientInfo]", read_WhoAmIResponse, enc_WhoAmIResponse)
install(WatcherEvent, "type:i state:i path:s", read_WatcherEvent, enc_WatcherEvent)
install(
    WatchHistoryRequest,
    "path:s recursive:z sinceZxid:l withData:z",
    read_WatchHistoryRequest,
    enc_WatchHistoryRequest,
)
install(
    WatchHistoryResponse,
    "compacted:z floorZxid:l lastZxid:l",
    read_WatchHistoryResponse,
    enc_WatchHistoryResponse,
)
install(
    StopWatchHistoryRequest,
    "streamId:i",
    read_StopWatchHistoryRequest,
    enc_StopWatchHistoryRequest,
)
install(HistoryEventRecord, "type:i path:s data:b", read_HistoryEventRecord, enc_HistoryEventRecord)
install(HistoryBatch, "streamId:i events:[HistoryEventRecord]", read_HistoryBatch, enc_HistoryBatch)
check_installed({
    "Id", "ACL", "Stat", "RequestHeader", "ReplyHeader", "MultiHeader", "AuthPacket",
    "CreateRequest", "CreateTTLRequest", "DeleteRequest", "ExistsRequest", "GetDataRequest",
    "SetDataRequest", "GetACLRequest", "SetACLRequest", "GetChildrenRequest", "GetChildren2Request",
    "SyncRequest", "CheckVersionRequest", "CheckWatchesRequest", "RemoveWatchesRequest",
    "GetEphemeralsRequest", "GetAllChildrenNumberRequest", "AddWatchRequest", "SetWatches",
    "SetWatches2", "ReconfigRequest", "GetSASLRequest", "Empty", "CreateResponse",
    "Create2Response", "ExistsResponse", "GetDataResponse", "SetDataResponse", "GetACLResponse",
    "SetACLResponse", "GetChildrenResponse", "GetChildren2Response", "SyncResponse",
    "GetEphemeralsResponse", "GetAllChildrenNumberResponse", "ErrorResponse", "SetSASLResponse",
    "ClientInfo", "WhoAmIResponse", "WatcherEvent", "WatchHistoryRequest", "WatchHistoryResponse",
    "StopWatchHistoryRequest", "HistoryEventRecord", "HistoryBatch",
})
