"""Requests on a client connection: the server's answer to each event of
`roost.wire.session.ClientProtocol` after the handshake (reads, writes through the log,
sync, reconfig, closeSession, watch-history streams)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Protocol

from roost.replica.membership import ReconfigError, parse_zk_reconfig
from roost.replica.state import LOST
from roost.server.auth import auth_packet, sasl_step
from roost.server.clock import now_ms
from roost.server.handshake import HandshakeHost, handle_connect
from roost.server.reads import READS, ReadHost
from roost.tree.txn import Kind, Txn, TxnResult
from roost.wire.errors import Err
from roost.wire.opcodes import Op, Perm
from roost.wire.protocol import encode_reply
from roost.wire.records import (
    GetDataResponse,
    ReconfigRequest,
    Record,
    StopWatchHistoryRequest,
    SyncRequest,
    SyncResponse,
    WatchHistoryRequest,
)
from roost.wire.session import (
    WRITE_OPS,
    Auth,
    CloseSession,
    Connect,
    Event,
    FourLetterWord,
    Ping,
    Refused,
    Request,
    Sasl,
)

if TYPE_CHECKING:
    from roost.server.connection import Connection
    from roost.server.stats import Stats
    from roost.server.streams import StreamHub

log = logging.getLogger("roost.server")


class RequestHost(HandshakeHost, ReadHost, Protocol):
    """What the request pipeline needs of the server (`roost.server.core.Server`): the
    handshake's and the reads' needs, and these."""

    @property
    def stats(self) -> Stats: ...
    @property
    def streams(self) -> StreamHub: ...
    @property
    def linearizable(self) -> bool:
        """Whether reads wait for a ReadIndex round."""
    def four_letter(self, cmd: str) -> str: ...

#: opcodes that become txns
WRITES = WRITE_OPS
#: reads that go through a ReadIndex round when linearizable_reads is on
LINEARIZABLE_READS = frozenset(
    {
        Op.EXISTS,
        Op.GET_DATA,
        Op.GET_CHILDREN,
        Op.GET_CHILDREN2,
        Op.GET_ACL,
        Op.GET_ALL_CHILDREN_NUMBER,
        Op.MULTI_READ,
    }
)
CONFIG_NODE = "/zookeeper/config"
_SYNC = int(Op.SYNC)  # (a plain int: compared on every request, an enum lookup is not free)
_REQUEST = Kind.REQUEST  # (likewise: a module global, not an enum class attribute per write)


def handle_event(server: RequestHost, conn: Connection, ev: Event) -> int:
    """Everything but a plain request; returns 1 if it counts as the session's activity."""
    if type(ev) is Ping:
        server.stats.requests[Op.PING & 0xFF] += 1
        conn.last_op = "PING"
        return 1
    if type(ev) is Connect:
        handle_connect(server, conn, ev.request)
        return 0
    if type(ev) is Auth:
        server.stats.requests[Op.AUTH & 0xFF] += 1
        conn.last_op = "SASL"
        auth_packet(server.config, conn, ev)
        return 1
    if type(ev) is Sasl:
        server.stats.requests[Op.SASL & 0xFF] += 1
        _count(conn, ev.xid)
        sasl_step(server.config, conn, ev)
        return 1
    if type(ev) is CloseSession:
        server.stats.requests[Op.CLOSE_SESSION & 0xFF] += 1
        conn.last_op = "CLOS"
        _count(conn, ev.xid)
        _close_session(server, conn, ev.xid)
        return 1
    if type(ev) is Refused:
        if ev.err == Err.UNIMPLEMENTED:
            log.info("unknown opcode %d from %s: closing", ev.op, conn.ip)
        else:
            log.info("request refused from %s: %s", conn.ip, ev.reason)
        return 1
    if type(ev) is FourLetterWord:
        conn.proto.send_text(server.four_letter(ev.cmd))
    return 0


def _count(conn: Connection, xid: int) -> None:
    if xid > 0:
        conn.last_cxid = xid


def dispatch(server: RequestHost, conn: Connection, ev: Request) -> None:
    xid, op, req = ev.xid, ev.op, ev.record
    server.stats.requests[op & 0xFF] += 1
    conn.last_op = _OP_NAMES.get(op, "NA")
    if xid > 0:
        conn.last_cxid = xid
    if op in WRITES:
        _write(server, conn, xid, op, ev.body, req)
        return
    log_ = server.log
    assert log_ is not None
    if op == _SYNC and log_.ensemble:
        _sync(server, conn, xid, req)
        return
    handler = READS.get(op)
    proto = conn.proto
    auth = proto.auth
    if handler is not None:
        linearizable = server.linearizable and op in LINEARIZABLE_READS
        # latency from the arrival of the batch of requests this one came in
        if not proto.queue.slots and not linearizable:
            proto.notify(handler(server, conn, xid, req, auth))  # nothing queued ahead
            server.stats.read_seconds[op & 0xFF].observe(time.monotonic() - conn.batch_started)
            return
        hist = server.stats.read_seconds[op & 0xFF]
        started = conn.batch_started

        def answer() -> bytes:
            out = handler(server, conn, xid, req, auth)
            hist.observe(time.monotonic() - started)
            return out

        if linearizable:
            slot = conn.reserve()
            log_.barrier(lambda: conn.complete(slot, answer()), conn.abort)
        else:  # answered in turn, after the writes queued ahead of it
            conn.reply_later(answer)
        return
    if op == Op.WATCH_HISTORY:
        assert isinstance(req, WatchHistoryRequest)
        conn.reply_later(lambda: server.streams.open(conn, xid, req, server.tree.last_zxid))
    elif op == Op.STOP_WATCH_HISTORY:
        assert isinstance(req, StopWatchHistoryRequest)
        server.streams.stop(conn, req.streamId)
        conn.reply_later(lambda: encode_reply(xid, server.tree.last_zxid, 0))
    elif op == Op.RECONFIG:
        assert isinstance(req, ReconfigRequest)
        _reconfig(server, conn, xid, req)


def _write(
    server: RequestHost, conn: Connection, xid: int, op: int, body: bytes, req: Record
) -> None:
    sid = conn.session_id
    log_ = server.log
    assert log_ is not None
    tree = log_.tree
    if sid in server.sessions.closing or sid not in tree.sessions:
        conn.reply(encode_reply(xid, tree.last_zxid, Err.SESSION_EXPIRED))
        return
    slot = conn.reserve()
    started = time.monotonic()
    txn = Txn(_REQUEST, sid, now_ms(), conn.proto.auth, op, body[8:], request=req)

    def done(zxid: int, res: TxnResult) -> None:
        if res is LOST:
            server.stats.writes_lost += 1
            conn.abort()
            return
        conn.last_zxid = zxid
        server.stats.write(op, conn.record_latency(started))
        conn.complete(slot, encode_reply(xid, zxid, res.err, res.record))

    log_.propose(txn, done, abandoned=conn.abandoned)


def _sync(server: RequestHost, conn: Connection, xid: int, req: Record) -> None:
    """sync: answer once this member has applied all that was committed when it came."""
    assert server.log is not None and isinstance(req, SyncRequest)
    slot = conn.reserve()
    path = req.path
    server.log.barrier(
        lambda: conn.complete(
            slot, encode_reply(xid, server.tree.last_zxid, 0, SyncResponse(path))
        ),
        conn.abort,
    )


def _reconfig(server: RequestHost, conn: Connection, xid: int, req: ReconfigRequest) -> None:
    """ZooKeeper's incremental reconfig: add or remove ensemble members."""
    tree = server.tree
    zxid = tree.last_zxid
    log_ = server.log
    assert log_ is not None
    if not log_.ensemble:
        conn.reply(encode_reply(xid, zxid, Err.RECONFIG_DISABLED))
        return
    node = tree.get(CONFIG_NODE)
    if node is None or not tree.check_acl(node, Perm.WRITE, conn.auth):
        conn.reply(encode_reply(xid, zxid, Err.NO_AUTH))
        return
    try:
        change = parse_zk_reconfig(
            req.joiningServers,
            req.leavingServers,
            req.newMembers,
            log_.members,
            req.curConfigId,
        )
    except ReconfigError as e:
        log.info("reconfig from %s refused: %s", conn.ip, e)
        conn.reply(encode_reply(xid, zxid, Err.BAD_ARGUMENTS))
        return
    slot = conn.reserve()

    def done(zxid: int, res: TxnResult) -> None:
        if res is LOST:
            conn.abort()
            return
        cfg_node = server.tree.get(CONFIG_NODE)
        rec = None
        if res.err == 0 and cfg_node is not None:
            rec = GetDataResponse(log_.config_text(), server.tree.stat(cfg_node))
        conn.complete(slot, encode_reply(xid, zxid, res.err, rec))

    log_.propose(Txn(Kind.RECONFIG, conn.session_id, now_ms(), body=change.to_bytes()), done)


def _close_session(server: RequestHost, conn: Connection, xid: int) -> None:
    sid = conn.session_id
    assert server.log is not None
    if sid in server.sessions.closing or sid not in server.tree.sessions:
        conn.reply(encode_reply(xid, server.tree.last_zxid, 0))
        conn.close_after_flush()
        return
    server.sessions.closing.add(sid)
    conn.closing_session = True
    slot = conn.reserve()

    def done(zxid: int, res: TxnResult) -> None:
        if res is LOST:
            conn.abort()
            return
        conn.complete(slot, encode_reply(xid, zxid, 0))
        conn.close_after_flush()

    server.log.propose(Txn(Kind.CLOSE_SESSION, sid, now_ms()), done)


_OP_NAMES: dict[int, str] = {
    Op.CREATE: "CREA",
    Op.CREATE2: "CREA",
    Op.CREATE_CONTAINER: "CREA",
    Op.CREATE_TTL: "CREA",
    Op.DELETE: "DELE",
    Op.EXISTS: "EXIS",
    Op.GET_DATA: "GETD",
    Op.SET_DATA: "SETD",
    Op.GET_ACL: "GETA",
    Op.SET_ACL: "SETA",
    Op.GET_CHILDREN: "GETC",
    Op.GET_CHILDREN2: "GETC",
    Op.SYNC: "SYNC",
    Op.PING: "PING",
    Op.MULTI: "MULT",
    Op.MULTI_READ: "MLTR",
    Op.AUTH: "SASL",
    Op.CLOSE_SESSION: "CLOS",
    Op.SET_WATCHES: "SETW",
    Op.SET_WATCHES2: "SETW",
    Op.ADD_WATCH: "ADDW",
    Op.CHECK: "CHEC",
    Op.WATCH_HISTORY: "WHIS",
    Op.STOP_WATCH_HISTORY: "WHIS",
}
