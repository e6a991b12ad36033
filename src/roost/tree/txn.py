"""Txns: what goes into the replicated log, and applying one to the data tree.

A txn is everything `DataTree` needs to compute the same result on every member:
the request (as its jute body), the session, the proposer's timestamp and the
connection's identities. Encoded with msgpack; zxid = the log index it lands at.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import msgpack

from roost.tree.context import TxnContext, WatchEvent
from roost.tree.datatree import DataTree
from roost.wire.errors import ProtocolError
from roost.wire.jute import Reader
from roost.wire.protocol import OPS
from roost.wire.records import Id, Record


class Kind(IntEnum):
    REQUEST = 1
    CREATE_SESSION = 2
    CLOSE_SESSION = 3
    REAP = 4
    NOOP = 5
    #: ensemble membership (applied by the replicated log, not the tree)
    RECONFIG = 6


#: txn kinds by value (cheaper than calling the enum, once per applied entry)
_KINDS: dict[object, Kind] = {k.value: k for k in Kind}
#: the kinds as module globals: reading a member off the enum class costs ~0.13 us in
#: CPython 3.11, and apply_txn runs for every write
_REQUEST, _CREATE_SESSION, _CLOSE_SESSION, _REAP = (
    Kind.REQUEST, Kind.CREATE_SESSION, Kind.CLOSE_SESSION, Kind.REAP
)


@dataclass(slots=True)  # not frozen: built for every write, and frozen costs 6x to build
class Txn:
    kind: Kind
    session_id: int = 0
    time_ms: int = 0
    auth: tuple[Id, ...] = ()
    op: int = 0
    #: REQUEST: the request's jute body; CREATE_SESSION: the password; REAP: the path (utf-8)
    body: bytes = b""
    #: CREATE_SESSION: the negotiated timeout
    timeout_ms: int = 0
    #: who proposed it: the member id, a per-start nonce and a per-start sequence number.
    #: An ensemble applies each (origin, boot, seq) once, however often it was forwarded.
    origin: int = 0
    boot: int = 0
    seq: int = 0
    #: REQUEST: the decoded request when the proposer has it (saves decoding `body` again);
    #: never serialized
    request: Record | None = field(default=None, compare=False, repr=False)

    def to_bytes(self) -> bytes:
        packers = _PACKERS
        auth: list[list[str]] = []
        if self.auth:
            # a connection hands every txn the same identities tuple: its encodable form is
            # built once for the run of txns from one connection, not once per txn
            last, fields = packers.auth
            if self.auth is last:
                auth = fields
            else:
                auth = [[i.scheme, i.id] for i in self.auth]
                packers.auth = (self.auth, auth)
        out: bytes = packers.packer.pack(
            [
                int(self.kind),
                self.session_id,
                self.time_ms,
                auth,
                self.op,
                self.body,
                self.timeout_ms,
                self.origin,
                self.boot,
                self.seq,
            ]
        )
        return out

    @staticmethod
    def unpack(data: bytes) -> list[Any]:
        """The encoded fields (`from_fields` builds the txn): a replica looks at the origin
        triple, `fields[7:10]`, before deciding whether it needs the txn built at all."""
        try:
            fields = msgpack.unpackb(data, raw=False)
        except (ValueError, TypeError, msgpack.UnpackException) as e:
            raise ProtocolError(f"undecodable txn: {e}") from None
        if not isinstance(fields, list) or len(fields) != 10:
            raise ProtocolError("undecodable txn: not a list of 10 fields")
        return fields

    @classmethod
    def from_bytes(cls, data: bytes) -> Txn:
        return cls.from_fields(cls.unpack(data))

    @classmethod
    def from_fields(cls, fields: list[Any]) -> Txn:
        try:
            kind, sid, t, auth, op, body, timeout, origin, boot, seq = fields
            return cls(
                _KINDS[kind],
                sid,
                t,
                tuple(Id(s, i) for s, i in auth) if auth else (),
                op,
                body,
                timeout,
                origin,
                boot,
                seq,
            )
        except (ValueError, TypeError, LookupError, msgpack.UnpackException) as e:
            raise ProtocolError(f"undecodable txn: {e}") from None


class _Packers(threading.local):
    """One msgpack Packer per thread: `msgpack.packb` builds a new Packer on every call,
    which costs as much as the packing itself on the write path."""

    def __init__(self) -> None:
        self.packer = msgpack.Packer(use_bin_type=True)
        #: the identities tuple last encoded by this thread, and its msgpack-ready form
        self.auth: tuple[tuple[Id, ...], list[list[str]]] = ((), [])


_PACKERS = _Packers()


def _packer() -> msgpack.Packer:
    return _PACKERS.packer


@dataclass(slots=True)
class TxnResult:
    err: int
    record: Record | None
    events: list[WatchEvent]


def txn_time(tree: DataTree, txn: Txn) -> int:
    """The time `txn` applies at, the next in `tree`'s order: a txn carries the clock of the
    member that took it in; it applies at that time or at the previous txn's, whichever is
    later, so times (mtime, ctime, TTL and container ages) never go backwards along zxids
    whichever members' clocks are behind. Every txn that applies takes its time here."""
    t = txn.time_ms
    if t < tree.last_time_ms:
        return tree.last_time_ms
    tree.last_time_ms = t
    return t


def apply_txn(tree: DataTree, zxid: int, txn: Txn) -> TxnResult:
    """Apply one committed txn at `zxid` (at `txn_time`); deterministic on every member."""
    ctx = TxnContext(zxid, txn_time(tree, txn), txn.session_id, txn.auth)
    kind = txn.kind
    if kind is _REQUEST:
        req = txn.request or OPS[txn.op][0].read(Reader(txn.body))
        err, rec, events = tree.apply(ctx, txn.op, req)
        return TxnResult(err, rec, events)
    if kind is _CREATE_SESSION:
        tree.create_session(ctx, txn.session_id, txn.timeout_ms, txn.body)
        events = []
    elif kind is _CLOSE_SESSION:
        events = tree.close_session(ctx, txn.session_id)
    elif kind is _REAP:
        events = tree.reap(ctx, txn.body.decode("utf-8", "surrogatepass"))
    else:
        events = []
    apply_nothing(tree, zxid)
    return TxnResult(0, None, events)


def apply_nothing(tree: DataTree, zxid: int) -> None:
    """A log position that changes no state still takes its zxid: raft's empty and
    membership entries, a resent txn applied before, the index a snapshot or a replay
    ends at. With `apply_txn`, the only ways the tree's zxid moves (forward only)."""
    if zxid > tree.last_zxid:
        tree.last_zxid = zxid
