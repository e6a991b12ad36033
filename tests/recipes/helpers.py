"""Helpers for the recipe tests: session expiry, a grant log (the rest from the client suite)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from client.helpers import Backend, Env, Proxy, make_client
from roost.client import Client, ClientState, StateChange
from roost.wire.opcodes import Op
from roost.wire.protocol import FrameBuffer, encode_frame, encode_request
from roost.wire.records import ConnectRequest, ConnectResponse

#: The shortest session the test servers allow (2 ticks of 2 s).
SHORT_SESSION = 4.0

__all__ = ["SHORT_SESSION", "Backend", "Env", "GrantLog", "Proxy", "expire", "make_client",
           "states_of"]


async def expire(backend: Backend, client: Client) -> None:
    """Expire ``client``'s session: attach to it from a second connection and close it.

    The client itself may reconnect meanwhile and so take the session's connection back
    (the server then drops ours): try again, a bounded number of times."""
    session_id, passwd = client.client_id
    for _ in range(50):
        if await _attach_and_close(backend, session_id, passwd):
            return
    raise AssertionError(f"could not close session 0x{session_id:x} in 50 attempts")


async def _attach_and_close(backend: Backend, session_id: int, passwd: bytes) -> bool:
    reader, writer = await asyncio.open_connection(backend.host, backend.port)
    try:
        fb = FrameBuffer()
        writer.write(encode_frame(ConnectRequest(0, 0, 10_000, session_id, passwd, False)))
        frames: list[bytes] = []
        while not frames:
            chunk = await reader.read(4096)
            if not chunk:
                return False
            frames = fb.feed(chunk)
        resp = ConnectResponse.from_bytes(frames[0])
        if resp.sessionId != session_id:
            return True  # already expired
        writer.write(encode_request(1, Op.CLOSE_SESSION))
        while True:
            chunk = await reader.read(4096)
            if not chunk:
                return False  # dropped before the reply: the close may not have happened
            if fb.feed(chunk):
                return True
    finally:
        writer.close()


def states_of(client: Client) -> list[ClientState]:
    """Start recording ``client``'s state changes; returns the (growing) list."""
    seen: list[ClientState] = []

    def on_change(change: StateChange) -> None:
        seen.append(change.state)

    client.add_listener(on_change)
    return seen


@dataclass
class GrantLog:
    """A shared log of grants: checks at most ``limit`` holders at once and growing tokens."""

    limit: int = 1
    holders: set[str] = field(default_factory=set)
    grants: list[tuple[str, int]] = field(default_factory=list)
    max_seen: int = 0

    def enter(self, who: str, token: int) -> None:
        assert who not in self.holders, f"{who} granted twice"
        self.holders.add(who)
        self.max_seen = max(self.max_seen, len(self.holders))
        assert len(self.holders) <= self.limit, f"too many holders: {sorted(self.holders)}"
        if self.limit == 1 and self.grants:
            assert token > self.grants[-1][1], f"token did not grow: {self.grants[-1]} -> {token}"
        self.grants.append((who, token))

    def leave(self, who: str) -> None:
        self.holders.remove(who)
