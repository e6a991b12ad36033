"""The KV envelope: Consul's per-key metadata stored in front of the value in the znode.

Layout (big-endian, 50 bytes, then the user's value):

    offset size field
    0      4    magic b"\\x00RKV"
    4      1    layout version (1)
    5      8    Flags (unsigned, the user's ?flags)
    13     8    LockIndex (how many times the key was acquired)
    21     16   Session: the holder's session UUID, all zero when unlocked
    37     1    bits: 1 = the holder's Behavior is "delete", 2 = the key was written with a
                trailing "/" (a Consul "folder" key)
    38     4    the holder's LockDelay in milliseconds
    42     8    lock-delay end (wall clock, ms since the epoch) set when a lock is released
                because its session ended; 0 = none

A znode whose data does not start with the magic is read as a plain value with
Flags 0 (a znode written by a ZooKeeper client); an empty znode without the
envelope is a directory, not a key.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass, replace

MAGIC = b"\x00RKV"
VERSION = 1
_LAYOUT = struct.Struct(">4sBQQ16sBIq")
HEADER_SIZE = _LAYOUT.size
NO_SESSION = bytes(16)
BIT_DELETE = 1
BIT_FOLDER = 2


@dataclass(frozen=True, slots=True)
class Entry:
    """One key's value and Consul metadata (indexes come from the znode's Stat)."""

    value: bytes = b""
    flags: int = 0
    lock_index: int = 0
    session: bytes = NO_SESSION
    delete_behavior: bool = False
    folder: bool = False
    lock_delay_ms: int = 0
    delay_until_ms: int = 0
    enveloped: bool = True

    @property
    def session_id(self) -> str:
        """The holder's session id as Consul prints it ("" when unlocked)."""
        return "" if self.session == NO_SESSION else str(uuid.UUID(bytes=self.session))

    def with_(self, **changes: object) -> Entry:
        return replace(self, **changes)  # type: ignore[arg-type]


def encode(e: Entry) -> bytes:
    bits = (BIT_DELETE if e.delete_behavior else 0) | (BIT_FOLDER if e.folder else 0)
    head = _LAYOUT.pack(
        MAGIC,
        VERSION,
        e.flags,
        e.lock_index,
        e.session,
        bits,
        e.lock_delay_ms,
        e.delay_until_ms,
    )
    return head + e.value


def decode(data: bytes | None) -> Entry | None:
    """The entry stored in a znode's data, or None if the znode is not a key."""
    if not data:
        return None
    if len(data) < HEADER_SIZE or not data.startswith(MAGIC) or data[4] != VERSION:
        return Entry(value=bytes(data), enveloped=False)
    _m, _v, flags, lock_index, session, bits, delay, until = _LAYOUT.unpack_from(data)
    return Entry(
        bytes(data[HEADER_SIZE:]),
        flags,
        lock_index,
        session,
        bool(bits & BIT_DELETE),
        bool(bits & BIT_FOLDER),
        delay,
        until,
    )
