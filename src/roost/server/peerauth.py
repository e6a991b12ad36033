"""Sans-I/O pieces of the peer link protocol: the authenticating handshake and frame parsing.

Handshake (the dialing member is D, the accepting member is A; all integers big-endian)::

    D -> A   HELLO(magic, version, D's id, nonce_d)          45 bytes
    A -> D   HELLO(magic, version, A's id, nonce_a) + mac_a   45 + 32 bytes
    D -> A   mac_d                                            32 bytes
    A -> D   0x01 (accepted)                                   1 byte
         or  0x02 + u64 version (not a member)                 9 bytes, then A closes

``mac_x = HMAC-SHA256(secret, "roost-peer" | version | role_x | D's id | A's id | nonce_d |
nonce_a)`` where ``role_x`` is ``b"acceptor"`` or ``b"dialer"``. Both sides prove they know the
shared secret; fresh nonces from both sides stop replays, and the role label stops a proof made in
one role being reflected back as the other. Either side closes the connection without a reason on
any failure (no error oracle).

An acceptor whose configuration (the member registry, at configuration version ``version``: the
zxid of the change that made it) does not have the dialer's id completes the handshake (so the
dialer knows the answer comes from a member) and answers NOT_MEMBER with that version instead of
ACCEPTED: a member removed while it was down learns so when it restarts (see
``roost.replica.membership.told_removed``). An acceptor without a say (itself not, or no longer,
a member) closes without a reason, as for any other unknown id.

After the handshake the dialer sends frames ``u32 length | u8 channel | payload`` where
``length = 1 + len(payload)``; the acceptor never sends anything.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass

MAGIC = b"RSTP"
VERSION = 1
NONCE_LEN = 32
MAC_LEN = 32
ACCEPTED = b"\x01"
NOT_MEMBER = b"\x02"
#: after NOT_MEMBER: the acceptor's configuration version
NOT_MEMBER_VERSION = struct.Struct(">Q")

HELLO = struct.Struct(">4sBQ32s")
FRAME_HEADER = struct.Struct(">IB")
MAX_ID = 2**63 - 1

_MAC_PREFIX = b"roost-peer"
ROLE_ACCEPTOR = b"acceptor"
ROLE_DIALER = b"dialer"


class HandshakeError(Exception):
    """The other side broke the handshake or failed to prove it knows the secret."""


class NotMemberError(HandshakeError):
    """An authenticated member refused the link: its configuration, of version `version`,
    does not have the dialer."""

    def __init__(self, version: int) -> None:
        super().__init__(f"not a member of the peer's configuration 0x{version:x}")
        self.version = version


class FrameError(Exception):
    """A malformed or oversized frame arrived on a peer link."""


@dataclass(frozen=True, slots=True)
class Hello:
    member_id: int
    nonce: bytes


def new_nonce() -> bytes:
    return secrets.token_bytes(NONCE_LEN)


def encode_hello(member_id: int, nonce: bytes) -> bytes:
    if not 0 <= member_id <= MAX_ID or len(nonce) != NONCE_LEN:
        raise ValueError("bad hello fields")
    return HELLO.pack(MAGIC, VERSION, member_id, nonce)


def decode_hello(data: bytes) -> Hello:
    if len(data) != HELLO.size:
        raise HandshakeError(f"hello is {len(data)} bytes, expected {HELLO.size}")
    magic, version, member_id, nonce = HELLO.unpack(data)
    if magic != MAGIC:
        raise HandshakeError("bad magic in hello")
    if version != VERSION:
        raise HandshakeError(f"unsupported peer protocol version {version}")
    return Hello(member_id, nonce)


def proof(
    secret: bytes, role: bytes, dialer_id: int, acceptor_id: int, nonce_d: bytes, nonce_a: bytes
) -> bytes:
    """The MAC one side sends to prove it knows `secret` in this handshake."""
    msg = b"".join(
        (
            _MAC_PREFIX,
            bytes((VERSION, len(role))),
            role,
            struct.pack(">QQ", dialer_id, acceptor_id),
            nonce_d,
            nonce_a,
        )
    )
    return hmac.new(secret, msg, hashlib.sha256).digest()


def check_proof(expected: bytes, got: bytes) -> None:
    if len(got) != MAC_LEN or not hmac.compare_digest(expected, got):
        raise HandshakeError("peer failed to prove knowledge of the shared secret")


def encode_frame_header(channel: int, payload_len: int) -> bytes:
    return FRAME_HEADER.pack(payload_len + 1, channel)


class FrameParser:
    """Turns a byte stream into ``(channel, payload)`` frames; raises FrameError on bad input."""

    __slots__ = ("_buf", "_max_payload")

    def __init__(self, max_payload: int) -> None:
        self._buf = bytearray()
        self._max_payload = max_payload

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        buf = self._buf
        buf += data
        out: list[tuple[int, bytes]] = []
        pos = 0
        hdr = FRAME_HEADER.size
        while len(buf) - pos >= hdr:
            length, channel = FRAME_HEADER.unpack_from(buf, pos)
            if length == 0:
                raise FrameError("zero-length frame (no channel byte)")
            if length - 1 > self._max_payload:
                raise FrameError(f"frame payload of {length - 1} bytes exceeds {self._max_payload}")
            end = pos + 4 + length
            if end > len(buf):
                break
            out.append((channel, bytes(buf[pos + hdr : end])))
            pos = end
        if pos:
            del buf[:pos]
        return out

    @property
    def buffered(self) -> int:
        return len(self._buf)
