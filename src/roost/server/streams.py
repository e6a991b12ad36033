"""Watch-history streams: the server side of the roost extension (docs/client.md).

`StreamHub` owns the event history and the open streams. The server calls `record`
for every applied txn (the single place all members apply committed txns) and
`replayed` for each txn replayed on recovery; `image` gives the history to save with a
snapshot and `restore` puts a snapshot's history in place (at start-up, or when a
member installs a leader's snapshot); `open` answers a WATCH_HISTORY request
with the history after the requested zxid followed by the reply, and from then on
every applied change reaches the stream in the same loop turn as it is applied, so a
reply written later on the connection carries a zxid the stream is complete up to.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roost.server.history import (
    Compacted,
    EventHistory,
    HistoryEvent,
    HistoryImageError,
    Limits,
    decode,
    encode,
    matches,
)
from roost.server.watches import ancestors
from roost.tree import DataTree, is_valid_path
from roost.tree.acl import check_acl
from roost.tree.txn import Kind, Txn, TxnResult
from roost.wire.errors import Err
from roost.wire.jute import Reader
from roost.wire.opcodes import EventType, Op, Perm
from roost.wire.protocol import encode_history, encode_reply
from roost.wire.records import (
    HistoryEventRecord,
    Id,
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
_CHILDREN = int(EventType.NODE_CHILDREN_CHANGED)
_SET_ACL = int(Op.SET_ACL)
_REQUEST = Kind.REQUEST


def events_of(tree: DataTree, txn: Txn, result: TxnResult) -> list[HistoryEvent]:
    """The history events of one applied txn: its watch events (creates, deletes, data
    and children changes, ephemerals removed at session end), with the node's data as
    of this zxid, plus an ACL change for a successful setACL."""
    out: list[HistoryEvent] = []
    nodes = tree.nodes
    for ev in result.events:
        data = None
        if ev.type in _WITH_DATA:
            node = nodes.get(ev.path)
            data = node.data if node is not None else None
        out.append(HistoryEvent(ev.type, ev.path, data, ev.acl))
    if txn.op == _SET_ACL and txn.kind is _REQUEST and result.err == 0:
        req = txn.request
        if not isinstance(req, SetACLRequest):
            req = SetACLRequest.read(Reader(txn.body))
        node = tree.get(req.path)
        if node is not None:
            out.append(HistoryEvent(_ACL_CHANGED, req.path, None, node.acl))
    return out


#: where a stream's events go: the matching, readable events of one zxid
Sink = Callable[[int, list[HistoryEvent]], None]


@dataclass(slots=True, eq=False)
class Stream:
    owner: object  # what `drop` forgets it by (a client connection, an HTTP request)
    sid: int  # its id for the owner (on the wire: the xid of the request that opened it)
    path: str
    recursive: bool
    auth: Callable[[], tuple[Id, ...]]  # the owner's identities now
    send: Sink
    #: the stream cannot go on without a gap (a snapshot installed under it starts its
    #: history after what the stream has seen): it is dropped, then this is called with
    #: the new floor (the owner ends the stream; its client resumes and is told compacted)
    lost: Callable[[int], None] = lambda floor: None

    def readable(self, events: Iterable[HistoryEvent]) -> list[HistoryEvent]:
        auth = self.auth()
        return [e for e in events if not e.acl or check_acl(e.acl, _READ, auth)]

    def select(self, events: Iterable[HistoryEvent]) -> list[HistoryEvent]:
        return self.readable(e for e in events if matches(e, self.path, self.recursive))


def wire_sink(conn: Connection, sid: int, with_data: bool) -> Sink:
    """Frames of the roost extension on a client connection."""

    def send(zxid: int, events: list[HistoryEvent]) -> None:
        recs = [HistoryEventRecord(e.type, e.path, e.data if with_data else None) for e in events]
        conn.write_raw(encode_history(sid, zxid, recs))

    return send


class StreamHub:
    def __init__(self, limits: Limits) -> None:
        self.history = EventHistory(limits)
        self.by_conn: dict[object, dict[int, Stream]] = {}
        # live streams by path: non-recursive ones, and recursive ones by their subtree's
        # root (dicts as insertion-ordered sets), so that applying a txn costs what its
        # events' paths and ancestors hold, not what the whole server streams
        self._exact: dict[str, dict[Stream, None]] = {}
        self._subtree: dict[str, dict[Stream, None]] = {}

    # --- feeding -------------------------------------------------------------------------
    def replayed(self, zxid: int, txn: Txn, result: TxnResult, tree: DataTree) -> None:
        """A txn replayed from the log while recovering (before any stream exists)."""
        self.history.append(zxid, tree.last_time_ms, events_of(tree, txn, result))

    def image(self, index: int) -> bytes:
        """The history to save with a snapshot at `index` (every txn up to it applied). A
        history past `index` (never expected) is saved as it is, never failing the
        snapshot: loading it then starts the history at the snapshot (see `restore`)."""
        return encode(self.history, max(index, self.history.last))

    def restore(self, image: bytes | None, index: int) -> None:
        """A snapshot at `index` was loaded (start-up) or installed (from the leader): its
        history replaces ours; None (a snapshot written before histories were saved) or
        an unreadable image starts the history at `index`. Live streams get what they
        missed from the new history, or are dropped (`Stream.lost`) if it starts too late."""
        old = self.history
        new: EventHistory | None = None
        if image is not None:
            try:
                new = decode(image, old.limits)
                if new.last != index:
                    raise HistoryImageError(f"image at 0x{new.last:x}, snapshot at 0x{index:x}")
            except HistoryImageError as e:
                log.warning("history: the snapshot at 0x%x has an unusable history (%s); "
                            "the history starts at the snapshot", index, e)
                new = None
        if new is None:
            new = EventHistory(old.limits, index)
        self.history = new
        seen = old.last  # every live stream is complete up to here
        for streams in list(self.by_conn.values()):
            for stream in list(streams.values()):
                if new.floor <= seen <= index:
                    for g in new.groups_after(seen):
                        sel = stream.select(g.events)
                        if sel:
                            stream.send(g.zxid, sel)
                else:
                    self.stop(stream.owner, stream.sid)
                    stream.lost(new.floor)

    def record(self, zxid: int, txn: Txn, result: TxnResult, tree: DataTree) -> None:
        events = events_of(tree, txn, result)
        h = self.history
        if zxid <= h.last:
            log.warning("history: txn 0x%x applied after 0x%x; history restarted", zxid, h.last)
            h.reset(zxid - 1)
        h.append(zxid, tree.last_time_ms, events)  # the time it applied at (ordered)
        if not events or not self.by_conn:
            return
        targets: dict[Stream, list[HistoryEvent]] = {}
        exact, subtree = self._exact, self._subtree
        for e in events:
            hit = exact.get(e.path)
            if hit:
                for s in hit:
                    targets.setdefault(s, []).append(e)
            if subtree and e.type != _CHILDREN:
                for p in ancestors(e.path):
                    hit = subtree.get(p)
                    if hit:
                        for s in hit:
                            targets.setdefault(s, []).append(e)
        for s, evs in targets.items():
            sel = s.readable(evs)
            if sel:
                s.send(zxid, sel)

    # --- streams -------------------------------------------------------------------------
    def subscribe(self, stream: Stream, since: int) -> None:
        """Send `stream` every event after `since` the history holds, then register it
        for live events; `Compacted` (nothing sent) if the history does not reach back."""
        groups = list(self.history.groups_after(since))
        for g in groups:
            sel = stream.select(g.events)
            if sel:
                stream.send(g.zxid, sel)
        old = self.by_conn.setdefault(stream.owner, {}).get(stream.sid)
        if old is not None:
            self._unindex(old)
        self.by_conn[stream.owner][stream.sid] = stream
        table = self._subtree if stream.recursive else self._exact
        table.setdefault(stream.path, {})[stream] = None

    def _unindex(self, stream: Stream) -> None:
        table = self._subtree if stream.recursive else self._exact
        streams = table.get(stream.path)
        if streams is not None:
            streams.pop(stream, None)
            if not streams:
                del table[stream.path]

    def open(self, conn: Connection, xid: int, req: WatchHistoryRequest, last: int) -> bytes:
        """Answer WATCH_HISTORY: the history frames after `req.sinceZxid` are written to
        the connection, and the reply returned (to be written next); the stream is live
        from now on. `last` is the server's last applied zxid."""
        since = last if req.sinceZxid == -1 else req.sinceZxid  # -1: from now on
        if not 0 <= since <= last or not is_valid_path(req.path):
            return encode_reply(xid, last, Err.BAD_ARGUMENTS)
        send = wire_sink(conn, xid, req.withData)
        stream = Stream(conn, xid, req.path, req.recursive, lambda: conn.auth, send)
        try:
            self.subscribe(stream, since)
        except Compacted as e:
            return encode_reply(xid, last, 0, WatchHistoryResponse(True, e.floor, last))
        return encode_reply(xid, last, 0, WatchHistoryResponse(False, self.history.floor, last))

    def stop(self, owner: object, sid: int) -> None:
        streams = self.by_conn.get(owner)
        if streams is not None:
            stream = streams.pop(sid, None)
            if stream is not None:
                self._unindex(stream)
            if not streams:
                del self.by_conn[owner]

    def drop(self, owner: object) -> None:
        for stream in self.by_conn.pop(owner, {}).values():
            self._unindex(stream)

    def count(self) -> int:
        return sum(len(s) for s in self.by_conn.values())
