"""The requests of one client session by xid: those queued until a connection is up, and
those written and awaiting their reply, matched in order (auth packets apart, since
ZooKeeper answers them out of band); a reply completes its request's future."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from roost.client.errors import KeeperError, error_for
from roost.wire.errors import Err, ProtocolError
from roost.wire.jute import Reader
from roost.wire.opcodes import Xid
from roost.wire.protocol import OPS, encode_request
from roost.wire.records import Record

OnDone = Callable[[int], None]


@dataclass(slots=True)
class Pending:
    xid: int
    op: int
    frame: bytes
    future: asyncio.Future[Record | None] | None
    path: str = ""
    on_done: OnDone | None = None
    sent_at: float = 0.0


class InFlight:
    """Queued and sent requests; see the module docstring."""

    def __init__(self) -> None:
        #: waiting for a connection
        self.queued: deque[Pending] = deque()
        #: sent, oldest first
        self.pending: deque[Pending] = deque()
        self.auth_pending: deque[Pending] = deque()
        self._xid = 0

    def new(self, op: int, rec: Record, path: str = "", on_done: OnDone | None = None) -> Pending:
        """A request with the next xid and a future for its reply."""
        self._xid = self._xid + 1 if self._xid < 0x7FFFFFFF else 1
        fut: asyncio.Future[Record | None] = asyncio.get_running_loop().create_future()
        return Pending(self._xid, op, encode_request(self._xid, op, rec), fut, path, on_done)

    def sent(self, p: Pending) -> None:
        """`p` was written: its reply is expected after those sent before it."""
        (self.auth_pending if p.xid == Xid.AUTH else self.pending).append(p)

    def reply_to(self, xid: int) -> Pending:
        """The request a reply with `xid` answers: the oldest one sent (ProtocolError if
        the xids do not match)."""
        queue = self.auth_pending if xid == Xid.AUTH else self.pending
        if not queue or queue[0].xid != xid:
            head = queue[0].xid if queue else None
            raise ProtocolError(f"reply xid {xid} does not match the oldest request ({head})")
        return queue.popleft()

    def complete(self, p: Pending, err: int, body: bytes) -> None:
        """Decode the reply `body` to `p` and complete its future (a reply that does not
        decode puts `p` back at the head and raises ProtocolError)."""
        fut = p.future
        rec: Record | None = None
        if err == Err.OK:
            rtype = OPS[p.op][1] if p.op in OPS else None
            if rtype is not None:
                try:
                    rec = rtype.read(Reader(body, 16))
                except ProtocolError:
                    self._queue_front(p)
                    raise
        if p.on_done is not None:
            p.on_done(err)
        if fut is None or fut.done():
            return
        if err != Err.OK:
            fut.set_exception(error_for(err, p.path))
        else:
            fut.set_result(rec)

    def _queue_front(self, p: Pending) -> None:
        (self.auth_pending if p.xid == Xid.AUTH else self.pending).appendleft(p)

    def fail_sent(self, make: Callable[[str], KeeperError]) -> None:
        """Fail every request sent and not answered (the connection is gone)."""
        for queue in (self.pending, self.auth_pending):
            while queue:
                fail(queue.popleft(), make)

    def fail_queued(self, make: Callable[[str], KeeperError]) -> None:
        """Fail every request waiting for a connection."""
        while self.queued:
            fail(self.queued.popleft(), make)


def fail(p: Pending, make: Callable[[str], KeeperError]) -> None:
    if p.future is not None and not p.future.done():
        p.future.set_exception(make(p.path))
