"""Shared helpers for the ensemble fault tests: polling, clients, and tree comparisons."""

from __future__ import annotations

import socket
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from kazoo.client import KazooClient

from roost.testing.ensemble import FailoverRun
from roost.wire.opcodes import CreateMode, Op, Perm
from roost.wire.protocol import (
    FrameBuffer,
    decode_reply_header,
    encode_frame,
    encode_request,
)
from roost.wire.records import (
    ACL,
    ConnectRequest,
    ConnectResponse,
    CreateRequest,
    ExistsRequest,
    Id,
)

T = TypeVar("T")
OPEN_ACL = [ACL(int(Perm.ALL), Id("world", "anyone"))]

#: server name -> its failover run (test_failover fills it, conftest prints it at the end)
FAILOVER_FIGURES: dict[str, FailoverRun] = {}


def describe_failover(run: FailoverRun) -> str:
    return (f"max pause between acks {run.max_gap * 1000:7.1f} ms, new leader after "
            f"~{run.election_seconds * 1000:.0f} ms, {len(run.acked)} acked "
            f"({run.acked_after_kill} after the kill), {len(run.failed)} failed")


@contextmanager
def kazoo(hosts: str, timeout: float = 10.0, **kw: Any) -> Iterator[KazooClient]:
    """A started kazoo client, stopped and closed on exit."""
    client = KazooClient(hosts=hosts, timeout=timeout, **kw)
    client.start(timeout=30)
    try:
        yield client
    finally:
        client.stop()
        client.close()


NodeState = tuple[bytes, int, int, int, int, int, int, int, tuple[str, ...]]


def read_tree(client: KazooClient, root: str) -> dict[str, NodeState]:
    """Every node under `root` (included): data, czxid, mzxid, pzxid, version, cversion,
    ephemeralOwner, numChildren and the sorted children."""
    out: dict[str, NodeState] = {}
    todo = [root]
    while todo:
        path = todo.pop()
        data, st = client.get(path)
        kids = tuple(sorted(client.get_children(path)))
        out[path] = (data, st.czxid, st.mzxid, st.pzxid, st.version, st.cversion,
                     st.ephemeralOwner, st.numChildren, kids)
        todo += [f"{path.rstrip('/')}/{k}" for k in kids]
    return out


def member_tree(hosts: str, root: str) -> dict[str, NodeState]:
    """`read_tree` through one member, after a sync there."""
    with kazoo(hosts) as c:
        c.sync(root)
        return read_tree(c, root)


def converged(ens: Any, members: list[int], root: str) -> dict[str, NodeState] | None:
    """The common tree under `root` if every listed member has the same one, else None."""
    trees = [member_tree(ens.hosts_of(i), root) for i in members]
    return trees[0] if all(t == trees[0] for t in trees[1:]) else None


class RawSession:
    """A bare protocol session (no pings, no closeSession): for a client that crashes."""

    def __init__(self, hosts: str, timeout_ms: int) -> None:
        host, port = hosts.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.frames = FrameBuffer()
        self.pending: deque[bytes] = deque()
        self.sock.sendall(encode_frame(ConnectRequest(0, 0, timeout_ms, 0, bytes(16))))
        resp = ConnectResponse.from_bytes(self._frame())
        assert resp.sessionId != 0, "session refused"
        self.session_id = resp.sessionId
        self.timeout_ms = resp.timeOut

    def _frame(self) -> bytes:
        frame = self.next_frame(10.0)
        assert frame is not None, "no answer in 10 s"
        return frame

    def next_frame(self, timeout: float) -> bytes | None:
        """The next frame from the server, or None if none came within `timeout`
        seconds; ConnectionError once the server closed the connection."""
        self.sock.settimeout(timeout)
        try:
            while not self.pending:
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectionError("server closed the connection")
                self.pending.extend(self.frames.feed(data))
        except TimeoutError:
            return None
        finally:
            self.sock.settimeout(10)
        return self.pending.popleft()

    def send_exists(self, xid: int, path: str) -> None:
        """An exists request (no watch); its answer comes through `next_frame`."""
        self.sock.sendall(encode_request(xid, Op.EXISTS, ExistsRequest(path, False)))

    def create_ephemeral(self, path: str) -> int:
        """Create an ephemeral node; returns the reply's zxid."""
        req = CreateRequest(path, b"", OPEN_ACL, int(CreateMode.EPHEMERAL))
        self.sock.sendall(encode_request(1, Op.CREATE, req))
        xid, zxid, err = decode_reply_header(self._frame())
        assert (xid, err) == (1, 0), (xid, err)
        return zxid

    def crash(self) -> None:
        """Drop the connection without closing the session."""
        self.sock.close()
