"""Values exchanged between the raft core, its peers and its host.

Everything here is a slotted dataclass, frozen but for the values built per message
(Entry, Message, ReadState: never mutated; they hash by value). Messages and entries can
be turned into bytes and back (msgpack, no pickle) so the host can ship them over TCP.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import msgpack

NONE = 0
"""The node id meaning "nobody" (no vote, no known leader). Real ids are >= 1."""


class MsgType(IntEnum):
    """Kinds of peer messages."""

    APP = 1
    APP_RESP = 2
    VOTE = 3
    VOTE_RESP = 4
    PRE_VOTE = 5
    PRE_VOTE_RESP = 6
    HEARTBEAT = 7
    HEARTBEAT_RESP = 8
    SNAP = 9
    TIMEOUT_NOW = 10
    READ_INDEX = 11
    READ_INDEX_RESP = 12
    SNAP_RESP = 13


class EntryKind(IntEnum):
    NORMAL = 0
    CONF_CHANGE = 1


class Role(IntEnum):
    FOLLOWER = 0
    PRE_CANDIDATE = 1
    CANDIDATE = 2
    LEADER = 3


class ConfChangeType(IntEnum):
    ADD_VOTER = 0
    ADD_LEARNER = 1
    REMOVE = 2


# Not frozen: entries are built for every proposal and every received AppendEntries, and
# a frozen dataclass costs about three times as much to construct. Never mutate one (it
# hashes by value).
@dataclass(slots=True, unsafe_hash=True)
class Entry:
    """One log entry. `data` is opaque to raft (an empty NORMAL entry is a no-op)."""

    term: int
    index: int
    kind: EntryKind = EntryKind.NORMAL
    data: bytes = b""
    #: this entry's msgpack encoding, made when first sent and reused for every other
    #: follower and every resend (not part of the value)
    _packed: bytes | None = field(default=None, init=False, compare=False, hash=False,
                                  repr=False)

    def size(self) -> int:
        return len(self.data) + 24

    def to_list(self) -> list[Any]:
        return [self.term, self.index, int(self.kind), self.data]

    def packed(self) -> bytes:
        """msgpack of `to_list()`, encoded once."""
        p = self._packed
        if p is None:
            p = self._packed = _packb([self.term, self.index, int(self.kind), self.data])
        return p

    @staticmethod
    def from_list(raw: list[Any]) -> Entry:
        kind = _ENTRY_KINDS.get(raw[2])
        if kind is None:
            raise ValueError(f"unknown entry kind {raw[2]!r}")
        return Entry(int(raw[0]), int(raw[1]), kind, bytes(raw[3]))


class _Packers(threading.local):
    """One msgpack Packer per thread (`msgpack.packb` builds a Packer on every call)."""

    def __init__(self) -> None:
        self.pack = msgpack.Packer().pack


_PACKERS = _Packers()


def _packb(obj: Any) -> bytes:
    out: bytes = _PACKERS.pack(obj)
    return out


def _array_header(n: int) -> bytes:
    if n < 16:
        return bytes((0x90 | n,))
    if n < 1 << 16:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


#: entry kinds by value (a dict lookup is cheaper than calling the enum, once per entry)
_ENTRY_KINDS: dict[object, EntryKind] = {k.value: k for k in EntryKind}


@dataclass(frozen=True, slots=True)
class ConfState:
    """The membership: voters and learners (non-voting members, ZooKeeper's observers)."""

    voters: frozenset[int] = frozenset()
    learners: frozenset[int] = frozenset()

    def to_list(self) -> list[Any]:
        return [sorted(self.voters), sorted(self.learners)]

    @staticmethod
    def from_list(raw: list[Any]) -> ConfState:
        return ConfState(frozenset(int(v) for v in raw[0]), frozenset(int(v) for v in raw[1]))


@dataclass(frozen=True, slots=True)
class ConfChange:
    """A single-server membership change, carried in a CONF_CHANGE entry."""

    type: ConfChangeType
    node_id: int

    def to_bytes(self) -> bytes:
        out: bytes = msgpack.packb([int(self.type), self.node_id])
        return out

    @staticmethod
    def from_bytes(raw: bytes) -> ConfChange:
        kind, node = msgpack.unpackb(raw)
        return ConfChange(ConfChangeType(kind), int(node))

    def apply_to(self, conf: ConfState) -> ConfState:
        """The membership after this change (a pure function)."""
        voters, learners = set(conf.voters), set(conf.learners)
        voters.discard(self.node_id)
        learners.discard(self.node_id)
        if self.type is ConfChangeType.ADD_VOTER:
            voters.add(self.node_id)
        elif self.type is ConfChangeType.ADD_LEARNER:
            learners.add(self.node_id)
        return ConfState(frozenset(voters), frozenset(learners))


@dataclass(frozen=True, slots=True)
class SnapshotMeta:
    index: int = 0
    term: int = 0
    conf: ConfState = field(default_factory=ConfState)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A state-machine image at `meta.index`; `data` is opaque to raft."""

    meta: SnapshotMeta = field(default_factory=SnapshotMeta)
    data: bytes = b""

    def is_empty(self) -> bool:
        return self.meta.index == 0

    def to_list(self) -> list[Any]:
        m = self.meta
        return [m.index, m.term, m.conf.to_list(), self.data]

    @staticmethod
    def from_list(raw: list[Any]) -> Snapshot:
        meta = SnapshotMeta(int(raw[0]), int(raw[1]), ConfState.from_list(raw[2]))
        return Snapshot(meta, bytes(raw[3]))


@dataclass(frozen=True, slots=True)
class HardState:
    """What must be durable before messages that depend on it are sent."""

    term: int = 0
    vote: int = NONE
    commit: int = 0


@dataclass(frozen=True, slots=True)
class SoftState:
    """Volatile facts the host may want to show or act on."""

    leader: int = NONE
    role: Role = Role.FOLLOWER


@dataclass(slots=True, unsafe_hash=True)
class ReadState:
    """A confirmed read: once the host has applied up to `index`, serve read `context`."""

    index: int
    context: bytes


# Not frozen, as Entry: one is built for every message sent or received (a frozen
# dataclass of 14 fields costs four times as much to construct). Never mutate one.
@dataclass(slots=True, unsafe_hash=True)
class Message:
    """A peer-to-peer raft message (one shape for every type, as in etcd)."""

    type: MsgType
    to: int
    frm: int
    term: int
    log_term: int = 0
    index: int = 0
    entries: tuple[Entry, ...] = ()
    commit: int = 0
    reject: bool = False
    reject_hint: int = 0
    context: bytes = b""
    snapshot: Snapshot | None = None  # SNAP: one chunk (meta + a slice of the data)
    offset: int = 0  # SNAP: byte offset of the chunk; SNAP_RESP: next offset wanted
    done: bool = True  # SNAP: this chunk is the last

    def to_bytes(self) -> bytes:
        """msgpack of the 14 fields as one array. The entries are spliced in from their
        own cached encodings (`Entry.packed`): an append to several followers, or sent
        again, encodes each entry once."""
        snap = None if self.snapshot is None else self.snapshot.to_list()
        ents = self.entries
        if not ents:
            return _packb([
                int(self.type), self.to, self.frm, self.term, self.log_term, self.index, [],
                self.commit, self.reject, self.reject_hint, self.context, snap, self.offset,
                self.done,
            ])
        head = _packb([int(self.type), self.to, self.frm, self.term, self.log_term, self.index])
        tail = _packb([self.commit, self.reject, self.reject_hint, self.context, snap,
                       self.offset, self.done])
        body = b"".join([e.packed() for e in ents])
        # both parts are fixarrays (one header byte): drop their headers, add the whole's
        return b"".join((b"\x9e", head[1:], _array_header(len(ents)), body, tail[1:]))

    @staticmethod
    def from_bytes(raw: bytes) -> Message:
        f = msgpack.unpackb(raw)
        if not isinstance(f, list) or len(f) != 14:
            raise ValueError("not a raft message")
        snap = None if f[11] is None else Snapshot.from_list(f[11])
        kind = _MSG_TYPES.get(f[0])
        if kind is None:
            raise ValueError(f"unknown message type {f[0]!r}")
        return Message(
            kind, int(f[1]), int(f[2]), int(f[3]), int(f[4]), int(f[5]),
            tuple([Entry.from_list(e) for e in f[6]]) if f[6] else (), int(f[7]),
            bool(f[8]), int(f[9]), bytes(f[10]), snap, int(f[12]), bool(f[13]),
        )


#: message types by value (a dict lookup is cheaper than calling the enum)
_MSG_TYPES: dict[object, MsgType] = {k.value: k for k in MsgType}
