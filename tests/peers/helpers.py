"""Shared helpers for the peer transport and proxy tests."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roost.server.peerauth import (
    ACCEPTED,
    HELLO,
    MAC_LEN,
    ROLE_ACCEPTOR,
    ROLE_DIALER,
    check_proof,
    decode_hello,
    encode_hello,
    new_nonce,
    proof,
)
from roost.server.peers import PeerTransport
from roost.testing.wait import wait_until_async

SECRET = b"test-secret-0123456789"
LOCAL = "127.0.0.1"


def run(coro_fn: Callable[[], Awaitable[None]], timeout: float = 30.0) -> None:
    async def main() -> None:
        async with asyncio.timeout(timeout):
            await coro_fn()

    asyncio.run(main())


@dataclass
class Member:
    """A transport plus a record of everything its callbacks saw."""

    my_id: int
    secret: bytes = SECRET
    kwargs: dict[str, Any] = field(default_factory=dict)
    messages: list[tuple[int, int, bytes]] = field(default_factory=list)
    events: list[tuple[str, int]] = field(default_factory=list)
    transport: PeerTransport | None = None

    def build(self, peers: dict[int, tuple[str, int]], port: int = 0) -> PeerTransport:
        self.transport = PeerTransport(
            self.my_id,
            (LOCAL, port),
            peers,
            self.secret,
            lambda frm, ch, data: self.messages.append((frm, ch, data)),
            on_peer_down=lambda p: self.events.append(("down", p)),
            on_peer_up=lambda p: self.events.append(("up", p)),
            **self.kwargs,
        )
        return self.transport

    async def start(self, peers: dict[int, tuple[str, int]], port: int = 0) -> PeerTransport:
        t = self.build(peers, port)
        await t.start()
        return t

    @property
    def t(self) -> PeerTransport:
        assert self.transport is not None
        return self.transport

    @property
    def addr(self) -> tuple[str, int]:
        return (LOCAL, self.t.port)

    def from_peer(self, peer: int, channel: int | None = None) -> list[bytes]:
        return [p for f, c, p in self.messages if f == peer and channel in (None, c)]

    def count(self, kind: str, peer: int) -> int:
        return self.events.count((kind, peer))


async def mesh(ids: list[int], **kwargs: Any) -> list[Member]:
    """Start one member per id and introduce them to each other."""
    members = [Member(i, kwargs=dict(kwargs)) for i in ids]
    for m in members:
        await m.start({})
    table = {m.my_id: m.addr for m in members}
    for m in members:
        m.t.update_peers(table)
    return members


async def all_connected(members: list[Member], timeout: float = 5.0) -> None:
    def ok() -> bool:
        return all(a.t.connected(b.my_id) for a in members for b in members if a is not b)

    await wait_until_async(ok, timeout, what="every member connected to every other")


async def close_all(members: list[Member]) -> None:
    for m in members:
        if m.transport is not None:
            await m.transport.close()


async def raw_dial(
    port: int, my_id: int, peer_id: int, secret: bytes = SECRET
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Complete the dialer side of the handshake by hand (for sending crafted frames)."""
    reader, writer = await asyncio.open_connection(LOCAL, port)
    nonce_d = new_nonce()
    writer.write(encode_hello(my_id, nonce_d))
    hello = decode_hello(await reader.readexactly(HELLO.size))
    assert hello.member_id == peer_id
    args = (my_id, peer_id, nonce_d, hello.nonce)
    check_proof(proof(secret, ROLE_ACCEPTOR, *args), await reader.readexactly(MAC_LEN))
    writer.write(proof(secret, ROLE_DIALER, *args))
    assert await reader.readexactly(1) == ACCEPTED
    return reader, writer


async def closed_by_peer(reader: asyncio.StreamReader, timeout: float = 5.0) -> bool:
    """True once the other side closes (EOF or reset); anything received first is ignored."""
    async with asyncio.timeout(timeout):
        try:
            while await reader.read(65536):
                pass
        except ConnectionError:
            pass
    return True


def make_tls(
    tmp: Path, mutual: bool = False, label: str = "member"
) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1; returns (server, client) contexts.

    With `mutual`, the server demands a client certificate signed by the same key, and the
    client presents it.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"roost-{label}")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOCAL))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path = tmp / f"{label}-cert.pem"
    key_path = tmp / f"{label}-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(cert_path))
    if mutual:
        server.verify_mode = ssl.CERT_REQUIRED
        server.load_verify_locations(cafile=str(cert_path))
        client.load_cert_chain(cert_path, key_path)
    return server, client
