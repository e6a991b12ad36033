"""Codec round trips, byte-exact vectors, and hostile input (hypothesis)."""

from __future__ import annotations

import contextlib
import itertools
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.wire import records as R
from roost.wire.errors import ProtocolError
from roost.wire.jute import Reader, RecentVectors
from roost.wire.multi import MultiRequest, MultiResponse, OpResult
from roost.wire.opcodes import Op
from roost.wire.protocol import (
    OPS,
    BadRequestBody,
    FrameBuffer,
    UnknownOpcode,
    decode_request,
    encode_event,
    encode_reply,
    encode_request,
)
from roost.wire.record_codecs import dec_ACL

i32 = st.integers(-(2**31), 2**31 - 1)
i64 = st.integers(-(2**63), 2**63 - 1)
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)
buf = st.one_of(st.none(), st.binary(max_size=64))
ids = st.builds(R.Id, text, text)
acls = st.builds(R.ACL, i32, ids)
stats = st.builds(R.Stat, i64, i64, i64, i64, i32, i32, i32, i64, i32, i32, i64)

KIND = {
    "i": i32,
    "l": i64,
    "z": st.booleans(),
    "b": buf,
    "s": text,
    "n": st.one_of(st.none(), text),
    "[s]": st.lists(text, max_size=4),
    "Id": ids,
    "ACL": acls,
    "Stat": stats,
    "[ACL]": st.lists(acls, max_size=3),
    "[ClientInfo]": st.lists(st.builds(R.ClientInfo, text, text), max_size=3),
    "[HistoryEventRecord]": st.lists(st.builds(R.HistoryEventRecord, i32, text, buf), max_size=3),
}

LAYOUT_RECORDS = [
    c
    for c in vars(R).values()
    if isinstance(c, type) and issubclass(c, R.Record) and c._layout and c is not R.Record
]


def strategy_for(cls: type[R.Record]) -> st.SearchStrategy[Any]:
    kinds = [p.split(":")[1] for p in cls._layout.split()]
    return st.builds(cls, *[KIND[k] for k in kinds])


@pytest.mark.parametrize("cls", LAYOUT_RECORDS, ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_record_round_trips(cls: type[R.Record], data: st.DataObject) -> None:
    rec = data.draw(strategy_for(cls))
    assert cls.from_bytes(rec.to_bytes()) == rec


def test_stat_is_68_bytes_in_declared_order() -> None:
    s = R.Stat(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
    assert s.to_bytes() == struct.pack(">qqqqiiiqiiq", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)


def test_connect_request_is_45_bytes_like_the_c_client() -> None:
    req = R.ConnectRequest(0, 0x10, 30000, 0, bytes(16), False, True)
    raw = req.to_bytes()
    assert len(raw) == 45
    assert raw == struct.pack(">iqiqi", 0, 0x10, 30000, 0, 16) + bytes(16) + b"\x00"
    assert R.ConnectRequest.from_bytes(raw) == req


def test_old_client_connect_without_read_only_byte() -> None:
    raw = struct.pack(">iqiqi", 0, 0, 10000, 7, 16) + b"p" * 16
    req = R.ConnectRequest.from_bytes(raw)
    assert not req.has_read_only and req.sessionId == 7 and req.passwd == b"p" * 16
    resp = R.ConnectResponse(0, 10000, 7, b"p" * 16, False, req.has_read_only)
    assert len(resp.to_bytes()) == 36


def test_null_and_empty_data_stay_distinct() -> None:
    null = R.SetDataRequest("/a", None, -1).to_bytes()
    empty = R.SetDataRequest("/a", b"", -1).to_bytes()
    assert null[6:10] == b"\xff\xff\xff\xff" and empty[6:10] == b"\x00\x00\x00\x00"
    assert R.SetDataRequest.from_bytes(null).data is None
    assert R.SetDataRequest.from_bytes(empty).data == b""


def test_null_string_reads_as_empty() -> None:
    # kazoo writes Id("auth", "") with a null id
    raw = struct.pack(">i", 4) + b"auth" + struct.pack(">i", -1)
    assert R.Id.from_bytes(raw) == R.Id("auth", "")


def test_reply_with_error_has_no_body() -> None:
    frame = encode_reply(5, 9, -101, R.ExistsResponse(R.Stat(*([0] * 11))))
    assert frame == struct.pack(">iiqi", 16, 5, 9, -101)


def test_notification_frame() -> None:
    frame = encode_event(4, 3, "/a")
    assert frame == struct.pack(">iiqiiii", 30, -1, -1, 0, 4, 3, 2) + b"/a"


def test_multi_round_trip_and_end_marker() -> None:
    req = MultiRequest(
        (
            (Op.CREATE, R.CreateRequest("/x", b"", [], 0)),
            (Op.CHECK, R.CheckVersionRequest("/x", 3)),
            (Op.DELETE, R.DeleteRequest("/x", -1)),
        )
    )
    raw = req.to_bytes()
    assert raw.endswith(struct.pack(">i?i", -1, True, -1))
    assert MultiRequest.from_bytes(raw) == req
    resp = MultiResponse(
        (OpResult(Op.CREATE, 0, R.CreateResponse("/x")), OpResult.error(-101), OpResult.error(-2))
    )
    assert MultiResponse.from_bytes(resp.to_bytes()) == resp


def test_multi_rejects_mixed_and_unknown_ops() -> None:
    mixed = MultiRequest(
        ((Op.GET_DATA, R.GetDataRequest("/a", False)), (Op.DELETE, R.DeleteRequest("/a", -1)))
    )
    with pytest.raises(ProtocolError):
        MultiRequest.from_bytes(mixed.to_bytes())
    bad = struct.pack(">i?i", 3, False, -1) + R.ExistsRequest("/a", False).to_bytes()
    with pytest.raises(ProtocolError):
        MultiRequest.from_bytes(bad + struct.pack(">i?i", -1, True, -1))


def test_unknown_opcode_and_bad_body() -> None:
    with pytest.raises(UnknownOpcode) as e:
        decode_request(struct.pack(">ii", 7, 999))
    assert e.value.xid == 7
    with pytest.raises(UnknownOpcode):
        decode_request(struct.pack(">ii", 7, 0))
    with pytest.raises(BadRequestBody):
        decode_request(struct.pack(">iii", 8, Op.GET_DATA, 1000))


def test_frame_buffer_limits() -> None:
    fb = FrameBuffer(max_frame=100)
    with pytest.raises(ProtocolError):
        fb.feed(struct.pack(">i", 101))
    with pytest.raises(ProtocolError):
        FrameBuffer().feed(struct.pack(">i", -5))


@settings(max_examples=200, deadline=None)
@given(frames=st.lists(st.binary(max_size=40), max_size=8), cuts=st.lists(st.integers(0, 400)))
def test_frame_buffer_reassembles_any_split(frames: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(struct.pack(">i", len(f)) + f for f in frames)
    points = sorted({c for c in cuts if c < len(stream)} | {0, len(stream)})
    fb, got = FrameBuffer(), []
    for a, b in itertools.pairwise(points):
        got += fb.feed(stream[a:b])
    assert got == frames and len(fb) == 0


@settings(max_examples=1500, deadline=None)
@given(body=st.binary(max_size=120))
def test_random_bodies_raise_only_protocol_errors(body: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decode_request(body)


@settings(max_examples=600, deadline=None)
@given(data=st.data())
def test_mutated_valid_requests_raise_only_protocol_errors(data: st.DataObject) -> None:
    op = data.draw(st.sampled_from(sorted(o for o in OPS if OPS[o][0]._layout)))
    rec = data.draw(strategy_for(OPS[op][0]))
    frame = bytearray(encode_request(1, op, rec)[4:])
    for _ in range(data.draw(st.integers(1, 4))):
        if not frame:
            break
        i = data.draw(st.integers(0, len(frame) - 1))
        frame[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(frame)))
    with contextlib.suppress(ProtocolError):
        decode_request(bytes(frame[:cut]))


def test_vector_length_cannot_exceed_the_frame() -> None:
    # a getChildren response claiming 2**30 strings must fail fast, not allocate
    with pytest.raises(ProtocolError):
        R.GetChildrenResponse.read(Reader(struct.pack(">i", 2**20)))


def test_request_table_covers_every_client_opcode() -> None:
    for op in (
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
        9,
        11,
        12,
        13,
        14,
        15,
        16,
        17,
        18,
        19,
        21,
        22,
        100,
        101,
        102,
        103,
        104,
        105,
        106,
        107,
        -11,
    ):
        assert op in OPS


def test_ids_and_acls_are_values() -> None:
    a = R.ACL(31, R.Id("digest", "u:h"))
    b = R.ACL(31, R.Id("digest", "u:h"))
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert R.ACL(1, R.Id("digest", "u:h")) != a


def _create_body(acl: list[R.ACL], path: str = "/a") -> bytes:
    return encode_request(7, Op.CREATE, R.CreateRequest(path, b"d", acl, 0))[4:]


def test_repeated_acl_vectors_decode_to_equal_fresh_lists() -> None:
    # ACL vectors seen recently are matched by their bytes; more distinct lists than are
    # remembered, each decoded several times, must still come back exactly
    lists = [[R.ACL(31 - k % 3, R.Id("digest", f"u{k}:hash{k}"))] for k in range(12)]
    lists.append([R.ACL(1, R.Id("world", "anyone")), R.ACL(31, R.Id("ip", "10.0.0.0/8"))])
    for _ in range(3):
        for acl in lists:
            got = decode_request(_create_body(acl))[2]
            assert isinstance(got, R.CreateRequest)
            assert got.acl == acl and got.flags == 0 and got.data == b"d"
    first = decode_request(_create_body(lists[0]))[2]
    assert isinstance(first, R.CreateRequest)
    first.acl.append(R.ACL(1, R.Id("world", "anyone")))  # the caller's list is its own
    again = decode_request(_create_body(lists[0]))[2]
    assert isinstance(again, R.CreateRequest) and again.acl == lists[0]


def test_a_remembered_acl_vector_is_not_read_past_the_record_end() -> None:
    vectors = RecentVectors(dec_ACL)
    acl = [R.ACL(31, R.Id("world", "anyone"))]
    raw = struct.pack(">i", 1) + b"".join(a.to_bytes() for a in acl)
    buf = b"xx" + raw + b"tail"
    assert vectors.read(buf, 2, len(buf)) == (acl, 2 + len(raw))  # now remembered
    assert vectors.read(buf, 2, 2 + len(raw)) == (acl, 2 + len(raw))
    for end in range(2, 2 + len(raw)):
        with pytest.raises(ProtocolError):
            vectors.read(buf, 2, end)
