"""The session handshake: what a ConnectRequest does to the sessions (create one, reattach
to one, a local session on a member without a leader). The wire rules (the zxid-ahead
refusal, the read-only flag, the "expired" answer) are `roost.wire.session`'s."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from roost.replica.state import LOST
from roost.server import clock
from roost.server.clock import now_ms
from roost.server.host import ServerHost
from roost.tree.txn import Kind, Txn, TxnResult
from roost.wire.records import ConnectRequest
from roost.wire.session import negotiate_timeout

if TYPE_CHECKING:
    from roost.replica.sessions import Sessions
    from roost.server.connection import Connection

log = logging.getLogger("roost.server")


class HandshakeHost(ServerHost, Protocol):
    """What the handshake needs of the server (`roost.server.core.Server`)."""

    @property
    def sessions(self) -> Sessions: ...
    @property
    def by_session(self) -> dict[int, Connection]:
        """The connection of each session bound here."""
    @property
    def serving(self) -> bool: ...
    @property
    def partitioned(self) -> bool: ...
    def touch(self, session_id: int) -> None: ...
    def hold(
        self, conn: Connection, sid: int, timeout_ms: int, answer: Callable[[], None],
        give_up: float | None = None,
    ) -> float: ...


def handle_connect(server: HandshakeHost, conn: Connection, req: ConnectRequest) -> None:
    proto = conn.proto
    assert server.log is not None
    if not server.serving:
        reason = "storage failed" if server.log.failed else "not a member of the ensemble"
        log.info("%s: refusing connection from %s", reason, conn.ip)
        conn.abort()
        return
    read_only = server.partitioned
    why = proto.check_connect(server.tree.last_zxid, read_only)
    if why is not None:
        log.warning("refusing session 0x%x from %s: %s", req.sessionId, conn.ip, why)
        conn.abort()
        return
    cfg = server.config
    timeout = negotiate_timeout(req.timeOut, cfg.min_session_timeout, cfg.max_session_timeout)
    if read_only:
        _connect_read_only(server, conn, req, timeout)
        return
    if req.sessionId == 0:
        sid, passwd = server.sessions.new_id(), new_password()
        txn = Txn(Kind.CREATE_SESSION, sid, now_ms(), (), 0, passwd, timeout)
        asked = clock.monotonic()

        def created(zxid: int, result: TxnResult) -> None:
            if result is LOST:
                conn.abort()
                return
            bind(server, conn, sid, passwd, timeout)
            # the commit is the leader's grant: it started the session's deadline when it
            # applied the txn, after we asked (a newer leader restarts every deadline)
            server.sessions.grant((sid,), asked)
            conn.resume()  # the requests that came behind the handshake

        server.log.propose(txn, created, abandoned=lambda: conn.closed)
        return
    other = server.by_session.get(req.sessionId)
    if other is not None and other is not conn:
        other.abort()
    info = server.tree.sessions.get(req.sessionId)
    verdict = server.sessions.reattach(req.sessionId, info, req.passwd)
    if verdict == "wait":  # closing here, outcome unknown: the client tries again
        conn.abort()
        return
    if info is None or verdict == "expired":
        proto.session_expired()
        return
    sid, passwd = req.sessionId, info.passwd
    if server.log.may_answer(sid):
        bind(server, conn, sid, passwd, timeout)
        return
    # this member may lag behind an expiry: as ZooKeeper's followers revalidate a session
    # with the leader, the reattach is answered once a leader confirms the session alive
    # (the requests behind the handshake wait in the protocol object)
    server.touch(sid)

    def confirmed() -> None:
        bind(server, conn, sid, passwd, timeout)
        conn.resume()

    server.hold(conn, sid, timeout, confirmed)


def new_password() -> bytes:
    """A new session's password (16 random bytes)."""
    return secrets.token_bytes(16)


def _connect_read_only(
    server: HandshakeHost, conn: Connection, req: ConnectRequest, timeout: int
) -> None:
    """This member has no leader: a client that accepts a read-only server gets in."""
    info = server.tree.sessions.get(req.sessionId)
    if info is not None and info.passwd == req.passwd:
        sid, passwd = req.sessionId, info.passwd
    else:  # a local session, never replicated
        sid, passwd = server.sessions.new_id(), new_password()
    bind(server, conn, sid, passwd, timeout, read_only=True)


def bind(
    server: HandshakeHost,
    conn: Connection,
    sid: int,
    passwd: bytes,
    timeout: int,
    read_only: bool = False,
) -> None:
    if conn.closed:
        return
    conn.handshaken = True
    conn.session_id = sid
    conn.timeout_ms = timeout
    server.by_session[sid] = conn
    server.sessions.set_timeout(sid, timeout, clock.monotonic())
    conn.proto.connected(sid, passwd, timeout, read_only)
