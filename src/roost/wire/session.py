"""One client connection as the server sees it, without I/O (in the manner of h11).

The host feeds the bytes it read to `ClientProtocol.receive_data` and takes events from
`next_event` until it returns None; it answers them with `reply`, `reply_later`, `reserve`
and `complete`, `notify`, and the handshake and auth helpers; it writes what `drain`
returns and tells the object what its transport does (`peer_paused`, `peer_buffered`).
No socket, clock or event loop here: the server's last zxid is read through a function
the host hands in, and the host is called back (`on_output`) when output becomes ready.

The rules this object keeps (ZooKeeper's; docs/server.md):

- The first four bytes may be a four-letter word; else the first frame is a
  ConnectRequest, whose trailing readOnly byte is optional (old clients leave it out, and
  then the ConnectResponse leaves out its own).
- A client that has seen a zxid beyond the server's is refused (the socket is closed with
  no answer); a wrong password or unknown session gets the "expired" ConnectResponse
  (timeout 0, session 0, zero password) and the connection closes after it.
- Requests are handed over in arrival order; requests that arrive while the session is
  being created wait in the object until `connected` is called.
- Replies leave in request order (`ReplyQueue`); watch notifications are written at once.
- A read-only connection refuses writes with NOT_READ_ONLY and answers closeSession
  itself; pings are answered in order without bothering the host.
- Output gate: on a read-write session the host's `may_send` is asked before output
  leaves (`drain`); while it says no, every reply and notification stays queued, in order
  (`held`), until the host drains again (an ensemble member answers a session only while
  a leader confirms it alive: roost.replica.sessions).
- Bounded output: past `hard_limit` bytes unread by the peer the connection is aborted;
  past `high_water` the object stops handing out requests (`paused`) until the peer reads.
- Bytes that do not form frames (a length out of range, a short header, a bad connect
  request) end in a `ProtocolViolation` event and the connection is aborted; a known
  opcode with a bad body is answered MARSHALLING_ERROR; an unknown opcode UNIMPLEMENTED,
  then the connection closes. No input makes a method raise.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass

from roost.wire.errors import Err, ProtocolError
from roost.wire.multi import MultiRequest
from roost.wire.opcodes import Op, Xid
from roost.wire.protocol import (
    DEFAULT_MAX_FRAME,
    BadRequestBody,
    FrameBuffer,
    UnknownOpcode,
    decode_request,
    encode_frame,
    encode_reply,
)
from roost.wire.records import (
    AuthPacket,
    ConnectRequest,
    ConnectResponse,
    GetSASLRequest,
    Id,
    Record,
    SetSASLResponse,
)

#: opcodes that change the tree (they become txns)
WRITE_OPS = frozenset(
    {
        Op.CREATE,
        Op.CREATE2,
        Op.CREATE_CONTAINER,
        Op.CREATE_TTL,
        Op.DELETE,
        Op.SET_DATA,
        Op.SET_ACL,
        Op.CHECK,
        Op.MULTI,
    }
)
_PING, _AUTH, _SASL, _MULTI = int(Op.PING), int(Op.AUTH), int(Op.SASL), int(Op.MULTI)
#: opcodes `next_event` does not hand over as a plain `Request`
_SPECIAL = frozenset(int(op) for op in WRITE_OPS) | {_PING, _AUTH, _SASL, int(Op.CLOSE_SESSION)}
#: the password of the "session expired" ConnectResponse
INVALID_PASSWD = bytes(16)

Thunk = Callable[[], bytes]


# --- events -------------------------------------------------------------------------------
class Event:
    """Something the peer did that the host acts on."""

    __slots__ = ()


@dataclass(slots=True)
class FourLetterWord(Event):
    """An admin command (`ruok`, `stat`, ...) instead of a handshake: answer it with
    `send_text`, which closes the connection after it."""

    cmd: str


@dataclass(slots=True)
class Connect(Event):
    """The handshake: decide with `check_connect`, then answer with `connected` or
    `session_expired` (or `refuse`)."""

    request: ConnectRequest


@dataclass(slots=True)
class Request(Event):
    """A request for the host: xid, opcode, the decoded record and the whole frame body
    (header included)."""

    xid: int
    op: int
    record: Record
    body: bytes


@dataclass(slots=True)
class Ping(Event):
    """A ping, answered in order already (it counts as the session's activity)."""


@dataclass(slots=True)
class Auth(Event):
    """An auth packet (xid -4): answer with `auth_result`."""

    scheme: str
    auth: bytes | None


@dataclass(slots=True)
class Sasl(Event):
    """One SASL step: answer with `sasl_result`."""

    xid: int
    token: bytes


@dataclass(slots=True)
class CloseSession(Event):
    """closeSession on a read-write connection (a read-only one answers it itself)."""

    xid: int


@dataclass(slots=True)
class Refused(Event):
    """A request the object answered itself with an error (logged and counted by the
    host): a bad body, an unknown opcode, a write on a read-only connection."""

    xid: int
    op: int
    err: int
    reason: str


@dataclass(slots=True)
class ProtocolViolation(Event):
    """Bytes that are not the protocol: the connection is aborted (no answer)."""

    reason: str


# --- ordering -------------------------------------------------------------------------------
class Slot:
    """A place in the reply queue: ready bytes, or a thunk evaluated at the head."""

    __slots__ = ("frame", "thunk")

    def __init__(self, frame: bytes | None = None, thunk: Thunk | None = None) -> None:
        self.frame = frame
        self.thunk = thunk


class ReplyQueue:
    """ZooKeeper's ordering on one connection, as one decision.

    - Replies leave in request order: a reply known at once goes out at once when
      nothing is queued ahead of it; otherwise it takes its turn.
    - A write reserves a slot, completed when it commits.
    - A read queued behind a pending write is a thunk evaluated only at the head of the
      queue, so it observes that write.
    - A watch notification is never queued: it is emitted the moment the change is
      applied, so it precedes the reply of the write that caused it (completed later in
      the same apply) and of any read that observes the change.
    """

    __slots__ = ("emit", "slots")

    def __init__(self, emit: Callable[[bytes], None]) -> None:
        self.slots: deque[Slot] = deque()
        self.emit = emit

    def __len__(self) -> int:
        return len(self.slots)

    def reply(self, frame: bytes) -> None:
        if self.slots:
            self.slots.append(Slot(frame))
        else:
            self.emit(frame)

    def reply_later(self, thunk: Thunk) -> None:
        """A read: evaluated now if nothing is queued ahead of it, else at its turn."""
        if self.slots:
            self.slots.append(Slot(None, thunk))
        else:
            self.emit(thunk())

    def reserve(self) -> Slot:
        slot = Slot()
        self.slots.append(slot)
        return slot

    def complete(self, slot: Slot, frame: bytes) -> None:
        slot.frame = frame
        slots, emit = self.slots, self.emit
        while slots:
            head = slots[0]
            if head.frame is not None:
                out = head.frame
            elif head.thunk is not None:
                out = head.thunk()
            else:
                break
            slots.popleft()
            emit(out)

    def notify(self, frame: bytes) -> None:
        self.emit(frame)


# --- handshake rules ---------------------------------------------------------------------
def negotiate_timeout(requested: int, lowest: int, highest: int) -> int:
    """The session timeout a server grants: the request clamped into its bounds."""
    return min(max(requested, lowest), highest)


def connect_refusal(req: ConnectRequest, last_zxid: int, read_only_server: bool) -> str | None:
    """Why a handshake is refused outright (closed with no answer), or None.

    A client that has seen a later zxid than this server's would see time go backwards;
    a server without a leader serves only clients that accept a read-only server."""
    if req.lastZxidSeen > last_zxid:
        return (
            f"client has seen zxid 0x{req.lastZxidSeen:x}, server is at 0x{last_zxid:x}"
        )
    if read_only_server and not req.readOnly:
        return "no leader, and the client does not accept a read-only server"
    return None


# --- the connection ---------------------------------------------------------------------------
PROBE, CONNECT, AWAIT_SESSION, OPEN, CLOSING, CLOSED = range(6)
#: what `peer_buffered` tells the host to do after a write
WAIT, PROCESS, CLOSE, ABORT = range(4)


class ClientProtocol:
    """The protocol state of one client connection (see the module docstring)."""

    def __init__(
        self,
        last_zxid: Callable[[], int],
        *,
        max_frame: int = DEFAULT_MAX_FRAME,
        high_water: int = 4 * 1024 * 1024,
        hard_limit: int = 64 * 1024 * 1024,
        four_letter_words: Collection[str] = (),
        on_output: Callable[[], None] | None = None,
        auth: tuple[Id, ...] = (),
        may_send: Callable[[], bool] | None = None,
    ) -> None:
        self.last_zxid = last_zxid
        #: asked by `drain` once a read-write session is open: False holds all output
        #: (a member answers a session only while a leader confirms it alive)
        self.may_send = may_send
        self._gate: Callable[[], bool] | None = None
        #: True while the gate holds output back (the host drains again once it opens)
        self.held = False
        self.high_water = high_water
        self.hard_limit = hard_limit
        self.four_letter_words = four_letter_words
        #: called when output goes from nothing to something (the host schedules a flush)
        self.on_output = on_output
        self.state = PROBE
        self.frames = FrameBuffer(max_frame)
        self._probe = b""
        self._inbox: deque[bytes] = deque()
        self._violation: str | None = None
        self._word: str | None = None
        #: why the connection must be aborted (no flush), once it must
        self.abort_reason: str | None = None
        self._out: list[bytes] = []
        #: bytes handed out but not yet drained, and bytes the transport still buffers
        self.out_size = 0
        self.peer_backlog = 0
        self._peer_paused = False
        self.queue = ReplyQueue(self.notify)
        self.reply = self.queue.reply
        self.reply_later = self.queue.reply_later
        self.reserve = self.queue.reserve
        self.complete = self.queue.complete
        #: the ConnectRequest being answered, and the outcome of the handshake
        self.connect_request: ConnectRequest | None = None
        self.read_only = False
        #: the identities of this connection (handed to every request as is)
        self.auth = auth
        #: frames taken from the peer and frames handed to the host to write
        self.frames_in = 0
        self.frames_out = 0

    # --- input ------------------------------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        """Bytes read from the peer (b"" at end of stream is ignored: the host closes)."""
        if self.state >= CLOSING or self._violation is not None or self._word or not data:
            return
        if self.state == PROBE:
            self._probe += data
            if len(self._probe) < 4:
                return
            data, self._probe = self._probe, b""
            self.state = CONNECT
            cmd = data[:4].decode("latin-1")
            if cmd in self.four_letter_words:
                self._word = cmd  # nothing after it is read
                return
        try:
            self._inbox.extend(self.frames.feed(data))
        except ProtocolError as e:
            self._violation = str(e)
            self._inbox.clear()

    @property
    def pending(self) -> bool:
        """True while received requests wait to be handed out."""
        return bool(self._inbox) or self._word is not None

    @property
    def paused(self) -> bool:
        """True while the object holds requests back because the peer does not read
        its replies (the host stops reading from the socket)."""
        return self._peer_paused or self.out_size > self.high_water

    def next_event(self) -> Event | None:
        """The next event, or None: nothing complete yet, waiting for the session, paused
        by flow control, or closed."""
        inbox = self._inbox
        if not inbox:
            if self._violation is None and self._word is None:
                return None  # nothing to hand out (the other common case)
        elif (
            self.state == OPEN
            and not self._peer_paused
            and self.out_size <= self.high_water
        ):  # the common case, kept short: a plain request on an open connection
            body = inbox.popleft()
            self.frames_in += 1
            ev: Event | None
            try:
                xid, op, rec = decode_request(body)
            except ProtocolError as e:
                ev = self._undecodable(e)
            else:
                if op not in _SPECIAL:
                    return Request(xid, op, rec, body)
                ev = self._special(xid, op, rec, body)
            if ev is not None:
                return ev
        while True:
            state = self.state
            if state >= CLOSING or state == AWAIT_SESSION:
                return None
            if self._word is not None:
                self.state = CLOSING
                return FourLetterWord(self._word)
            if self._violation is not None and not self._inbox:
                return self._abort(ProtocolViolation(self._violation))
            if not self._inbox or self._peer_paused or self.out_size > self.high_water:
                return None
            body = self._inbox.popleft()
            self.frames_in += 1
            ev = self._request(body) if state == OPEN else self._connect(body)
            if ev is not None:
                return ev

    def _connect(self, body: bytes) -> Event:
        try:
            req = ConnectRequest.from_bytes(body)
        except ProtocolError as e:
            return self._abort(ProtocolViolation(f"bad connect request: {e}"))
        self.connect_request = req
        self.state = AWAIT_SESSION
        return Connect(req)

    def _request(self, body: bytes) -> Event | None:
        try:
            xid, op, rec = decode_request(body)
        except ProtocolError as e:
            return self._undecodable(e)
        if op not in _SPECIAL:
            return Request(xid, op, rec, body)
        return self._special(xid, op, rec, body)

    def _undecodable(self, e: ProtocolError) -> Event:
        if isinstance(e, UnknownOpcode):
            self.reply(encode_reply(e.xid, self.last_zxid(), Err.UNIMPLEMENTED))
            self.close_after_flush()
            return Refused(e.xid, e.op, Err.UNIMPLEMENTED, f"unknown opcode {e.op}")
        if isinstance(e, BadRequestBody):
            # like ZooKeeper: MarshallingError for that request, the connection goes on
            self.reply(encode_reply(e.xid, self.last_zxid(), Err.MARSHALLING_ERROR))
            return Refused(e.xid, e.op, Err.MARSHALLING_ERROR, str(e))
        return self._abort(ProtocolViolation(f"malformed frame: {e}"))

    def _special(self, xid: int, op: int, rec: Record, body: bytes) -> Event | None:
        """A request the object answers or checks itself, or hands over as its own event."""
        if op == _PING:
            zxid = self.last_zxid
            self.reply_later(lambda: encode_reply(Xid.PING, zxid(), 0))
            return Ping()
        if op in WRITE_OPS:
            if self.read_only:
                self.reply(encode_reply(xid, self.last_zxid(), Err.NOT_READ_ONLY))
                return Refused(xid, op, Err.NOT_READ_ONLY, "a write on a read-only connection")
            if op == _MULTI and isinstance(rec, MultiRequest) and rec.is_read:
                self.reply(encode_reply(xid, self.last_zxid(), Err.MARSHALLING_ERROR))
                return Refused(xid, op, Err.MARSHALLING_ERROR, "a multi of reads sent as a write")
            return Request(xid, op, rec, body)
        if op == _AUTH:
            assert isinstance(rec, AuthPacket)
            return Auth(rec.scheme, rec.auth)
        if op == _SASL:
            assert isinstance(rec, GetSASLRequest)
            return Sasl(xid, rec.token or b"")
        # closeSession
        if self.read_only:  # a local session: nothing to replicate
            self.reply(encode_reply(xid, self.last_zxid(), 0))
            self.close_after_flush()
            return None
        return CloseSession(xid)

    # --- handshake --------------------------------------------------------------------------
    def check_connect(self, last_zxid: int, read_only_server: bool) -> str | None:
        """Refuse the pending handshake if ZooKeeper would (the connection is then
        aborted with no answer; the reason is returned for the log), else None."""
        req = self.connect_request
        if req is None or self.state != AWAIT_SESSION:
            return "no handshake pending"
        why = connect_refusal(req, last_zxid, read_only_server)
        if why is not None:
            self._abort(None, why)
        return why

    def connected(
        self, session_id: int, passwd: bytes, timeout_ms: int, read_only: bool = False
    ) -> None:
        """The session is established: answer the handshake, then hand out the requests
        that came after it."""
        req = self.connect_request
        if req is None or self.state != AWAIT_SESSION:
            return
        self.state = OPEN
        self.read_only = read_only
        self._gate = None if read_only else self.may_send
        self.notify(
            encode_frame(
                ConnectResponse(0, timeout_ms, session_id, passwd, read_only, req.has_read_only)
            )
        )

    def session_expired(self) -> None:
        """The session is unknown, closed or its password wrong: answer "expired" (timeout
        0) and close once it is written."""
        req = self.connect_request
        if req is None or self.state != AWAIT_SESSION:
            return
        self.notify(
            encode_frame(ConnectResponse(0, 0, 0, INVALID_PASSWD, False, req.has_read_only))
        )
        self.close_after_flush()

    # --- auth ---------------------------------------------------------------------------------
    def add_auth(self, ids: Collection[Id]) -> None:
        self.auth += tuple(i for i in dict.fromkeys(ids) if i not in self.auth)

    def auth_result(self, ids: Collection[Id] | None) -> None:
        """Answer an auth packet: the identities it proved, or None (AUTH_FAILED, and the
        connection closes). Auth replies carry zxid 0."""
        if ids is None:
            self.reply(encode_reply(Xid.AUTH, 0, Err.AUTH_FAILED))
            self.close_after_flush()
            return
        self.add_auth(ids)
        self.reply(encode_reply(Xid.AUTH, 0, 0))

    def sasl_result(self, xid: int, token: bytes | None, failed: bool = False) -> None:
        """Answer a SASL step with the server's token; a failure is AUTH_FAILED with an
        empty body (ZooKeeper's clients read one), and the connection closes."""
        if failed:
            rec = SetSASLResponse(None)
            self.reply(encode_reply(xid, 0, Err.AUTH_FAILED, rec, body_on_error=True))
            self.close_after_flush()
            return
        self.reply(encode_reply(xid, self.last_zxid(), 0, SetSASLResponse(token)))

    # --- output -----------------------------------------------------------------------------
    def send_text(self, text: str) -> None:
        """The answer to a four-letter word; the connection closes after it."""
        self.notify(text.encode())
        self.close_after_flush()

    def notify(self, frame: bytes) -> None:
        """Output that skips the reply queue: a watch notification, a stream's events
        (`ReplyQueue`), the handshake's answer; the queue's replies come out here too."""
        if self.state == CLOSED:
            return
        out = self._out
        out.append(frame)
        self.out_size += len(frame)
        if self.out_size + self.peer_backlog > self.hard_limit:
            self._overflow()
            return
        if len(out) == 1 and self.on_output is not None:
            self.on_output()

    def drain(self) -> list[bytes]:
        """The frames to write now (the caller owns the list); none while the gate of a
        read-write session says no (then `held` is True)."""
        out = self._out
        if not out:
            return out[:0]
        gate = self._gate
        if gate is not None:
            if not gate():
                self.held = True
                return out[:0]
            self.held = False
        self._out = []
        self.frames_out += len(out)
        self.out_size = 0
        return out

    def peer_paused(self, paused: bool) -> None:
        """The transport's buffer went above (True) or back below (False) its high mark."""
        self._peer_paused = paused

    def peer_buffered(self, nbytes: int) -> int:
        """How many written bytes the transport still holds (the peer has not read); called
        after each write. Returns what the host does next: ABORT (past the hard limit, or
        aborted before), CLOSE (close once written), PROCESS (requests held back by flow
        control can be taken now) or WAIT."""
        self.peer_backlog = nbytes
        state = self.state
        if state == CLOSED:
            return ABORT
        if self.out_size + nbytes > self.hard_limit:
            self._overflow()
            return ABORT
        if state == CLOSING:
            return CLOSE
        if self._inbox and not self._peer_paused and self.out_size <= self.high_water:
            return PROCESS
        return WAIT

    def _overflow(self) -> None:
        queued = self.out_size + self.peer_backlog
        self._abort(None, f"client does not read its replies ({queued} bytes queued)")

    # --- closing ------------------------------------------------------------------------------
    def close_after_flush(self) -> None:
        """No more requests; the host closes the socket once what is queued is written."""
        if self.state < CLOSING:
            self.state = CLOSING
            self._inbox.clear()
            if self.on_output is not None:
                self.on_output()

    @property
    def closing(self) -> bool:
        """True once the connection is to be closed (after a flush, or aborted)."""
        return self.state >= CLOSING

    def _abort(
        self, ev: ProtocolViolation | None, reason: str = "", wake: bool = True
    ) -> ProtocolViolation:
        if ev is None:
            ev = ProtocolViolation(reason)
        if self.abort_reason is None:
            self.abort_reason = ev.reason
        self.state = CLOSED
        self._inbox.clear()
        self._out = []
        self.out_size = 0
        self.queue.slots.clear()
        if wake and self.on_output is not None:
            self.on_output()
        return ev

    def abort(self, reason: str) -> None:
        """The host's own decision to drop the connection (nothing more goes out)."""
        self._abort(None, reason, wake=False)
