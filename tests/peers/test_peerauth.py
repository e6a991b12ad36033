"""The sans-I/O half of the peer protocol: hello records, proofs and frame parsing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.server.peerauth import (
    HELLO,
    MAGIC,
    ROLE_ACCEPTOR,
    ROLE_DIALER,
    FrameError,
    FrameParser,
    HandshakeError,
    check_proof,
    decode_hello,
    encode_frame_header,
    encode_hello,
    new_nonce,
    proof,
)

SECRET = b"k" * 16


def test_hello_round_trip_and_rejects() -> None:
    nonce = new_nonce()
    data = encode_hello(7, nonce)
    assert len(data) == HELLO.size == 45
    hello = decode_hello(data)
    assert (hello.member_id, hello.nonce) == (7, nonce)
    with pytest.raises(HandshakeError, match="magic"):
        decode_hello(b"XXXX" + data[4:])
    with pytest.raises(HandshakeError, match="version"):
        decode_hello(MAGIC + b"\x09" + data[5:])
    with pytest.raises(HandshakeError):
        decode_hello(data[:-1])
    with pytest.raises(ValueError):
        encode_hello(-1, nonce)
    with pytest.raises(ValueError):
        encode_hello(1, b"short")


def test_proofs_bind_role_ids_nonces_and_secret() -> None:
    nd, na = new_nonce(), new_nonce()
    assert nd != na
    base = proof(SECRET, ROLE_DIALER, 1, 2, nd, na)
    check_proof(base, proof(SECRET, ROLE_DIALER, 1, 2, nd, na))
    variants = [
        proof(SECRET, ROLE_ACCEPTOR, 1, 2, nd, na),  # reflected role
        proof(SECRET, ROLE_DIALER, 2, 1, nd, na),  # swapped ids
        proof(SECRET, ROLE_DIALER, 1, 3, nd, na),  # other member
        proof(SECRET, ROLE_DIALER, 1, 2, na, nd),  # swapped nonces
        proof(SECRET, ROLE_DIALER, 1, 2, nd, new_nonce()),  # replay into a new session
        proof(b"other secret", ROLE_DIALER, 1, 2, nd, na),
    ]
    for v in variants:
        with pytest.raises(HandshakeError):
            check_proof(base, v)
    with pytest.raises(HandshakeError):
        check_proof(base, base[:-1])


def test_frame_errors() -> None:
    parser = FrameParser(max_payload=10)
    assert parser.feed(encode_frame_header(3, 10) + b"0123456789") == [(3, b"0123456789")]
    with pytest.raises(FrameError, match="exceeds"):
        FrameParser(10).feed(encode_frame_header(0, 11))
    with pytest.raises(FrameError, match="zero-length"):
        FrameParser(10).feed(b"\x00\x00\x00\x00\x05")
    # an incomplete header or body is simply buffered
    parser = FrameParser(10)
    assert parser.feed(b"\x00\x00") == []
    assert parser.feed(b"\x00\x03\x01a") == []
    assert parser.buffered == 6
    assert parser.feed(b"b") == [(1, b"ab")]
    assert parser.buffered == 0


frames = st.lists(
    st.tuples(st.integers(0, 255), st.binary(max_size=300)), min_size=1, max_size=20
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(frames, st.lists(st.integers(1, 400), min_size=1, max_size=50))
def test_frames_survive_any_split(
    sent: list[tuple[int, bytes]], cuts: list[int]
) -> None:
    stream = b"".join(encode_frame_header(c, len(p)) + p for c, p in sent)
    parser = FrameParser(max_payload=300)
    got: list[tuple[int, bytes]] = []
    pos = 0
    i = 0
    while pos < len(stream):
        step = cuts[i % len(cuts)]
        got += parser.feed(stream[pos : pos + step])
        pos += step
        i += 1
    assert got == sent
    assert parser.buffered == 0
