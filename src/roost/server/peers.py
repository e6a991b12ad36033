"""Authenticated asyncio TCP transport between ensemble members.

Topology: every member dials every other member and *sends only* on the connection it dialed
(its outbound link); it *receives only* on connections it accepted (inbound links). So a pair of
members is joined by two TCP connections, one per direction, and there is no tie-break to get
wrong. Frames on one outbound link arrive in send order for as long as that connection lives.

Each new connection runs the mutual HMAC-SHA256 handshake described in
:mod:`roost.server.peerauth`. A connection that claims an unknown id, or fails the proof, is
closed and logged, and nothing it sends is delivered. An authenticated member that is not in
this member's configuration is told so (``refusal(peer)`` gives the configuration version to
name, or None to close without a reason); a dialer told so reports it through
``on_refused(peer, version)`` and keeps dialing (backed off) until its host drops the peer.
Frames are ``u32 length | u8 channel | payload``; a malformed or oversized frame closes that link
only.

The handshake keeps out processes that do not know the secret. It does not protect an
established connection from an attacker *on the network path*; use TLS (``ssl_server`` /
``ssl_client``) for that.

Liveness: ``on_peer_down(peer)`` fires as soon as either link with `peer` closes (EOF, reset,
protocol error) and ``on_peer_up(peer)`` when a handshake with `peer` completes; the two
alternate (a second closure while already down does not fire again).

All methods must be called from the thread running the transport's event loop.

Sending never blocks: frames are queued on the outbound link and written once per loop
iteration, or at once by ``flush()``. ``on_batch()``, if given, is called after the frames of
one read from a peer were delivered (a host can act on a batch of messages at once). If the
outbound link is not up the frame is dropped (``send`` returns False): raft tolerates loss,
and nothing is buffered for a member that is down. The bytes queued on one link are bounded
by ``max_queue_bytes``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from roost.server.peerauth import (
    ACCEPTED,
    HELLO,
    MAC_LEN,
    NOT_MEMBER,
    NOT_MEMBER_VERSION,
    ROLE_ACCEPTOR,
    ROLE_DIALER,
    FrameError,
    FrameParser,
    HandshakeError,
    NotMemberError,
    check_proof,
    decode_hello,
    encode_frame_header,
    encode_hello,
    new_nonce,
    proof,
)

log = logging.getLogger("roost.peers")

Address = tuple[str, int]
STABLE_LINK = 1.0  # seconds a link must live for the next reconnect to be immediate
MAX_HANDSHAKING = 64  # unauthenticated connections allowed at once


def _ignore(_peer: int) -> None:
    return None


def _ignore_refusal(_peer: int, _version: int) -> None:
    return None


class _Refused(Exception):
    """The dialer proved it is a member of the ensemble, but not of our configuration: it
    was told so (NOT_MEMBER) and the connection ends."""

    def __init__(self, peer: int, version: int) -> None:
        super().__init__(peer, version)
        self.peer = peer
        self.version = version


@dataclass(slots=True)
class PeerStats:
    """Counters for one peer. `connects` counts completed outbound handshakes."""

    bytes_sent: int = 0
    bytes_received: int = 0
    messages_sent: int = 0
    messages_received: int = 0
    dropped: int = 0
    connects: int = 0
    disconnects: int = 0
    handshake_failures: int = 0
    dial_failures: int = 0
    protocol_errors: int = 0
    #: dials the peer refused: its configuration does not have us
    refused: int = 0

    @property
    def reconnects(self) -> int:
        return max(0, self.connects - 1)


class _Link:
    """One authenticated connection with a peer, in one direction."""

    __slots__ = (
        "_flush_scheduled",
        "_loop",
        "_pending",
        "_pending_bytes",
        "closed",
        "outbound",
        "peer",
        "reader",
        "reported",
        "writer",
    )

    def __init__(
        self, peer: int, outbound: bool, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.peer = peer
        self.outbound = outbound
        self.reader = reader
        self.writer = writer
        self._loop = asyncio.get_running_loop()
        self.closed = False
        self.reported = False
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._flush_scheduled = False

    def queued_bytes(self) -> int:
        return self._pending_bytes + self.writer.transport.get_write_buffer_size()

    def queue(self, header: bytes, payload: bytes) -> None:
        self._pending.append(header)
        self._pending.append(payload)
        self._pending_bytes += len(header) + len(payload)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self.closed or not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        try:
            self.writer.write(data)
        except (OSError, RuntimeError) as exc:
            log.info("write to peer %d failed: %s", self.peer, exc)
            self.abort()

    def abort(self) -> None:
        """Close the connection now; the reader loop notices and reports the link down."""
        if self.closed:
            return
        self.closed = True
        self._pending.clear()
        self._pending_bytes = 0
        self.writer.transport.abort()


class _Inbound(asyncio.Protocol):
    """The receiving end of an inbound link once authenticated."""

    def __init__(self, transport: PeerTransport, link: _Link, parser: FrameParser) -> None:
        self.owner = transport
        self.link = link
        self.parser = parser
        self.stats = transport.stats[link.peer]
        self.why = "closed by peer"
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        link, owner = self.link, self.owner
        if link.closed:
            return
        self.stats.bytes_received += len(data)
        try:
            frames = self.parser.feed(data)
        except FrameError as exc:
            self.stats.protocol_errors += 1
            self.why = f"bad frame: {exc}"
            log.warning("member %d: peer %d sent a bad frame: %s", owner.my_id, link.peer, exc)
            self._finish()
            return
        for channel, payload in frames:
            self.stats.messages_received += 1
            owner._deliver(link, channel, payload)
        if owner._on_batch is not None and not link.closed:
            owner._batch_done()

    def eof_received(self) -> bool:
        self._finish()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and self.why == "closed by peer":
            self.why = f"error: {exc!r}"
        self._finish()

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)


def _tune_socket(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)


class PeerTransport:
    """Sends opaque payloads to, and receives them from, the other ensemble members."""

    def __init__(
        self,
        my_id: int,
        listen: Address,
        peers: dict[int, Address],
        secret: bytes,
        on_message: Callable[[int, int, bytes], None],
        on_peer_down: Callable[[int], None] = _ignore,
        on_peer_up: Callable[[int], None] = _ignore,
        on_batch: Callable[[], None] | None = None,
        max_frame: int = 64 * 1024 * 1024,
        ssl_server: ssl.SSLContext | None = None,
        ssl_client: ssl.SSLContext | None = None,
        *,
        max_queue_bytes: int = 16 * 1024 * 1024,
        handshake_timeout: float = 5.0,
        backoff_min: float = 0.05,
        backoff_max: float = 2.0,
        rng: random.Random | None = None,
        refusal: Callable[[int], int | None] | None = None,
        on_refused: Callable[[int, int], None] = _ignore_refusal,
    ) -> None:
        if not secret:
            raise ValueError("the peer secret must not be empty")
        if my_id <= 0:
            raise ValueError("member ids are positive integers")
        self.my_id = my_id
        self.listen = listen
        self.port = listen[1]
        self._peers = {p: a for p, a in peers.items() if p != my_id}
        self._secret = secret
        self._on_message = on_message
        self._on_peer_down = on_peer_down
        self._on_peer_up = on_peer_up
        self._on_batch = on_batch
        self.max_frame = max_frame
        self.max_queue_bytes = max_queue_bytes
        self._ssl_server = ssl_server
        self._ssl_client = ssl_client
        self._handshake_timeout = handshake_timeout
        self._backoff_min = backoff_min
        self._backoff_max = backoff_max
        self._rng = rng if rng is not None else random.Random()
        self._refusal = refusal
        self._on_refused = on_refused
        #: per peer, the configuration version it last refused us with (logged once each)
        self._refused_with: dict[int, int] = {}
        self.stats: dict[int, PeerStats] = {p: PeerStats() for p in self._peers}
        self.auth_failures = 0
        self._out: dict[int, _Link] = {}
        self._in: dict[int, _Link] = {}
        self._up: set[int] = set()
        self._dialers: dict[int, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._handshaking: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._closing = False

    # -- public API --------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen, and start dialing every peer. Returns once listening."""
        self._server = await asyncio.start_server(
            self._accepted, self.listen[0], self.listen[1], ssl=self._ssl_server
        )
        self.port = self._server.sockets[0].getsockname()[1]
        for peer in self._peers:
            self._start_dialer(peer)

    def send(self, to: int, channel: int, payload: bytes) -> bool:
        """Queue `payload` for `to`; False (and nothing queued) if it was dropped. Never raises."""
        link = self._out.get(to)
        st = self.stats.get(to)
        if st is None:
            return False
        if link is None or link.closed or not 0 <= channel <= 255:
            st.dropped += 1
            return False
        size = len(payload)
        if size > self.max_frame:
            log.error("dropping %d-byte message to peer %d: over max_frame", size, to)
            st.dropped += 1
            return False
        queued = link.queued_bytes()
        if queued and queued + size > self.max_queue_bytes:
            st.dropped += 1
            return False
        link.queue(encode_frame_header(channel, size), payload)
        st.messages_sent += 1
        st.bytes_sent += size + 5
        return True

    def flush(self) -> None:
        """Write what is queued on every outbound link now, instead of at the next turn of
        the event loop (call it after a batch of sends)."""
        for link in self._out.values():
            if link._pending:
                link._flush()

    def connected(self, peer: int) -> bool:
        """True while the outbound link to `peer` is authenticated (so `send` can queue)."""
        link = self._out.get(peer)
        return link is not None and not link.closed

    def is_up(self, peer: int) -> bool:
        """The state last reported through on_peer_up / on_peer_down."""
        return peer in self._up

    @property
    def peers(self) -> dict[int, Address]:
        return dict(self._peers)

    def update_peers(self, peers: dict[int, Address]) -> None:
        """Adopt a new membership: dial new members, drop removed ones, re-dial moved ones."""
        new = {p: a for p, a in peers.items() if p != self.my_id}
        for peer, addr in list(self._peers.items()):
            if peer not in new or new[peer] != addr:
                self._forget_outbound(peer)
            if peer not in new:
                inbound = self._in.pop(peer, None)
                if inbound is not None:
                    inbound.abort()
                self._mark_down(peer)
        old = self._peers
        self._peers = new
        for peer, addr in new.items():
            self.stats.setdefault(peer, PeerStats())
            if (old.get(peer) != addr or peer not in self._dialers) and self._server is not None:
                self._start_dialer(peer)

    async def close(self) -> None:
        """Stop listening and dialing, and close every link."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        for link in [*self._out.values(), *self._in.values()]:
            link.abort()
        for writer in self._handshaking:
            writer.transport.abort()
        dialers = list(self._dialers.values())
        for task in dialers:
            task.cancel()
        # Accepted-connection tasks are not cancelled (asyncio 3.11 logs an error for that);
        # aborting their transports above makes them finish on their own.
        await asyncio.gather(*dialers, *self._tasks, return_exceptions=True)
        self._dialers.clear()
        self._out.clear()
        self._in.clear()
        self._up.clear()
        if self._server is not None:
            await self._server.wait_closed()

    # -- up/down reporting -------------------------------------------------------------------

    def _mark_up(self, peer: int) -> None:
        if peer in self._up or self._closing:
            return
        self._up.add(peer)
        self._call(self._on_peer_up, peer)

    def _mark_down(self, peer: int) -> None:
        if peer not in self._up:
            return
        self._up.discard(peer)
        if not self._closing:
            self._call(self._on_peer_down, peer)

    def _call(self, fn: Callable[[int], None], peer: int) -> None:
        try:
            fn(peer)
        except Exception:
            log.exception("peer callback failed for peer %d", peer)

    def _link_closed(self, link: _Link, why: str) -> None:
        link.abort()
        if link.reported:
            return
        link.reported = True
        table = self._out if link.outbound else self._in
        if table.get(link.peer) is link:
            del table[link.peer]
        st = self.stats.get(link.peer)
        if st is not None:
            st.disconnects += 1
        direction = "outbound" if link.outbound else "inbound"
        log.info("member %d: %s link with %d closed: %s", self.my_id, direction, link.peer, why)
        self._mark_down(link.peer)

    # -- dialing -----------------------------------------------------------------------------

    def _start_dialer(self, peer: int) -> None:
        old = self._dialers.pop(peer, None)
        if old is not None:
            old.cancel()
        self._dialers[peer] = asyncio.get_running_loop().create_task(self._dial_loop(peer))

    def _forget_outbound(self, peer: int) -> None:
        task = self._dialers.pop(peer, None)
        if task is not None:
            task.cancel()
        link = self._out.pop(peer, None)
        if link is not None:
            link.abort()

    async def _dial_loop(self, peer: int) -> None:
        delay = 0.0  # backoff after failed dials
        flaps = 0  # consecutive links that died young
        loop = asyncio.get_running_loop()
        while not self._closing and peer in self._peers:
            link = await self._try_dial(peer, self._peers[peer])
            if link is None:
                delay = min(self._backoff_max, max(self._backoff_min, delay * 2))
                await asyncio.sleep(delay * self._rng.uniform(0.5, 1.0))
                continue
            delay = 0.0
            born = loop.time()
            await self._run_outbound(link)
            # The first retry after a healthy link drops is immediate; a peer that keeps
            # accepting and then dropping us is backed off like a failed dial.
            flaps = flaps + 1 if loop.time() - born < STABLE_LINK else 0
            if flaps:
                pause = min(self._backoff_max, self._backoff_min * 2 ** min(flaps - 1, 16))
                await asyncio.sleep(pause * self._rng.uniform(0.5, 1.0))

    async def _try_dial(self, peer: int, addr: Address) -> _Link | None:
        writer: asyncio.StreamWriter | None = None
        ok = False
        try:
            async with asyncio.timeout(self._handshake_timeout):
                reader, writer = await asyncio.open_connection(
                    addr[0], addr[1], ssl=self._ssl_client
                )
                _tune_socket(writer)
                await self._dialer_handshake(peer, reader, writer)
            ok = True
            self._refused_with.pop(peer, None)
            return _Link(peer, True, reader, writer)
        except NotMemberError as exc:
            self._refused(peer, addr, exc.version)
        except HandshakeError as exc:
            self._auth_failed(peer, f"handshake with {addr} failed: {exc}")
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
            self.stats[peer].dial_failures += 1
            log.debug("member %d: dial %d at %s failed: %r", self.my_id, peer, addr, exc)
        finally:
            if not ok and writer is not None:
                writer.transport.abort()
        return None

    async def _dialer_handshake(
        self, peer: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        nonce_d = new_nonce()
        writer.write(encode_hello(self.my_id, nonce_d))
        hello = decode_hello(await reader.readexactly(HELLO.size))
        if hello.member_id != peer:
            raise HandshakeError(f"expected member {peer}, reached member {hello.member_id}")
        mac_a = await reader.readexactly(MAC_LEN)
        args = (self.my_id, peer, nonce_d, hello.nonce)
        check_proof(proof(self._secret, ROLE_ACCEPTOR, *args), mac_a)
        writer.write(proof(self._secret, ROLE_DIALER, *args))
        answer = await reader.readexactly(1)
        if answer == NOT_MEMBER:
            raw = await reader.readexactly(NOT_MEMBER_VERSION.size)
            raise NotMemberError(NOT_MEMBER_VERSION.unpack(raw)[0])
        if answer != ACCEPTED:
            raise HandshakeError("peer did not accept the handshake")

    def _refused(self, peer: int, addr: Address, version: int) -> None:
        self.stats[peer].refused += 1
        if self._refused_with.get(peer) != version:
            self._refused_with[peer] = version
            log.info(
                "member %d: member %d at %s refused the link: its configuration 0x%x does not "
                "have us", self.my_id, peer, addr, version,
            )
        try:
            self._on_refused(peer, version)
        except Exception:
            log.exception("on_refused failed for peer %d", peer)

    async def _run_outbound(self, link: _Link) -> None:
        if self._closing or self._peers.get(link.peer) is None:
            link.abort()
            return
        self._out[link.peer] = link
        self.stats[link.peer].connects += 1
        log.info("member %d: connected to peer %d", self.my_id, link.peer)
        self._mark_up(link.peer)
        why = "closed by peer"
        try:
            # The accepting side never sends after the handshake; anything it sends is an error.
            data = await link.reader.read(1)
            if data:
                why = "peer sent data on a send-only link"
                self.stats[link.peer].protocol_errors += 1
        except (OSError, ssl.SSLError) as exc:
            why = f"error: {exc!r}"
        finally:
            self._link_closed(link, why)

    # -- accepting ---------------------------------------------------------------------------

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve_inbound(reader, writer)
        except Exception:
            log.exception("member %d: inbound connection failed", self.my_id)
            writer.transport.abort()
        finally:
            self._tasks.discard(task)

    async def _serve_inbound(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        _tune_socket(writer)
        remote = writer.get_extra_info("peername")
        if self._closing or len(self._handshaking) >= MAX_HANDSHAKING:
            log.warning("member %d: refusing connection from %s", self.my_id, remote)
            writer.transport.abort()
            return
        self._handshaking.add(writer)
        try:
            async with asyncio.timeout(self._handshake_timeout):
                peer = await self._acceptor_handshake(reader, writer)
        except _Refused as r:
            log.info(
                "member %d: refused member %d at %s: not in our configuration 0x%x",
                self.my_id, r.peer, remote, r.version,
            )
            await self._close_after_flush(writer)
            return
        except HandshakeError as exc:
            self.auth_failures += 1
            log.warning("member %d: rejected connection from %s: %s", self.my_id, remote, exc)
            writer.transport.abort()
            return
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
            log.info("member %d: handshake from %s failed: %r", self.my_id, remote, exc)
            writer.transport.abort()
            return
        finally:
            self._handshaking.discard(writer)
        if self._closing:
            writer.transport.abort()
            return
        old = self._in.get(peer)
        link = _Link(peer, False, reader, writer)
        self._in[peer] = link
        if old is not None:
            self._link_closed(old, "replaced by a new connection")
        self._mark_up(peer)
        await self._read_inbound(link)

    async def _acceptor_handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> int:
        hello = decode_hello(await reader.readexactly(HELLO.size))
        peer = hello.member_id
        version = None
        if peer not in self._peers:
            version = self._outsider(peer)
            if version is None:
                raise HandshakeError(f"unknown member id {peer}")
        nonce_a = new_nonce()
        args = (peer, self.my_id, hello.nonce, nonce_a)
        writer.write(encode_hello(self.my_id, nonce_a) + proof(self._secret, ROLE_ACCEPTOR, *args))
        mac_d = await reader.readexactly(MAC_LEN)
        try:
            check_proof(proof(self._secret, ROLE_DIALER, *args), mac_d)
        except HandshakeError:
            st = self.stats.get(peer)
            if st is not None:
                st.handshake_failures += 1
            raise
        if version is not None:  # a member, but not of our configuration: say so
            writer.write(NOT_MEMBER + NOT_MEMBER_VERSION.pack(version))
            raise _Refused(peer, version)
        writer.write(ACCEPTED)
        return peer

    def _outsider(self, peer: int) -> int | None:
        """The configuration version to refuse `peer` with, or None (close without a
        reason: our own id, or the host has no say)."""
        if peer == self.my_id or self._refusal is None:
            return None
        try:
            return self._refusal(peer)
        except Exception:
            log.exception("refusal failed for peer %d", peer)
            return None

    async def _close_after_flush(self, writer: asyncio.StreamWriter) -> None:
        """Close gracefully (what was written goes out first), within a second."""
        writer.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await writer.wait_closed()
        writer.transport.abort()

    async def _read_inbound(self, link: _Link) -> None:
        """Deliver the link's frames until it closes. The stream's transport is handed to a
        plain protocol: each read is parsed and delivered in the transport's own callback,
        with no loop turn through a stream reader and a task."""
        proto = _Inbound(self, link, FrameParser(self.max_frame))
        # (nothing is buffered: the dialer sends no frame before our ACCEPTED, and no
        # await came between writing it and this point)
        leftover = bytes(getattr(link.reader, "_buffer", b""))
        link.writer.transport.set_protocol(proto)
        if leftover:
            proto.data_received(leftover)
        await proto.done
        self._link_closed(link, proto.why)

    def _batch_done(self) -> None:
        assert self._on_batch is not None
        try:
            self._on_batch()
        except Exception:
            log.exception("on_batch failed")

    def _deliver(self, link: _Link, channel: int, payload: bytes) -> None:
        if link.closed:
            return
        try:
            self._on_message(link.peer, channel, payload)
        except Exception:
            log.exception("on_message failed for a message from peer %d", link.peer)

    # -- helpers -----------------------------------------------------------------------------

    def _count_failure(self, peer: int) -> None:
        self.auth_failures += 1
        st = self.stats.get(peer)
        if st is not None:
            st.handshake_failures += 1

    def _auth_failed(self, peer: int, why: str) -> None:
        self._count_failure(peer)
        log.warning("member %d: %s", self.my_id, why)
