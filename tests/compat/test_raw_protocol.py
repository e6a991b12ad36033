"""Raw-protocol edge cases against both backends: handshake, framing, errors, byte layouts."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest

from roost.wire.errors import Err
from roost.wire.jute import Writer
from roost.wire.opcodes import Op
from roost.wire.protocol import encode_request
from roost.wire.records import (
    ACL,
    AuthPacket,
    Create2Response,
    CreateRequest,
    Empty,
    ExistsRequest,
    GetChildren2Request,
    GetChildren2Response,
    GetDataRequest,
    GetDataResponse,
    Id,
    SetDataRequest,
    Stat,
)

from .rawclient import ConnectionClosed, RawClient, frame

pytestmark = pytest.mark.compat

OPEN = [ACL(31, Id("world", "anyone"))]
RawFactory = Callable[..., RawClient]


def still_serves(c: RawClient) -> None:
    assert c.request(Op.EXISTS, ExistsRequest("/", False)).err == 0


# --- handshake ----------------------------------------------------------------------------


def test_connect_response_layout(raw: RawFactory) -> None:
    c = raw(connect=False)
    resp = c.connect(timeout_ms=30000)
    body = c.connect_body
    assert len(body) == 37
    proto, timeout, sid, pw_len = struct.unpack_from(">iiqi", body, 0)
    assert (proto, timeout, pw_len) == (0, 30000, 16)
    assert sid == resp.sessionId != 0
    assert body[36] == 0  # readOnly false
    still_serves(c)


def test_connect_without_read_only_byte(raw: RawFactory) -> None:
    c = raw(connect=False)
    resp = c.connect(read_only_byte=False)
    assert len(c.connect_body) == 36
    assert resp.sessionId != 0
    assert resp.has_read_only is False
    still_serves(c)


@pytest.mark.parametrize(("asked", "granted"), [(100, 4000), (15000, 15000), (10**6, 40000)])
def test_session_timeout_negotiation(raw: RawFactory, asked: int, granted: int) -> None:
    assert raw(connect=False).connect(timeout_ms=asked).timeOut == granted


def test_reattach_same_session(raw: RawFactory, base: str) -> None:
    first = raw()
    reply = first.request(Op.CREATE, CreateRequest(f"{base}/eph", b"", OPEN, 1))
    assert reply.err == 0
    second = raw(connect=False)
    resp = second.connect(session_id=first.session_id, passwd=first.passwd,
                          last_zxid=first.last_zxid)
    assert (resp.sessionId, resp.passwd) == (first.session_id, first.passwd)
    # the old connection of the session is closed by the server
    first.wait_closed()
    stat = second.request(Op.EXISTS, ExistsRequest(f"{base}/eph", False))
    assert stat.err == 0


def test_wrong_password_gets_invalid_session(raw: RawFactory) -> None:
    owner = raw()
    imposter = raw(connect=False)
    resp = imposter.connect(session_id=owner.session_id, passwd=b"\x01" * 16)
    assert (resp.timeOut, resp.sessionId, resp.passwd) == (0, 0, b"\x00" * 16)
    imposter.wait_closed()
    # the session itself is still valid with the right password
    again = raw(connect=False)
    resp = again.connect(session_id=owner.session_id, passwd=owner.passwd)
    assert resp.sessionId == owner.session_id
    still_serves(again)


def test_unknown_session_gets_invalid_session(raw: RawFactory) -> None:
    c = raw(connect=False)
    resp = c.connect(session_id=0x0DEADBEEF, passwd=b"\x02" * 16)
    assert (resp.timeOut, resp.sessionId) == (0, 0)
    c.wait_closed()


def test_closed_session_cannot_be_resumed(raw: RawFactory) -> None:
    c = raw()
    sid, pw = c.session_id, c.passwd
    reply = c.close_session()
    assert reply.err == 0
    assert len(reply.body) == 16
    c.wait_closed()
    again = raw(connect=False)
    assert again.connect(session_id=sid, passwd=pw).timeOut == 0


def test_zxid_ahead_is_refused_without_reply(raw: RawFactory) -> None:
    c = raw(connect=False)
    with pytest.raises(ConnectionClosed):
        c.connect(last_zxid=1 << 60)


def test_request_before_handshake_is_not_a_session(raw: RawFactory) -> None:
    """A normal request as the first frame is read as a ConnectRequest and rejected."""
    c = raw(connect=False)
    c.send_bytes(encode_request(1, Op.EXISTS, ExistsRequest("/", False)))
    assert c.wait_closed() == b""


# --- framing and errors -------------------------------------------------------------------


def test_unknown_opcode_errors_then_closes(raw: RawFactory) -> None:
    c = raw()
    other = raw()
    c.send(999, Empty(), xid=7)
    body = c.wait_closed()
    assert len(body) == 20
    length, xid, _zxid, err = struct.unpack(">iiqi", body)
    assert (length, xid, err) == (16, 7, Err.UNIMPLEMENTED)
    still_serves(other)


def test_opcode_zero_is_unimplemented(raw: RawFactory) -> None:
    c = raw()
    c.send(0, Empty(), xid=3)
    body = c.wait_closed()
    assert struct.unpack(">iiqi", body)[3] == Err.UNIMPLEMENTED


MALFORMED_BODIES = {
    # a path string that claims 16 bytes but carries 2
    "create-truncated": struct.pack(">ii", 5, Op.CREATE) + struct.pack(">i", 16) + b"ab",
    "create-negative-length": struct.pack(">ii", 5, Op.CREATE) + struct.pack(">i", -5),
    "getdata-truncated": struct.pack(">ii", 5, Op.GET_DATA) + struct.pack(">i", 16) + b"ab",
    "exists-no-body": struct.pack(">ii", 5, Op.EXISTS),
    "setdata-truncated": struct.pack(">ii", 5, Op.SET_DATA) + struct.pack(">i", 2) + b"/a",
    "multi-bad-op": struct.pack(">ii", 5, Op.MULTI) + b"\x00\x00\x00\x63\x00\xff\xff\xff\xff",
}


@pytest.mark.parametrize("body", MALFORMED_BODIES.values(), ids=MALFORMED_BODIES.keys())
def test_unparsable_body_is_marshalling_error(raw: RawFactory, body: bytes) -> None:
    """ZooKeeper answers MarshallingError (-5) and keeps serving the connection."""
    c = raw()
    other = raw()
    c.send_bytes(frame(body))
    reply = c.read_reply(Op.CREATE, expect_xid=5)
    assert reply.err == Err.MARSHALLING_ERROR
    assert len(reply.body) == 16
    still_serves(c)
    still_serves(other)


def test_frame_without_header_closes_only_that_connection(raw: RawFactory) -> None:
    c = raw()
    other = raw()
    c.send_bytes(frame(b"\x00\x01"))
    assert c.wait_closed() == b""
    still_serves(other)


@pytest.mark.parametrize("length", [0x100000, 0x7FFFFFFF, -1])
def test_bad_frame_length_closes_without_reply(raw: RawFactory, length: int) -> None:
    c = raw()
    other = raw()
    c.send_bytes(struct.pack(">i", length) + b"\x00" * 64)
    assert c.wait_closed() == b""
    still_serves(other)


def test_session_survives_dropped_connection(raw: RawFactory, base: str) -> None:
    c = raw()
    assert c.request(Op.CREATE, CreateRequest(f"{base}/keep", b"", OPEN, 1)).err == 0
    sid, pw = c.session_id, c.passwd
    c.send_bytes(struct.pack(">i", 0x7FFFFFFF))
    c.wait_closed()
    back = raw(connect=False)
    assert back.connect(session_id=sid, passwd=pw, last_zxid=c.last_zxid).sessionId == sid
    assert back.request(Op.EXISTS, ExistsRequest(f"{base}/keep", False)).err == 0


def test_pipelined_requests_answer_in_order(raw: RawFactory, base: str) -> None:
    c = raw()
    batch = b"".join(
        encode_request(
            100 + i,
            Op.CREATE if i % 2 == 0 else Op.EXISTS,
            CreateRequest(f"{base}/n{i}", b"", OPEN, 0)
            if i % 2 == 0
            else ExistsRequest(f"{base}/n{i - 1}", False),
        )
        for i in range(40)
    )
    c.send_bytes(batch)
    zxids = []
    for i in range(40):
        reply = c.read_reply(Op.CREATE if i % 2 == 0 else Op.EXISTS, expect_xid=100 + i)
        assert reply.err == 0
        zxids.append(reply.zxid)
    assert zxids == sorted(zxids)


def test_ping_reply(raw: RawFactory) -> None:
    c = raw()
    last = c.request(Op.EXISTS, ExistsRequest("/", False)).zxid
    reply = c.ping()
    assert (reply.xid, reply.err, len(reply.body)) == (-2, 0, 16)
    assert reply.zxid >= last


# --- exact reply bytes ----------------------------------------------------------------------


def test_create2_reply_bytes(raw: RawFactory, base: str) -> None:
    c = raw()
    path = f"{base}/c2"
    reply = c.request(Op.CREATE2, CreateRequest(path, b"abc", OPEN, 0), xid=42)
    xid, zxid, err = struct.unpack_from(">iqi", reply.body, 0)
    assert (xid, err) == (42, 0)
    assert isinstance(reply.record, Create2Response)
    stat = reply.record.stat
    assert stat.czxid == stat.mzxid == stat.pzxid == zxid
    assert (stat.version, stat.cversion, stat.aversion, stat.ephemeralOwner) == (0, 0, 0, 0)
    assert (stat.dataLength, stat.numChildren) == (3, 0)
    w = Writer()
    w.ustring(path)
    stat.write(w)
    assert reply.body[16:] == w.getvalue()
    assert len(reply.body) == 16 + 4 + len(path.encode()) + 68


def test_exists_missing_is_bare_header(raw: RawFactory, base: str) -> None:
    c = raw()
    reply = c.request(Op.EXISTS, ExistsRequest(f"{base}/nothing", False), xid=9)
    assert len(reply.body) == 16
    xid, zxid, err = struct.unpack(">iqi", reply.body)
    assert (xid, err) == (9, Err.NO_NODE)
    assert zxid >= 0


def test_get_data_null_vs_empty_bytes(raw: RawFactory, base: str) -> None:
    c = raw()
    assert c.request(Op.CREATE, CreateRequest(f"{base}/null", None, OPEN, 0)).err == 0
    assert c.request(Op.CREATE, CreateRequest(f"{base}/empty", b"", OPEN, 0)).err == 0
    null = c.request(Op.GET_DATA, GetDataRequest(f"{base}/null", False))
    empty = c.request(Op.GET_DATA, GetDataRequest(f"{base}/empty", False))
    assert null.body[16:20] == b"\xff\xff\xff\xff"
    assert empty.body[16:20] == b"\x00\x00\x00\x00"
    assert len(null.body) == len(empty.body) == 16 + 4 + 68
    assert isinstance(null.record, GetDataResponse)
    assert null.record.data is None
    assert isinstance(null.record.stat, Stat)


def test_error_reply_has_no_body(raw: RawFactory, base: str) -> None:
    c = raw()
    reply = c.request(Op.CREATE, CreateRequest(f"{base}/a/b/c", b"", OPEN, 0))
    assert reply.err == Err.NO_NODE
    assert len(reply.body) == 16
    reply = c.request(Op.GET_DATA, GetDataRequest(f"{base}/nope", False))
    assert reply.err == Err.NO_NODE
    assert len(reply.body) == 16


def test_auth_unknown_scheme_fails_and_closes(raw: RawFactory) -> None:
    c = raw()
    reply = c.request(Op.AUTH, AuthPacket(0, "unknown-scheme", b"x"), xid=-4)
    assert (reply.xid, reply.zxid, reply.err, len(reply.body)) == (-4, 0, Err.AUTH_FAILED, 16)
    assert c.wait_closed() == b""


def test_auth_between_requests(raw: RawFactory, base: str) -> None:
    """Auth (xid -4) may be answered ahead of a write still in flight (ZooKeeper does so);
    the other replies keep their order."""
    c = raw()
    c.send(Op.CREATE, CreateRequest(f"{base}/a1", b"", OPEN, 0), xid=1)
    c.send(Op.AUTH, AuthPacket(0, "digest", b"u:p"), xid=-4)
    c.send(Op.EXISTS, ExistsRequest(f"{base}/a1", False), xid=2)
    xids = [struct.unpack_from(">i", c.read_frame())[0] for _ in range(3)]
    assert sorted(xids) == [-4, 1, 2]
    assert xids.index(1) < xids.index(2)


# --- more framing and handshake edges --------------------------------------------------------


def test_frame_of_exactly_max_length_is_accepted(raw: RawFactory, base: str) -> None:
    c = raw()
    path = f"{base}/max"
    assert c.request(Op.CREATE, CreateRequest(path, b"", OPEN, 0)).err == 0
    head = struct.pack(">ii", 7, Op.SET_DATA)
    w = Writer()
    w.ustring(path)
    size = 0xFFFFF - len(head) - len(w.getvalue()) - 8
    body = head + w.getvalue() + struct.pack(">i", size) + b"z" * size + struct.pack(">i", -1)
    assert len(body) == 0xFFFFF
    c.send_bytes(frame(body))
    assert c.read_reply(Op.SET_DATA, expect_xid=7).err == 0
    # the reply is larger than the request limit; the server still sends it
    reply = c.request(Op.GET_DATA, GetDataRequest(path, False))
    assert isinstance(reply.record, GetDataResponse)
    assert reply.record.data == b"z" * size


def test_four_letter_word_after_handshake_closes(raw: RawFactory) -> None:
    c = raw()
    c.send_bytes(b"ruok")  # read as a frame length far above the limit
    assert c.wait_closed() == b""


def test_unknown_four_letter_word_closes(raw: RawFactory) -> None:
    c = raw(connect=False)
    c.send_bytes(b"abcd" + b"\x00" * 8)
    assert c.wait_closed() == b""


def test_last_zxid_equal_to_server_is_accepted(raw: RawFactory) -> None:
    first = raw()
    last = first.request(Op.EXISTS, ExistsRequest("/", False)).zxid
    second = raw(connect=False)
    assert second.connect(last_zxid=last).timeOut > 0
    still_serves(second)


def test_large_xids_are_echoed(raw: RawFactory) -> None:
    c = raw()
    for xid in (0x7FFFFFF0, 1_700_000_000, 1):
        assert c.request(Op.EXISTS, ExistsRequest("/", False), xid=xid).xid == xid


def test_own_notification_precedes_write_reply(raw: RawFactory, base: str) -> None:
    c = raw()
    path = f"{base}/order"
    assert c.request(Op.CREATE, CreateRequest(path, b"", OPEN, 0)).err == 0
    assert c.request(Op.GET_DATA, GetDataRequest(path, True)).err == 0
    c.send(Op.SET_DATA, SetDataRequest(path, b"x", -1), xid=77)
    first, second = c.read_frame(), c.read_frame()
    assert struct.unpack_from(">iqi", first) == (-1, -1, 0)
    assert struct.unpack_from(">i", second)[0] == 77


def test_get_children2_layout(raw: RawFactory, base: str) -> None:
    c = raw()
    for name in ("x", "y"):
        assert c.request(Op.CREATE, CreateRequest(f"{base}/{name}", b"", OPEN, 0)).err == 0
    reply = c.request(Op.GET_CHILDREN2, GetChildren2Request(base, False))
    assert isinstance(reply.record, GetChildren2Response)
    assert sorted(reply.record.children) == ["x", "y"]
    assert reply.record.stat.numChildren == 2
    w = Writer()
    w.strings(reply.record.children)
    reply.record.stat.write(w)
    assert reply.body[16:] == w.getvalue()
