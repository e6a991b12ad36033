"""The client-protocol and peer-protocol decoders under random and mutated input: they
either decode or raise their documented error, never anything else, and always quickly.

The number of examples is small for CI; set ROOST_FUZZ_EXAMPLES for a longer run."""

from __future__ import annotations

import itertools
import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.raft.messages import Message
from roost.server.peerauth import (
    FrameError,
    FrameParser,
    HandshakeError,
    decode_hello,
    encode_frame_header,
)
from roost.testing.nemesis.fuzz import client_frames, connect_frame, mutate, peer_messages
from roost.wire.errors import ProtocolError
from roost.wire.protocol import FrameBuffer, decode_request
from roost.wire.records import ConnectRequest

EXAMPLES = int(os.environ.get("ROOST_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True)


def _client_stream(frames: list[bytes]) -> list[bytes]:
    """Feed a byte stream to a FrameBuffer and decode every frame it yields; returns the
    decoded (xid, op) pairs as bytes reprs. Only ProtocolError may escape."""
    fb = FrameBuffer(max_frame=4096)
    out = []
    for frame in fb.feed(b"".join(frames)):
        xid, op, _rec = decode_request(frame)
        out.append(repr((xid, op)).encode())
    return out


@FUZZ
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 4))
def test_mutated_client_streams_raise_only_protocol_errors(seed: int, count: int) -> None:
    rng = random.Random(seed)
    frames = [mutate(rng.choice(client_frames()), rng) for _ in range(count)]
    try:
        decoded = _client_stream(frames)
    except ProtocolError:
        return
    assert len(decoded) <= count + 8  # nothing decoded from thin air beyond the bytes sent


@FUZZ
@given(seed=st.integers(0, 2**32 - 1))
def test_mutated_connect_requests_decode_or_raise_protocol_error(seed: int) -> None:
    rng = random.Random(seed)
    body = mutate(connect_frame(), rng)[4:]
    try:
        req = ConnectRequest.from_bytes(body)
    except ProtocolError:
        return
    assert isinstance(req.timeOut, int) and isinstance(req.passwd, bytes)


def test_unmutated_client_frames_decode() -> None:
    # the fuzz seeds themselves are valid, so the mutations start from real frames
    assert len(_client_stream(client_frames())) == len(client_frames())


@FUZZ
@given(raw=st.binary(max_size=200))
def test_random_peer_bytes_raise_only_ordinary_errors(raw: bytes) -> None:
    # the member drops a message whose decoding raises any Exception (and logs it)
    try:
        msg = Message.from_bytes(raw)
    except Exception as e:
        assert not isinstance(e, (MemoryError, RecursionError)), e
        return
    assert Message.from_bytes(msg.to_bytes()) == msg


@FUZZ
@given(seed=st.integers(0, 2**32 - 1))
def test_mutated_peer_messages_decode_consistently_or_raise(seed: int) -> None:
    rng = random.Random(seed)
    raw = mutate(rng.choice(peer_messages()), rng)
    try:
        msg = Message.from_bytes(raw)
    except Exception as e:
        assert not isinstance(e, (MemoryError, RecursionError)), e
        return
    assert Message.from_bytes(msg.to_bytes()) == msg


@FUZZ
@given(seed=st.integers(0, 2**32 - 1), cuts=st.lists(st.integers(0, 300), max_size=6))
def test_mutated_peer_frames_raise_only_frame_errors(seed: int, cuts: list[int]) -> None:
    rng = random.Random(seed)
    stream = mutate(_peer_stream(), rng)
    parser = FrameParser(max_payload=1024)
    points = sorted({c for c in cuts if c < len(stream)} | {0, len(stream)})
    frames: list[tuple[int, bytes]] = []
    try:
        for a, b in itertools.pairwise(points):
            frames += parser.feed(stream[a:b])
    except FrameError:
        return
    # every frame came out of the bytes fed: header + payload each, the rest still buffered
    assert sum(5 + len(p) for _, p in frames) + parser.buffered == len(stream)


def _peer_stream() -> bytes:
    return b"".join(encode_frame_header(1, len(m)) + m for m in peer_messages())


def test_unmutated_peer_stream_parses_back() -> None:
    frames = FrameParser(max_payload=1024).feed(_peer_stream())
    assert [Message.from_bytes(p) for _, p in frames] == [
        Message.from_bytes(m) for m in peer_messages()]


@FUZZ
@given(raw=st.binary(max_size=64))
def test_random_hellos_raise_only_handshake_errors(raw: bytes) -> None:
    try:
        hello = decode_hello(raw)
    except HandshakeError:
        return
    assert hello is not None


@pytest.mark.parametrize("seed", range(3))
def test_mutate_changes_frames_and_is_seeded(seed: int) -> None:
    frame = client_frames()[0]
    a = [mutate(frame, random.Random(seed)) for _ in range(2)]
    assert a[0] == a[1]
    assert any(mutate(frame, random.Random(seed * 100 + k)) != frame for k in range(5))
