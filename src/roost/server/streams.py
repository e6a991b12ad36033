"""Watch-history streams: the server side of the roost extension (docs/client.md).

`StreamHub` owns the event history and the open streams. The server calls `record`
for every applied txn (the single place all members apply committed txns) and
`replayed` for each txn replayed on recovery; `open` answers a WATCH_HISTORY request
with the history after the requested zxid followed by the reply, and from then on
every applied change reaches the stream in the same loop turn as it is applied, so a
reply written later on the connection carries a zxid the stream is complete up to.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roost.server.history import Compacted, EventHistory, HistoryEvent, Limits, matches
from roost.server.txn import Kind, Txn, TxnResult
from roost.tree import DataTree
from roost.tree.acl import check_acl
from roost.wire.errors import Err
from roost.wire.jute import Reader
from roost.wire.opcodes import EventType, Op, Perm
from roost.wire.protocol import encode_history, encode_reply
from roost.wire.records import (
    HistoryEventRecord,
    SetACLRequest,
    WatchHistoryRequest,
    WatchHistoryResponse,
)

if TYPE_CHECKING:
    from roost.server.connection import Connection

log = logging.getLogger("roost.streams")

_READ = int(Perm.READ)
_WITH_DATA = (int(EventType.NODE_CREATED), int(EventType.NODE_DATA_CHANGED))
_ACL_CHANGED = int(EventType.NODE_ACL_CHANGED)


def events_of(tree: DataTree, txn: Txn, result: TxnResult) -> list[HistoryEvent]:
    """The history events of one applied txn: its watch events (creates, deletes, data
    and children changes, ephemerals removed at session end), with the node's data as
    of this zxid, plus an ACL change for a successful setACL."""
    out: list[HistoryEvent] = []
    for ev in result.events:
        data = None
        if ev.type in _WITH_DATA:
            node = tree.get(ev.path)
            data = node.data if node is not None else None
        out.append(HistoryEvent(ev.type, ev.path, data, ev.acl))
    if txn.kind is Kind.REQUEST and txn.op == Op.SET_ACL and result.err == 0:
        req = txn.request
        if not isinstance(req, SetACLRequest):
            req = SetACLRequest.read(Reader(txn.body))
        node = tree.get(req.path)
        if node is not None:
            out.append(HistoryEvent(_ACL_CHANGED, req.path, None, node.acl))
    return out


@dataclass(slots=True, eq=False)
class Stream:
    conn: Connection
    sid: int  # the id the client knows it by: the xid of its request
    path: str
    recursive: bool
    with_data: bool

    def frame(self, zxid: int, events: list[HistoryEvent]) -> bytes | None:
        auth = self.conn.auth
        out = [
            HistoryEventRecord(e.type, e.path, e.data if self.with_data else None)
            for e in events
            if matches(e, self.path, self.recursive)
            and (not e.acl or check_acl(e.acl, _READ, auth))
        ]
        return encode_history(self.sid, zxid, out) if out else None


class StreamHub:
    def __init__(self, limits: Limits) -> None:
        self.history = EventHistory(limits)
        self.by_conn: dict[Connection, dict[int, Stream]] = {}

    # --- feeding -------------------------------------------------------------------------
    def replayed(self, zxid: int, txn: Txn, result: TxnResult, tree: DataTree) -> None:
        """A txn replayed from the log while recovering (before any stream exists)."""
        self.history.append(zxid, txn.time_ms, events_of(tree, txn, result))

    def recovered(self, snapshot_zxid: int) -> None:
        """Recovery is over: the history holds the txns replayed after the snapshot at
        `snapshot_zxid`, and is complete from there."""
        h = self.history
        h.floor = max(h.floor, snapshot_zxid)
        h.last = max(h.last, h.floor)

    def reset(self, zxid: int) -> None:
        """A snapshot replaced the tree: the history starts at its zxid (the server drops
        every connection, so no stream survives)."""
        self.history.reset(zxid)

    def record(self, zxid: int, txn: Txn, result: TxnResult, tree: DataTree) -> None:
        events = events_of(tree, txn, result)
        h = self.history
        if zxid <= h.last:
            log.warning("history: txn 0x%x applied after 0x%x; history restarted", zxid, h.last)
            h.reset(zxid - 1)
        h.append(zxid, txn.time_ms, events)
        if events and self.by_conn:
            for streams in self.by_conn.values():
                for s in streams.values():
                    frame = s.frame(zxid, events)
                    if frame is not None:
                        s.conn.write_raw(frame)

    # --- streams -------------------------------------------------------------------------
    def open(self, conn: Connection, xid: int, req: WatchHistoryRequest, last: int) -> bytes:
        """The history frames after `req.sinceZxid` followed by the reply, as one blob;
        the stream is live from now on. `last` is the server's last applied zxid."""
        h = self.history
        if req.sinceZxid > last:
            return encode_reply(xid, last, Err.BAD_ARGUMENTS)
        try:
            groups = list(h.groups_after(req.sinceZxid))
        except Compacted as e:
            return encode_reply(xid, last, 0, WatchHistoryResponse(True, e.floor, last))
        s = Stream(conn, xid, req.path, req.recursive, req.withData)
        out = [f for g in groups if (f := s.frame(g.zxid, list(g.events))) is not None]
        self.by_conn.setdefault(conn, {})[xid] = s
        out.append(encode_reply(xid, last, 0, WatchHistoryResponse(False, h.floor, last)))
        return b"".join(out)

    def stop(self, conn: Connection, sid: int) -> None:
        streams = self.by_conn.get(conn)
        if streams is not None:
            streams.pop(sid, None)
            if not streams:
                del self.by_conn[conn]

    def drop(self, conn: Connection) -> None:
        self.by_conn.pop(conn, None)

    def count(self) -> int:
        return sum(len(s) for s in self.by_conn.values())
