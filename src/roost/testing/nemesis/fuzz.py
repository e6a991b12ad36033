"""Frame mutators for fuzzing the client-protocol and peer-protocol decoders, and a
socket fuzzer that throws mutated client frames at a live server.

`mutate` applies 1-4 random edits (bit flips, byte overwrites with "interesting" values,
insertions, deletions, truncation, duplicated slices, rewritten length prefixes) to a
well-formed frame; the seed frames come from `client_frames()` and `peer_messages()`.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import time
from collections.abc import Callable

from roost.raft.messages import Entry, Message, MsgType
from roost.wire.opcodes import CreateMode, Op, Perm
from roost.wire.protocol import encode_frame, encode_request
from roost.wire.records import (
    ACL,
    ConnectRequest,
    CreateRequest,
    DeleteRequest,
    GetChildrenRequest,
    GetDataRequest,
    Id,
    SetDataRequest,
    SyncRequest,
)

_INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE)
_OPEN = [ACL(int(Perm.ALL), Id("world", "anyone"))]


def connect_frame(timeout_ms: int = 10_000) -> bytes:
    return encode_frame(ConnectRequest(0, 0, timeout_ms, 0, bytes(16)))


def client_frames(prefix: str = "/fuzz") -> list[bytes]:
    """Well-formed request frames (length prefix included) of the common opcodes."""
    return [
        encode_request(1, Op.CREATE, CreateRequest(f"{prefix}/a", b"x" * 8, _OPEN,
                                                   int(CreateMode.PERSISTENT))),
        encode_request(2, Op.GET_DATA, GetDataRequest(f"{prefix}/a", True)),
        encode_request(3, Op.SET_DATA, SetDataRequest(f"{prefix}/a", b"yy", -1)),
        encode_request(4, Op.GET_CHILDREN, GetChildrenRequest(prefix, False)),
        encode_request(5, Op.DELETE, DeleteRequest(f"{prefix}/a", -1)),
        encode_request(6, Op.SYNC, SyncRequest(prefix)),
        encode_request(-2, Op.PING),
    ]


def peer_messages() -> list[bytes]:
    """Encoded raft messages of several types."""
    entries = (Entry(3, 10, data=b"payload"), Entry(3, 11))
    return [
        Message(MsgType.APP, 2, 1, 3, 2, 9, entries, commit=9).to_bytes(),
        Message(MsgType.APP_RESP, 1, 2, 3, index=11, reject=True, reject_hint=8).to_bytes(),
        Message(MsgType.VOTE, 2, 1, 4, 3, 11).to_bytes(),
        Message(MsgType.HEARTBEAT, 3, 1, 4, commit=11, context=b"ctx").to_bytes(),
        Message(MsgType.READ_INDEX, 1, 3, 4, context=b"r" * 12).to_bytes(),
    ]


def mutate(data: bytes, rng: random.Random) -> bytes:
    """1-4 random edits of `data` (never longer than twice its size plus 16 bytes)."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        _EDITS[rng.randrange(len(_EDITS))](buf, rng)
    return bytes(buf[: 2 * len(data) + 16])


def _flip(buf: bytearray, rng: random.Random) -> None:
    if buf:
        i = rng.randrange(len(buf))
        buf[i] ^= 1 << rng.randrange(8)


def _overwrite(buf: bytearray, rng: random.Random) -> None:
    if buf:
        buf[rng.randrange(len(buf))] = rng.choice(_INTERESTING)


def _insert(buf: bytearray, rng: random.Random) -> None:
    i = rng.randrange(len(buf) + 1)
    buf[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))


def _delete(buf: bytearray, rng: random.Random) -> None:
    if buf:
        i = rng.randrange(len(buf))
        del buf[i:i + rng.randint(1, 8)]


def _truncate(buf: bytearray, rng: random.Random) -> None:
    del buf[rng.randrange(len(buf) + 1):]


def _duplicate(buf: bytearray, rng: random.Random) -> None:
    if buf:
        i = rng.randrange(len(buf))
        j = min(len(buf), i + rng.randint(1, 16))
        buf[j:j] = buf[i:j]


def _int32(buf: bytearray, rng: random.Random) -> None:
    if len(buf) >= 4:
        i = rng.randrange(len(buf) - 3)
        value = rng.choice((-1, 0, 1, 0x7FFFFFFF, -0x80000000, len(buf), 0xFFFFF + 1))
        struct.pack_into(">i", buf, i, value)


_EDITS: tuple[Callable[[bytearray, random.Random], None], ...] = (
    _flip, _overwrite, _insert, _delete, _truncate, _duplicate, _int32)


def hammer(host: str, port: int, rng: random.Random, connections: int,
           deadline: float) -> int:
    """Open up to `connections` sockets, one after another: each sends a (possibly
    mutated) connect frame, then a few mutated request frames, reads whatever comes back
    for a moment and closes. Returns how many connections were made."""
    frames = client_frames()
    made = 0
    for _ in range(connections):
        if time.monotonic() > deadline:
            break
        with contextlib.suppress(OSError), socket.create_connection((host, port), 2) as s:
            made += 1
            s.settimeout(0.2)
            hello = connect_frame()
            s.sendall(mutate(hello, rng) if rng.random() < 0.3 else hello)
            for _ in range(rng.randint(1, 5)):
                s.sendall(mutate(rng.choice(frames), rng))
            with contextlib.suppress(OSError):
                s.recv(65536)
    return made
