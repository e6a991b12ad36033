"""Watch history: resumable event streams (a roost extension; docs/client.md).

``async for ev in zk.watch_history("/config", since=zxid)`` yields every change on the
node (or its subtree) after ``since``, in zxid order, then live changes. The stream
remembers the last zxid it received; after a disconnect, a leader change or a move to
another member it asks the next server for the events after that zxid, so nothing is
missed and nothing repeats. If the server's history no longer reaches back that far,
the iterator raises `CompactedError` (resync: read the state, watch from its zxid).

A server answers the request on the connection it came in on: first the stored
events after the zxid (frames with xid `Xid.HISTORY`), then the reply, then live
events as they are applied. Since the server writes each change to its streams when
it applies it, the zxid of any reply received after the stream's own reply is a point
up to which the stream is complete: the stream moves its resume point there, so a
quiet stream does not fall behind the history's floor.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from roost.client.errors import (
    ClientClosedError,
    CodedError,
    UnimplementedError,
    error_for,
)
from roost.wire.errors import Err
from roost.wire.jute import Reader
from roost.wire.opcodes import EventType, Op
from roost.wire.records import (
    HistoryBatch,
    Record,
    StopWatchHistoryRequest,
    WatchHistoryRequest,
    WatchHistoryResponse,
)


class StreamConnection(Protocol):
    """What the history streams need of the client connection
    (`roost.client.connection.Connection`)."""

    @property
    def can_send(self) -> bool: ...
    def client_path(self, path: str) -> str: ...
    def send_untracked(self, op: int, rec: Record) -> int:
        """Send a request whose reply nobody awaits; its xid."""
    def drop_connection(self) -> None: ...


class CompactedError(CodedError):
    """The server's event history starts after the requested zxid: events were dropped.

    ``zxid`` is the oldest zxid a stream can start from now. Resync: read the state
    you follow, then watch again from the zxid of that read (``client.last_zxid``).
    """

    code_value = Err.BAD_ARGUMENTS
    text = "Watch history"

    def __init__(self, zxid: int, path: str = "") -> None:
        super().__init__(path, f"compacted at zxid 0x{zxid:x}; resync and watch again")
        self.zxid = zxid


class HistoryUnsupportedError(UnimplementedError):
    """The server does not implement watch history (Apache ZooKeeper, or an older roost):
    it answered the request with Unimplemented."""

    text = "Server lacks the feature"

    def __init__(self, path: str = "") -> None:
        CodedError.__init__(
            self,
            path,
            "the server does not support watch_history (a roost extension, opcode "
            f"{int(Op.WATCH_HISTORY)}): it answered Unimplemented; connect to roost",
        )


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One change: its zxid, type (EventType, including NODE_ACL_CHANGED), the node's
    path (chroot removed) and, if asked for, its data as of that zxid (created and
    data-changed events; None otherwise)."""

    zxid: int
    type: EventType
    path: str
    data: bytes | None = None


class Subscription:
    """One stream's state, kept across connections by `HistoryStreams`."""

    def __init__(self, path: str, recursive: bool, since: int, with_data: bool,
                 max_buffered: int = 10_000) -> None:
        self.path = path  # server path (chroot included)
        #: above this many received events not yet taken, the stream is stopped on the
        #: server; it is opened again from `resume` once the caller took half of them
        self.max_buffered = max_buffered
        self.paused = False
        self.recursive = recursive
        self.with_data = with_data
        #: every event up to here was received (and queued for the caller)
        self.resume = since
        self.sid = 0  # the stream id on the current connection (its open request's xid)
        self.established = False
        self.buffer: deque[HistoryEvent] = deque()
        self.error: BaseException | None = None
        self.wake = asyncio.Event()
        self.closed = False
        #: set once a server opened the stream (or it failed); the first open's lastZxid
        self.opened = asyncio.Event()
        self.open_zxid = -1

    def fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        self.wake.set()
        self.opened.set()


class HistoryStreams:
    """The client connection's open streams: re-opened on every new connection."""

    def __init__(self, conn: StreamConnection) -> None:
        self.conn = conn
        self.subs: list[Subscription] = []
        self.by_sid: dict[int, Subscription] = {}
        #: a server answered Unimplemented: later streams fail at once, without asking
        self.unsupported = False

    def __bool__(self) -> bool:
        return bool(self.subs)

    def add(self, sub: Subscription) -> None:
        if self.unsupported:
            sub.fail(HistoryUnsupportedError(self.conn.client_path(sub.path)))
            return
        self.subs.append(sub)
        if self.conn.can_send:
            self._open(sub)

    def remove(self, sub: Subscription) -> None:
        sub.closed = True
        if sub in self.subs:
            self.subs.remove(sub)
        if sub.sid and self.by_sid.get(sub.sid) is sub:
            del self.by_sid[sub.sid]
            if self.conn.can_send:
                self.conn.send_untracked(Op.STOP_WATCH_HISTORY, StopWatchHistoryRequest(sub.sid))
        sub.sid = 0
        sub.established = False

    # --- connection events ---------------------------------------------------------------
    def connected(self) -> None:
        for sub in self.subs:
            if not sub.paused:
                self._open(sub)

    def disconnected(self) -> None:
        self.by_sid.clear()
        for sub in self.subs:
            sub.sid = 0
            sub.established = False

    def closed(self) -> None:
        for sub in self.subs:
            sub.fail(ClientClosedError(self.conn.client_path(sub.path)))
        self.subs.clear()
        self.by_sid.clear()

    def _open(self, sub: Subscription) -> None:
        req = WatchHistoryRequest(sub.path, sub.recursive, sub.resume, sub.with_data)
        xid = self.conn.send_untracked(Op.WATCH_HISTORY, req)
        sub.sid = xid
        sub.established = False
        self.by_sid[xid] = sub

    # --- frames --------------------------------------------------------------------------
    def on_batch(self, zxid: int, body: bytes) -> None:
        batch = HistoryBatch.read(Reader(body, 16))
        sub = self.by_sid.get(batch.streamId)
        if sub is None or zxid <= sub.resume:
            return  # a stream stopped meanwhile, or (never expected) a repeat
        conn = self.conn
        for e in batch.events:
            try:
                etype = EventType(e.type)
            except ValueError:
                continue
            sub.buffer.append(HistoryEvent(zxid, etype, conn.client_path(e.path), e.data))
        sub.resume = zxid
        sub.wake.set()
        if len(sub.buffer) > sub.max_buffered:
            self.pause(sub)

    def pause(self, sub: Subscription) -> None:
        """The caller does not keep up: stop the server's stream (frames still in flight are
        dropped; they come again when the stream is opened from `resume`)."""
        sub.paused = True
        if sub.sid and self.by_sid.pop(sub.sid, None) is sub and self.conn.can_send:
            self.conn.send_untracked(Op.STOP_WATCH_HISTORY, StopWatchHistoryRequest(sub.sid))
        sub.sid = 0
        sub.established = False

    def unpause(self, sub: Subscription) -> None:
        sub.paused = False
        if self.conn.can_send and sub in self.subs:
            self._open(sub)

    def on_open_reply(self, xid: int, err: int, zxid: int, body: bytes) -> bool:
        """The reply to an open; False if it was not one of ours."""
        sub = self.by_sid.get(xid)
        if sub is None:
            return False
        path = self.conn.client_path(sub.path)
        if err == Err.UNIMPLEMENTED:
            # ZooKeeper closes the connection after this answer: leave it now, so that
            # requests sent from here on wait for the next connection instead of failing
            self.unsupported = True
            self._drop(sub, HistoryUnsupportedError(path))
            for other in list(self.subs):
                self._drop(other, HistoryUnsupportedError(self.conn.client_path(other.path)))
            self.conn.drop_connection()
        elif err != Err.OK:
            self._drop(sub, error_for(err, path))
        else:
            resp = WatchHistoryResponse.read(Reader(body, 16))
            if resp.compacted:
                self._drop(sub, CompactedError(resp.floorZxid, path))
            else:
                sub.established = True
                self.progress(max(zxid, resp.lastZxid), sub)
                if not sub.opened.is_set():
                    sub.open_zxid = resp.lastZxid
                    sub.opened.set()
        return True

    def _drop(self, sub: Subscription, exc: BaseException) -> None:
        self.by_sid.pop(sub.sid, None)
        sub.sid = 0
        if sub in self.subs:
            self.subs.remove(sub)
        sub.fail(exc)

    def progress(self, zxid: int, only: Subscription | None = None) -> None:
        """A reply with this zxid arrived: established streams are complete up to it."""
        for sub in (only,) if only is not None else self.subs:
            if sub.established and zxid > sub.resume:
                sub.resume = zxid


class HistoryStream:
    """The async iterator `Client.watch_history` returns; see the module docstring.

    ``resume_zxid`` is the zxid to pass as ``since`` to continue after the last event
    this iterator yielded (e.g. after a restart of the program). ``aclose()`` (or
    leaving an ``async for`` through ``break``) ends the stream on the server.
    """

    def __init__(self, streams: HistoryStreams, sub: Subscription) -> None:
        self._streams = streams
        self._sub = sub
        self._delivered = sub.resume

    @property
    def resume_zxid(self) -> int:
        sub = self._sub
        if sub.buffer:
            return self._delivered
        return max(self._delivered, sub.resume)

    async def wait_open(self) -> int:
        """Wait until a server has opened the stream; return the zxid its replay reached
        (every event up to it is already buffered, so ``anext`` returns them without
        waiting). Raises what the stream would raise (`CompactedError`, ...)."""
        sub = self._sub
        await sub.opened.wait()
        if sub.error is not None and not sub.buffer:
            raise sub.error
        return sub.open_zxid

    def buffered(self) -> int:
        """Events received and not yet taken."""
        return len(self._sub.buffer)

    def __aiter__(self) -> AsyncIterator[HistoryEvent]:
        return self

    async def __anext__(self) -> HistoryEvent:
        sub = self._sub
        while True:
            if sub.buffer:
                ev = sub.buffer.popleft()
                if not sub.buffer or sub.buffer[0].zxid != ev.zxid:
                    self._delivered = ev.zxid  # that zxid's events are all out
                if sub.paused and len(sub.buffer) <= sub.max_buffered // 2:
                    self._streams.unpause(sub)
                return ev
            if sub.error is not None:
                if isinstance(sub.error, ClientClosedError):
                    raise StopAsyncIteration
                raise sub.error
            if sub.closed:
                raise StopAsyncIteration
            sub.wake.clear()
            await sub.wake.wait()

    async def aclose(self) -> None:
        self._streams.remove(self._sub)
        self._sub.wake.set()

    async def __aenter__(self) -> HistoryStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
