"""Every jute record of the ZooKeeper client protocol as a slotted dataclass.

Records are values: never mutate one after it is built. They are not declared frozen
because a frozen dataclass costs six times as much to construct, and replies build
several per request (Id and ACL are hashable by value).

Each record declares its layout once (``_layout``: ``name:kind`` pairs in
declaration order); `python3 src/roost/wire/codegen.py` generates a reader and a writer
from it into roost/wire/record_codecs.py, which imports this module and installs them on
the classes; the package roost.wire imports it, so they are installed before any record
is used. There is one description per record and no hand-written codec to drift; a test
checks the generated module is current.

Kinds: ``i`` int, ``l`` long, ``z`` boolean, ``b`` buffer (None = null),
``s`` ustring (null reads as ""), ``n`` nullable ustring, ``[s]`` vector of
strings, ``R`` a nested record class named R, ``[R]`` a vector of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from roost.wire.jute import Reader, Writer

# re-exported: the records' users import Record from here
from roost.wire.recordbase import Record as Record
from roost.wire.recordbase import jute_record

# --- data types -----------------------------------------------------------------------


@jute_record
@dataclass(slots=True, unsafe_hash=True)
class Id(Record):
    _layout = "scheme:s id:s"
    scheme: str
    id: str


@jute_record
@dataclass(slots=True, unsafe_hash=True)
class ACL(Record):
    _layout = "perms:i id:Id"
    perms: int
    id: Id


@jute_record
@dataclass(slots=True)
class Stat(Record):
    _layout = (
        "czxid:l mzxid:l ctime:l mtime:l version:i cversion:i aversion:i "
        "ephemeralOwner:l dataLength:i numChildren:i pzxid:l"
    )

    czxid: int
    mzxid: int
    ctime: int
    mtime: int
    version: int
    cversion: int
    aversion: int
    ephemeralOwner: int
    dataLength: int
    numChildren: int
    pzxid: int


# --- headers --------------------------------------------------------------------------


@jute_record
@dataclass(slots=True)
class RequestHeader(Record):
    _layout = "xid:i type:i"
    xid: int
    type: int


@jute_record
@dataclass(slots=True)
class ReplyHeader(Record):
    _layout = "xid:i zxid:l err:i"
    xid: int
    zxid: int
    err: int


@jute_record
@dataclass(slots=True)
class MultiHeader(Record):
    _layout = "type:i done:z err:i"
    type: int
    done: bool
    err: int


# --- session handshake ------------------------------------------------------------------


@dataclass(slots=True)
class ConnectRequest(Record):
    protocolVersion: int
    lastZxidSeen: int
    timeOut: int
    sessionId: int
    passwd: bytes
    readOnly: bool = False
    #: whether the client sent the trailing readOnly byte (a "new" client)
    has_read_only: bool = True

    def write(self, w: Writer) -> None:
        w.int(self.protocolVersion)
        w.long(self.lastZxidSeen)
        w.int(self.timeOut)
        w.long(self.sessionId)
        w.buffer(self.passwd)
        if self.has_read_only:
            w.bool(self.readOnly)

    @classmethod
    def read(cls, r: Reader) -> Self:
        pv, last, to, sid, pw = r.int(), r.long(), r.int(), r.long(), r.buffer()
        has_ro = r.remaining() > 0
        ro = r.bool() if has_ro else False
        return cls(pv, last, to, sid, pw or b"", ro, has_ro)


@dataclass(slots=True)
class ConnectResponse(Record):
    protocolVersion: int
    timeOut: int
    sessionId: int
    passwd: bytes
    readOnly: bool = False
    has_read_only: bool = True

    def write(self, w: Writer) -> None:
        w.int(self.protocolVersion)
        w.int(self.timeOut)
        w.long(self.sessionId)
        w.buffer(self.passwd)
        if self.has_read_only:
            w.bool(self.readOnly)

    @classmethod
    def read(cls, r: Reader) -> Self:
        pv, to, sid, pw = r.int(), r.int(), r.long(), r.buffer()
        has_ro = r.remaining() > 0
        ro = r.bool() if has_ro else False
        return cls(pv, to, sid, pw or b"", ro, has_ro)


# --- requests ---------------------------------------------------------------------------


@jute_record
@dataclass(slots=True)
class AuthPacket(Record):
    _layout = "type:i scheme:s auth:b"
    type: int
    scheme: str
    auth: bytes | None


@jute_record
@dataclass(slots=True)
class CreateRequest(Record):
    _layout = "path:s data:b acl:[ACL] flags:i"
    path: str
    data: bytes | None
    acl: list[ACL]
    flags: int


@jute_record
@dataclass(slots=True)
class CreateTTLRequest(Record):
    _layout = "path:s data:b acl:[ACL] flags:i ttl:l"
    path: str
    data: bytes | None
    acl: list[ACL]
    flags: int
    ttl: int


@jute_record
@dataclass(slots=True)
class DeleteRequest(Record):
    _layout = "path:s version:i"
    path: str
    version: int


@jute_record
@dataclass(slots=True)
class ExistsRequest(Record):
    _layout = "path:s watch:z"
    path: str
    watch: bool


@jute_record
@dataclass(slots=True)
class GetDataRequest(Record):
    _layout = "path:s watch:z"
    path: str
    watch: bool


@jute_record
@dataclass(slots=True)
class SetDataRequest(Record):
    _layout = "path:s data:b version:i"
    path: str
    data: bytes | None
    version: int


@jute_record
@dataclass(slots=True)
class GetACLRequest(Record):
    _layout = "path:s"
    path: str


@jute_record
@dataclass(slots=True)
class SetACLRequest(Record):
    _layout = "path:s acl:[ACL] version:i"
    path: str
    acl: list[ACL]
    version: int


@jute_record
@dataclass(slots=True)
class GetChildrenRequest(Record):
    _layout = "path:s watch:z"
    path: str
    watch: bool


@jute_record
@dataclass(slots=True)
class GetChildren2Request(Record):
    _layout = "path:s watch:z"
    path: str
    watch: bool


@jute_record
@dataclass(slots=True)
class SyncRequest(Record):
    _layout = "path:s"
    path: str


@jute_record
@dataclass(slots=True)
class CheckVersionRequest(Record):
    _layout = "path:s version:i"
    path: str
    version: int


@jute_record
@dataclass(slots=True)
class CheckWatchesRequest(Record):
    _layout = "path:s type:i"
    path: str
    type: int


@jute_record
@dataclass(slots=True)
class RemoveWatchesRequest(Record):
    _layout = "path:s type:i"
    path: str
    type: int


@jute_record
@dataclass(slots=True)
class GetEphemeralsRequest(Record):
    _layout = "prefixPath:s"
    prefixPath: str


@jute_record
@dataclass(slots=True)
class GetAllChildrenNumberRequest(Record):
    _layout = "path:s"
    path: str


@jute_record
@dataclass(slots=True)
class AddWatchRequest(Record):
    _layout = "path:s mode:i"
    path: str
    mode: int


@jute_record
@dataclass(slots=True)
class SetWatches(Record):
    _layout = "relativeZxid:l dataWatches:[s] existWatches:[s] childWatches:[s]"
    relativeZxid: int
    dataWatches: list[str]
    existWatches: list[str]
    childWatches: list[str]


@jute_record
@dataclass(slots=True)
class SetWatches2(Record):
    _layout = (
        "relativeZxid:l dataWatches:[s] existWatches:[s] childWatches:[s] "
        "persistentWatches:[s] persistentRecursiveWatches:[s]"
    )

    relativeZxid: int
    dataWatches: list[str]
    existWatches: list[str]
    childWatches: list[str]
    persistentWatches: list[str]
    persistentRecursiveWatches: list[str]


@jute_record
@dataclass(slots=True)
class ReconfigRequest(Record):
    _layout = "joiningServers:n leavingServers:n newMembers:n curConfigId:l"
    joiningServers: str | None
    leavingServers: str | None
    newMembers: str | None
    curConfigId: int


@jute_record
@dataclass(slots=True)
class GetSASLRequest(Record):
    _layout = "token:b"
    token: bytes | None


@jute_record
@dataclass(slots=True)
class Empty(Record):
    _layout = ""
    """A request or response with no body (ping, closeSession, whoAmI request...)."""


# --- responses --------------------------------------------------------------------------


@jute_record
@dataclass(slots=True)
class CreateResponse(Record):
    _layout = "path:s"
    path: str


@jute_record
@dataclass(slots=True)
class Create2Response(Record):
    _layout = "path:s stat:Stat"
    path: str
    stat: Stat


@jute_record
@dataclass(slots=True)
class ExistsResponse(Record):
    _layout = "stat:Stat"
    stat: Stat


@jute_record
@dataclass(slots=True)
class GetDataResponse(Record):
    _layout = "data:b stat:Stat"
    data: bytes | None
    stat: Stat


@jute_record
@dataclass(slots=True)
class SetDataResponse(Record):
    _layout = "stat:Stat"
    stat: Stat


@jute_record
@dataclass(slots=True)
class GetACLResponse(Record):
    _layout = "acl:[ACL] stat:Stat"
    acl: list[ACL]
    stat: Stat


@jute_record
@dataclass(slots=True)
class SetACLResponse(Record):
    _layout = "stat:Stat"
    stat: Stat


@jute_record
@dataclass(slots=True)
class GetChildrenResponse(Record):
    _layout = "children:[s]"
    children: list[str]


@jute_record
@dataclass(slots=True)
class GetChildren2Response(Record):
    _layout = "children:[s] stat:Stat"
    children: list[str]
    stat: Stat


@jute_record
@dataclass(slots=True)
class SyncResponse(Record):
    _layout = "path:s"
    path: str


@jute_record
@dataclass(slots=True)
class GetEphemeralsResponse(Record):
    _layout = "ephemerals:[s]"
    ephemerals: list[str]


@jute_record
@dataclass(slots=True)
class GetAllChildrenNumberResponse(Record):
    _layout = "totalNumber:i"
    totalNumber: int


@jute_record
@dataclass(slots=True)
class ErrorResponse(Record):
    _layout = "err:i"
    err: int


@jute_record
@dataclass(slots=True)
class SetSASLResponse(Record):
    _layout = "token:b"
    token: bytes | None


@jute_record
@dataclass(slots=True, unsafe_hash=True)
class ClientInfo(Record):
    _layout = "authScheme:s user:s"
    authScheme: str
    user: str


@jute_record
@dataclass(slots=True)
class WhoAmIResponse(Record):
    _layout = "clientInfo:[ClientInfo]"
    clientInfo: list[ClientInfo]


@jute_record
@dataclass(slots=True)
class WatcherEvent(Record):
    _layout = "type:i state:i path:s"
    type: int
    state: int
    path: str


# --- roost extension: watch history (docs/client.md) --------------------------------


@jute_record
@dataclass(slots=True)
class WatchHistoryRequest(Record):
    """Open a stream: every event on `path` (and below, if `recursive`) after
    `sinceZxid` (-1: after the server's last zxid), then live events; data included if
    `withData`."""

    _layout = "path:s recursive:z sinceZxid:l withData:z"
    path: str
    recursive: bool
    sinceZxid: int
    withData: bool


@jute_record
@dataclass(slots=True)
class WatchHistoryResponse(Record):
    """`compacted`: the history starts after `floorZxid`, which is above `sinceZxid`: no
    stream was opened. Otherwise the stream is open, its id is the request's xid, and
    every event up to `lastZxid` was sent before this reply."""

    _layout = "compacted:z floorZxid:l lastZxid:l"
    compacted: bool
    floorZxid: int
    lastZxid: int


@jute_record
@dataclass(slots=True)
class StopWatchHistoryRequest(Record):
    _layout = "streamId:i"
    streamId: int


@jute_record
@dataclass(slots=True)
class HistoryEventRecord(Record):
    _layout = "type:i path:s data:b"
    type: int
    path: str
    data: bytes | None


@jute_record
@dataclass(slots=True)
class HistoryBatch(Record):
    """The events of one zxid (the frame header's zxid) for one stream."""

    _layout = "streamId:i events:[HistoryEventRecord]"
    streamId: int
    events: list[HistoryEventRecord]

