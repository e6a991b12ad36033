"""The per-connection protocol object (roost.wire.session), driven with bytes only."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from roost.wire.errors import Err
from roost.wire.jute import INT, Reader
from roost.wire.multi import MultiRequest
from roost.wire.opcodes import Op, Xid
from roost.wire.protocol import decode_reply_header, encode_event, encode_reply, encode_request
from roost.wire.records import (
    AuthPacket,
    ConnectRequest,
    ConnectResponse,
    CreateRequest,
    Empty,
    GetDataRequest,
    GetSASLRequest,
    Id,
    SetDataRequest,
)
from roost.wire.session import (
    ABORT,
    CLOSE,
    INVALID_PASSWD,
    PROCESS,
    WAIT,
    Auth,
    ClientProtocol,
    CloseSession,
    Connect,
    Event,
    FourLetterWord,
    Ping,
    ProtocolViolation,
    Refused,
    ReplyQueue,
    Request,
    Sasl,
    connect_refusal,
    negotiate_timeout,
)

PASSWD = bytes(range(16))
ZXID = 0x500


def connect_bytes(
    sid: int = 0, passwd: bytes = bytes(16), last_zxid: int = 0, read_only: bool | None = False
) -> bytes:
    """A ConnectRequest frame; read_only=None is an old client without the trailing byte."""
    req = ConnectRequest(0, last_zxid, 10_000, sid, passwd, bool(read_only), read_only is not None)
    body = req.to_bytes()
    return INT.pack(len(body)) + body


def make(**kw: object) -> tuple[ClientProtocol, list[int]]:
    wakes: list[int] = []
    proto = ClientProtocol(
        lambda: ZXID, on_output=lambda: wakes.append(1), four_letter_words={"ruok", "stat"}, **kw
    )  # type: ignore[arg-type]
    return proto, wakes


def events(proto: ClientProtocol) -> list[Event]:
    out = []
    while (ev := proto.next_event()) is not None:
        out.append(ev)
    return out


def frames(data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack_from(">i", data, pos)
        out.append(data[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return out


def sent(proto: ClientProtocol) -> list[bytes]:
    return frames(b"".join(proto.drain()))


def open_session(read_only: bool = False, **kw: object) -> ClientProtocol:
    proto, _ = make(**kw)
    proto.receive_data(connect_bytes(read_only=read_only))
    (ev,) = events(proto)
    assert isinstance(ev, Connect)
    assert proto.check_connect(ZXID, read_only) is None
    proto.connected(0x42, PASSWD, 10_000, read_only)
    proto.drain()
    return proto


def reply_xids(out: list[bytes]) -> list[int]:
    return [decode_reply_header(f)[0] for f in out]


# --- handshake ----------------------------------------------------------------------------
def test_new_session_handshake_in_pieces() -> None:
    proto, wakes = make()
    data = connect_bytes()
    for i in range(len(data)):  # one byte at a time
        proto.receive_data(data[i : i + 1])
        if i < len(data) - 1:
            assert proto.next_event() is None
    (ev,) = events(proto)
    assert isinstance(ev, Connect) and ev.request.sessionId == 0 and ev.request.has_read_only
    assert proto.check_connect(ZXID, False) is None
    proto.connected(0x42, PASSWD, 8000)
    (resp,) = sent(proto)
    got = ConnectResponse.read(Reader(resp))
    assert (got.timeOut, got.sessionId, got.passwd, got.readOnly) == (8000, 0x42, PASSWD, False)
    assert len(resp) == 37 and wakes


def test_old_client_without_read_only_byte_gets_a_response_without_one() -> None:
    proto, _ = make()
    proto.receive_data(connect_bytes(read_only=None))
    (ev,) = events(proto)
    assert isinstance(ev, Connect) and not ev.request.has_read_only
    proto.connected(0x42, PASSWD, 8000)
    (resp,) = sent(proto)
    assert len(resp) == 36  # no trailing readOnly byte


def test_wrong_password_answers_expired_and_closes() -> None:
    proto, _ = make()
    proto.receive_data(connect_bytes(sid=0x42, passwd=b"\x01" * 16))
    events(proto)
    proto.session_expired()
    (resp,) = sent(proto)
    got = ConnectResponse.read(Reader(resp))
    assert (got.timeOut, got.sessionId, got.passwd) == (0, 0, INVALID_PASSWD)
    assert proto.closing and proto.abort_reason is None  # closed after the flush


def test_client_ahead_of_the_server_is_refused_without_an_answer() -> None:
    proto, _ = make()
    proto.receive_data(connect_bytes(last_zxid=ZXID + 1))
    events(proto)
    why = proto.check_connect(ZXID, False)
    assert why is not None and "0x501" in why
    assert proto.abort_reason == why and proto.closing and proto.drain() == []
    assert connect_refusal(ConnectRequest(0, ZXID, 1, 0, b""), ZXID, False) is None


def test_read_only_server_takes_only_read_only_clients() -> None:
    proto, _ = make()
    proto.receive_data(connect_bytes(read_only=False))
    events(proto)
    assert proto.check_connect(ZXID, True) is not None and proto.closing
    ro = open_session(read_only=True)
    assert ro.read_only


def test_negotiated_timeout_is_clamped() -> None:
    assert negotiate_timeout(1, 4000, 40000) == 4000
    assert negotiate_timeout(10**9, 4000, 40000) == 40000
    assert negotiate_timeout(5000, 4000, 40000) == 5000


def test_requests_behind_the_handshake_wait_for_the_session() -> None:
    proto, _ = make()
    get = encode_request(1, Op.GET_DATA, GetDataRequest("/a", False))
    exists = encode_request(2, Op.EXISTS, GetDataRequest("/b", False))
    proto.receive_data(connect_bytes() + get + exists)
    (ev,) = events(proto)
    assert isinstance(ev, Connect)
    assert proto.next_event() is None and proto.pending  # held until connected
    proto.connected(7, PASSWD, 8000)
    evs = events(proto)
    assert [(type(e), e.xid) for e in evs if isinstance(e, Request)] == [(Request, 1), (Request, 2)]


def test_four_letter_word() -> None:
    proto, _ = make()
    proto.receive_data(b"ru")
    assert proto.next_event() is None
    proto.receive_data(b"ok and more")
    (ev,) = events(proto)
    assert ev == FourLetterWord("ruok")
    proto.send_text("imok")
    assert proto.drain() == [b"imok"] and proto.closing and proto.peer_buffered(0) == CLOSE


def test_a_word_not_known_is_read_as_a_frame_length() -> None:
    proto, _ = make()
    proto.receive_data(b"kill")  # 0x6b696c6c: far beyond the frame limit
    (ev,) = events(proto)
    assert isinstance(ev, ProtocolViolation) and "out of range" in ev.reason
    assert proto.abort_reason is not None


# --- requests -----------------------------------------------------------------------------
def test_events_in_arrival_order_with_their_xids() -> None:
    proto = open_session()
    data = b"".join(
        [
            encode_request(1, Op.CREATE, CreateRequest("/a", b"", [], 0)),
            encode_request(Xid.PING, Op.PING, Empty()),
            encode_request(Xid.AUTH, Op.AUTH, AuthPacket(0, "digest", b"u:p")),
            encode_request(2, Op.SASL, GetSASLRequest(b"tok")),
            encode_request(3, Op.GET_DATA, GetDataRequest("/a", True)),
            encode_request(4, Op.CLOSE_SESSION, Empty()),
        ]
    )
    proto.receive_data(data)
    evs = events(proto)
    assert [type(e) for e in evs] == [Request, Ping, Auth, Sasl, Request, CloseSession]
    first, _, auth, sasl, read, close = evs
    assert isinstance(first, Request) and (first.xid, first.op) == (1, Op.CREATE)
    assert isinstance(auth, Auth) and (auth.scheme, auth.auth) == ("digest", b"u:p")
    assert isinstance(sasl, Sasl) and (sasl.xid, sasl.token) == (2, b"tok")
    assert isinstance(read, Request) and read.body.startswith(struct.pack(">ii", 3, Op.GET_DATA))
    assert isinstance(close, CloseSession) and close.xid == 4
    assert proto.frames_in == 7


def test_ping_is_answered_in_order_with_the_servers_zxid() -> None:
    proto = open_session()
    write = proto.reserve()  # a write in flight
    proto.receive_data(encode_request(Xid.PING, Op.PING, Empty()))
    assert isinstance(proto.next_event(), Ping)
    assert proto.drain() == []  # behind the write
    proto.complete(write, encode_reply(5, ZXID, 0))
    assert [decode_reply_header(f) for f in sent(proto)] == [(5, ZXID, 0), (Xid.PING, ZXID, 0)]


def test_the_output_gate_holds_every_answer_in_order_until_it_opens() -> None:
    granted = [True]
    proto = open_session(may_send=lambda: granted[0])
    granted[0] = False  # the member's grant for the session lapsed
    write = proto.reserve()
    proto.receive_data(
        encode_request(Xid.PING, Op.PING, Empty())
        + encode_request(2, Op.GET_DATA, GetDataRequest("/a", False))
    )
    ping, read = events(proto)
    assert isinstance(ping, Ping) and isinstance(read, Request)
    proto.reply_later(lambda: encode_reply(2, ZXID, 0))
    proto.complete(write, encode_reply(1, ZXID + 1, 0))
    proto.notify(encode_event(3, 3, "/a"))
    assert proto.drain() == [] and proto.held  # nothing leaves, not even the event
    assert proto.drain() == [] and proto.held
    granted[0] = True  # a grant came: everything leaves, in the order it was queued
    assert reply_xids(sent(proto)) == [1, Xid.PING, 2, Xid.NOTIFICATION]
    assert not proto.held and proto.frames_out == 5  # the handshake's answer, then these


def test_read_only_and_not_yet_open_connections_are_not_gated() -> None:
    asked: list[int] = []

    def gate() -> bool:
        asked.append(1)
        return False

    proto = open_session(read_only=True, may_send=gate)
    proto.receive_data(encode_request(Xid.PING, Op.PING, Empty()))
    assert isinstance(proto.next_event(), Ping)
    assert reply_xids(sent(proto)) == [Xid.PING] and not asked
    proto, _ = make(may_send=gate)
    proto.receive_data(connect_bytes(sid=7, passwd=PASSWD))
    events(proto)
    proto.session_expired()  # the "expired" answer of a handshake is never held
    assert len(sent(proto)) == 1 and not asked


def test_read_only_connection_refuses_writes_and_answers_close_itself() -> None:
    proto = open_session(read_only=True)
    proto.receive_data(
        encode_request(1, Op.SET_DATA, SetDataRequest("/a", b"x", -1))
        + encode_request(2, Op.GET_DATA, GetDataRequest("/a", False))
        + encode_request(3, Op.CLOSE_SESSION, Empty())
    )
    evs = events(proto)
    assert isinstance(evs[0], Refused) and evs[0].err == Err.NOT_READ_ONLY
    assert isinstance(evs[1], Request) and evs[1].xid == 2
    assert len(evs) == 2 and proto.closing
    proto.reply(encode_reply(2, ZXID, 0))
    assert [decode_reply_header(f) for f in sent(proto)] == [
        (1, ZXID, Err.NOT_READ_ONLY),
        (3, ZXID, 0),
        (2, ZXID, 0),
    ]


def test_bad_body_is_marshalling_error_and_the_connection_goes_on() -> None:
    proto = open_session()
    bad = struct.pack(">ii", 9, Op.GET_DATA) + b"\x00\x00\x00\x10ab"  # a 16-byte path cut short
    good = encode_request(10, Op.EXISTS, GetDataRequest("/", False))
    proto.receive_data(INT.pack(len(bad)) + bad + good)
    evs = events(proto)
    assert isinstance(evs[0], Refused) and evs[0].err == Err.MARSHALLING_ERROR
    assert isinstance(evs[1], Request) and evs[1].xid == 10
    assert decode_reply_header(sent(proto)[0]) == (9, ZXID, Err.MARSHALLING_ERROR)


def test_multi_of_reads_sent_as_a_write_is_refused() -> None:
    proto = open_session()
    multi = MultiRequest(((Op.GET_DATA, GetDataRequest("/a", False)),))
    proto.receive_data(encode_request(4, Op.MULTI, multi))
    (ev,) = events(proto)
    assert isinstance(ev, Refused) and ev.err == Err.MARSHALLING_ERROR


def test_unknown_opcode_is_unimplemented_then_close() -> None:
    proto = open_session()
    good = encode_request(4, Op.EXISTS, GetDataRequest("/", False))
    proto.receive_data(encode_request(3, 4242) + good)
    (ev,) = events(proto)
    assert isinstance(ev, Refused) and ev.err == Err.UNIMPLEMENTED
    assert decode_reply_header(sent(proto)[0]) == (3, ZXID, Err.UNIMPLEMENTED)
    assert proto.closing and proto.abort_reason is None
    proto = open_session()
    proto.receive_data(encode_request(5, Op.NOTIFICATION))  # a server's opcode, not a client's
    (ev,) = events(proto)
    assert isinstance(ev, Refused) and ev.err == Err.UNIMPLEMENTED


def test_frame_too_large_or_negative_or_headerless_aborts() -> None:
    for data in (INT.pack(1 << 30), INT.pack(-5), INT.pack(3) + b"abc"):
        proto = open_session(max_frame=1 << 20)
        proto.receive_data(data)
        evs = events(proto)
        assert len(evs) == 1 and isinstance(evs[0], ProtocolViolation)
        assert proto.closing and proto.abort_reason == evs[0].reason
        proto.receive_data(encode_request(1, Op.EXISTS, GetDataRequest("/", False)))
        assert proto.next_event() is None and proto.drain() == []


def test_bad_connect_request_aborts() -> None:
    proto, _ = make()
    proto.receive_data(INT.pack(3) + b"abc")
    (ev,) = events(proto)
    assert isinstance(ev, ProtocolViolation) and "connect" in ev.reason


# --- auth -------------------------------------------------------------------------------------
def test_auth_replies_carry_zxid_zero_and_failure_closes() -> None:
    proto = open_session(auth=(Id("ip", "1.2.3.4"),))
    proto.auth_result([Id("digest", "u:x"), Id("digest", "u:x"), Id("ip", "1.2.3.4")])
    assert proto.auth == (Id("ip", "1.2.3.4"), Id("digest", "u:x"))
    proto.auth_result(None)
    assert [decode_reply_header(f) for f in sent(proto)] == [
        (Xid.AUTH, 0, 0),
        (Xid.AUTH, 0, Err.AUTH_FAILED),
    ]
    assert proto.closing


def test_failed_sasl_step_has_a_body() -> None:
    proto = open_session()
    proto.sasl_result(2, None, failed=True)
    (frame,) = sent(proto)
    assert decode_reply_header(frame) == (2, 0, Err.AUTH_FAILED) and len(frame) > 16
    assert proto.closing


# --- ordering ---------------------------------------------------------------------------------
def test_replies_in_request_order_and_reads_deferred_behind_writes() -> None:
    proto = open_session()
    value = [b"old"]
    proto.reply(encode_reply(1, ZXID, 0))  # nothing ahead: out at once
    w1 = proto.reserve()  # write 2
    proto.reply_later(lambda: encode_reply(3, ZXID, 0, GetDataRequest(value[0].decode(), False)))
    w2 = proto.reserve()  # write 4
    proto.reply(encode_reply(5, ZXID, 0))
    assert reply_xids(sent(proto)) == [1]
    proto.complete(w2, encode_reply(4, ZXID + 2, 0))  # commits out of order: held
    assert proto.drain() == []
    value[0] = b"new"  # write 2 applied: the read behind it must see it
    proto.complete(w1, encode_reply(2, ZXID + 1, 0))
    out = sent(proto)
    assert reply_xids(out) == [2, 3, 4, 5]
    assert b"new" in out[1] and b"old" not in out[1]


def test_watch_event_precedes_the_reply_that_observes_the_change() -> None:
    proto = open_session()
    write = proto.reserve()
    proto.reply_later(lambda: encode_reply(2, ZXID + 1, 0))
    # the write applies: its watch fires, then its reply completes
    proto.notify(encode_event(3, 3, "/a"))
    proto.complete(write, encode_reply(1, ZXID + 1, 0))
    assert reply_xids(sent(proto)) == [Xid.NOTIFICATION, 1, 2]


def test_reply_queue_alone() -> None:
    out: list[bytes] = []
    q = ReplyQueue(out.append)
    s = q.reserve()
    q.notify(b"event")
    q.reply(b"r2")
    q.complete(s, b"r1")
    assert out == [b"event", b"r1", b"r2"] and len(q) == 0


# --- flow control -----------------------------------------------------------------------------
def test_output_past_high_water_pauses_input_until_drained() -> None:
    proto = open_session(high_water=100, hard_limit=10_000)
    get = GetDataRequest("/a", False)
    reqs = b"".join(encode_request(i, Op.GET_DATA, get) for i in range(1, 6))
    proto.receive_data(reqs)
    got = []
    while (ev := proto.next_event()) is not None:
        assert isinstance(ev, Request)
        got.append(ev.xid)
        proto.reply(encode_reply(ev.xid, ZXID, 0) + bytes(60))  # 80-byte replies
    assert got == [1, 2] and proto.paused and proto.pending
    proto.drain()
    assert not proto.paused and proto.peer_buffered(0) == PROCESS
    assert [e.xid for e in events_answering(proto)] == [3, 4]
    proto.peer_paused(True)  # the transport's own buffer is full
    assert proto.next_event() is None
    proto.peer_paused(False)
    proto.drain()
    assert [e.xid for e in events_answering(proto)] == [5]


def events_answering(proto: ClientProtocol) -> list[Request]:
    out = []
    while (ev := proto.next_event()) is not None:
        assert isinstance(ev, Request)
        out.append(ev)
        proto.reply(encode_reply(ev.xid, ZXID, 0) + bytes(60))
    return out


def test_peer_that_stops_reading_is_disconnected_past_the_hard_limit() -> None:
    proto = open_session(high_water=100, hard_limit=1000)
    proto.notify(bytes(600))
    proto.drain()
    assert proto.peer_buffered(600) == WAIT  # written but unread
    assert proto.abort_reason is None
    proto.notify(bytes(500))
    assert proto.abort_reason is not None and "does not read" in proto.abort_reason
    assert proto.drain() == [] and proto.closing


def test_unread_transport_alone_over_the_limit_disconnects() -> None:
    proto = open_session(hard_limit=1000)
    assert proto.peer_buffered(1001) == ABORT
    assert proto.abort_reason is not None


# --- hostile input ---------------------------------------------------------------------------
def _drive(proto: ClientProtocol, chunks: list[bytes]) -> None:
    for chunk in chunks:
        proto.receive_data(chunk)
        while (ev := proto.next_event()) is not None:
            if isinstance(ev, Connect):
                if proto.check_connect(ZXID, False) is None:
                    proto.connected(1, PASSWD, 4000)
            elif isinstance(ev, Request):
                proto.reply_later(lambda: b"\x00\x00\x00\x00")
            elif isinstance(ev, FourLetterWord):
                proto.send_text("x")
        proto.drain()


@settings(max_examples=800, deadline=None)
@given(chunks=st.lists(st.binary(max_size=80), max_size=6))
def test_no_byte_string_makes_it_raise(chunks: list[bytes]) -> None:
    _drive(make(max_frame=4096)[0], chunks)


@settings(max_examples=500, deadline=None)
@given(
    tail=st.lists(st.binary(max_size=60), max_size=6),
    xids=st.lists(st.integers(-10, 10), max_size=4),
    ops=st.lists(st.sampled_from([int(o) for o in Op] + [77, -3]), max_size=4),
)
def test_no_request_after_a_handshake_makes_it_raise(
    tail: list[bytes], xids: list[int], ops: list[int]
) -> None:
    """Well-framed requests with any header and any body, after a valid handshake."""
    chunks = [connect_bytes()]
    for xid, op, body in zip(xids, ops, tail, strict=False):
        frame = struct.pack(">ii", xid, op) + body
        chunks.append(INT.pack(len(frame)) + frame)
    chunks += tail[len(ops) :]
    _drive(make(max_frame=4096)[0], chunks)
