"""The asyncio client API.

    async with Client("127.0.0.1:2181/app") as zk:
        await zk.create("/config", b"v1", make_parents=True)
        data, stat = await zk.get("/config", watch=on_change)

Paths are relative to the chroot given after the host list. Every server error
is raised as its typed `KeeperError` subclass (`NoNodeError`, `NodeExistsError`,
...). Watch callbacks and state listeners may be plain functions or coroutine
functions; they receive a `WatchedEvent` / `StateChange` and run on the client's
dispatcher, in order, never on the I/O path.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import Executor
from types import TracebackType
from typing import Any, TypeVar

from roost.client.connection import Connection
from roost.client.errors import (
    ClientClosedError,
    ConnectionLossError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    OperationTimeoutError,
)
from roost.client.events import WRITABLE_STATES, Callback, ClientState, Dispatcher, WatchedEvent
from roost.client.history import HistoryStream, Subscription
from roost.client.hosts import parse_hosts
from roost.client.inflight import OnDone
from roost.client.iterators import (
    ChildrenSnapshot,
    DataSnapshot,
    StateStream,
    watch_children,
    watch_data,
    watch_events,
)
from roost.client.options import ConnectionOptions
from roost.client.retry import NO_RETRY, RetryPolicy, run_with_retry
from roost.client.transaction import ReadBatch, Transaction, create_op
from roost.client.watches import WatchKind
from roost.wire.errors import Err
from roost.wire.opcodes import AddWatchMode, EventType, KeeperState, Op, Perm, WatcherType
from roost.wire.records import (
    ACL,
    AddWatchRequest,
    Create2Response,
    CreateResponse,
    DeleteRequest,
    Empty,
    ExistsRequest,
    ExistsResponse,
    GetACLRequest,
    GetACLResponse,
    GetAllChildrenNumberRequest,
    GetAllChildrenNumberResponse,
    GetChildren2Request,
    GetChildren2Response,
    GetChildrenRequest,
    GetChildrenResponse,
    GetDataRequest,
    GetDataResponse,
    GetEphemeralsRequest,
    GetEphemeralsResponse,
    Id,
    Record,
    RemoveWatchesRequest,
    SetACLRequest,
    SetACLResponse,
    SetDataRequest,
    SetDataResponse,
    Stat,
    SyncRequest,
    SyncResponse,
    WhoAmIResponse,
)

OPEN_ACL_UNSAFE = [ACL(Perm.ALL, Id("world", "anyone"))]
CREATOR_ALL_ACL = [ACL(Perm.ALL, Id("auth", ""))]
READ_ACL_UNSAFE = [ACL(Perm.READ, Id("world", "anyone"))]

_R = TypeVar("_R", bound=Record)
_T = TypeVar("_T")

#: removeWatches type -> the client-side tables it clears
_REMOVE_KINDS: dict[int, tuple[WatchKind, ...]] = {
    WatcherType.CHILDREN: (WatchKind.CHILD,),
    WatcherType.DATA: (WatchKind.DATA, WatchKind.EXIST),
    WatcherType.ANY: tuple(WatchKind),
}
_REMOVED_EVENT: dict[WatchKind, EventType] = {
    WatchKind.DATA: EventType.DATA_WATCH_REMOVED,
    WatchKind.EXIST: EventType.DATA_WATCH_REMOVED,
    WatchKind.CHILD: EventType.CHILD_WATCH_REMOVED,
    WatchKind.PERSISTENT: EventType.PERSISTENT_WATCH_REMOVED,
    WatchKind.RECURSIVE: EventType.PERSISTENT_WATCH_REMOVED,
}


def check_path(path: str, *, sequence: bool = False) -> str:
    """Reject what ZooKeeper's own client rejects before sending (raises ValueError)."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"path must start with '/': {path!r}")
    if path != "/" and path.endswith("/") and not sequence:
        raise ValueError(f"path must not end with '/': {path!r}")
    if "//" in path or "\x00" in path:
        raise ValueError(f"invalid path: {path!r}")
    if any(part in (".", "..") for part in path.split("/")):
        raise ValueError(f"relative paths are not allowed: {path!r}")
    return path


class Client:
    """An asyncio ZooKeeper client; see the module docstring.

    ``hosts``: ``"host:port,host:port/chroot"``. ``session_timeout`` is in seconds
    (the server clamps it). ``connect_timeout``: limit for one TCP connect plus
    handshake (default: the session timeout / max(number of servers, 3), at least 1 s).
    ``auth``: ``(scheme, credential)`` pairs sent on every connection.
    ``callback_executor``: run plain-function callbacks there instead of on the event
    loop (the sync facade uses this). ``request_timeout``: fail a
    request with `OperationTimeoutError` after that many seconds (default: wait).
    ``read_only``: accept a server without quorum (state READ_ONLY) while looking for
    a read-write one. ``retry_policy``: how reads (never writes) are retried after a
    connection loss, timeout or session expiry (default: not at all).
    """

    def __init__(
        self,
        hosts: str = "127.0.0.1:2181",
        *,
        session_timeout: float = 10.0,
        connect_timeout: float | None = None,
        auth: Sequence[tuple[str, str | bytes]] = (),
        default_acl: Sequence[ACL] | None = None,
        read_only: bool = False,
        retry_delay: float = 0.1,
        retry_max_delay: float = 2.0,
        request_timeout: float | None = None,
        rng: random.Random | None = None,
        callback_executor: Executor | None = None,
        retry_policy: RetryPolicy | None = None,
        clock_drift: float = 0.02,
    ) -> None:
        if not 0 <= clock_drift < 0.25:
            raise ValueError("clock_drift must be in [0, 0.25)")
        servers, chroot = parse_hosts(hosts)
        self.hosts = hosts
        self.default_acl = list(default_acl) if default_acl else list(OPEN_ACL_UNSAFE)
        self.request_timeout = request_timeout
        self.retry_policy = retry_policy or NO_RETRY
        self._options = ConnectionOptions(
            session_timeout=session_timeout,
            connect_timeout=connect_timeout,
            retry_delay=retry_delay,
            retry_max_delay=retry_max_delay,
            read_only=read_only,
            rng=rng or random.Random(),
            clock_drift=clock_drift,
        )
        self._servers, self._chroot = servers, chroot
        self._executor = callback_executor
        self._initial_auth = [(s, c.encode() if isinstance(c, str) else c) for s, c in auth]
        self._conn: Connection | None = None
        self._early_listeners: list[Callback] = []

    # --- lifecycle ------------------------------------------------------------------
    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("client not started: await client.start() first")
        return self._conn

    async def start(self, timeout: float | None = 15.0, *, fail_fast: bool = False) -> None:
        """Connect and open a session; raise `ConnectionLossError` if none within ``timeout``.

        With ``fail_fast`` (what a command-line tool wants), give up as soon as every server
        has failed once (refused, unreachable, not answering within the connect timeout);
        the error then says why for each server.
        """
        if self._conn is not None and self._conn.state is ClientState.CLOSED:
            raise ClientClosedError(message="a closed client cannot be restarted")
        if self._conn is None:
            dispatcher = Dispatcher(self._executor)
            conn = Connection(self._servers, self._chroot, self._options, dispatcher)
            for cb in self._early_listeners:
                conn.add_listener(cb)
            for scheme, cred in self._initial_auth:
                await conn.add_auth(scheme, cred)
            self._conn = conn
            conn.start()
        ready = (*WRITABLE_STATES, ClientState.READ_ONLY) if self._options.read_only else (
            WRITABLE_STATES)
        if fail_fast:
            await self._start_fail_fast(ready, timeout)
            return
        try:
            await self.conn.wait_for(*ready, timeout=timeout)
        except TimeoutError:
            await self.close()
            raise ConnectionLossError(message=f"could not connect to {self.hosts}") from None

    async def _start_fail_fast(self, ready: tuple[ClientState, ...],
                               timeout: float | None) -> None:
        conn = self.conn
        waits = [asyncio.ensure_future(conn.wait_for(*ready)),
                 asyncio.ensure_future(conn.wait_round_failed())]
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
        if conn.state in ready:
            return
        why = conn.describe_connect_errors() or "no answer in time"
        await self.close()
        raise ConnectionLossError(message=f"cannot connect to {why}")

    async def close(self) -> None:
        """End the session (its ephemerals go at once) and stop; idempotent."""
        if self._conn is not None:
            await self._conn.close()

    async def __aenter__(self) -> Client:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- state --------------------------------------------------------------------------
    @property
    def state(self) -> ClientState:
        return self._conn.state if self._conn is not None else ClientState.CONNECTING

    @property
    def connected(self) -> bool:
        """True while the client has a live read-write session (CONNECTED or RECONNECTED)."""
        return self.state.is_writable

    def states(self) -> StateStream:
        """``async for change in client.states()``: each `StateChange` from now on, in
        order with the listeners; the iteration ends after CLOSED."""
        return StateStream(self)

    @property
    def session_id(self) -> int:
        return self.conn.session_id

    @property
    def client_id(self) -> tuple[int, bytes]:
        """(session id, session password): enough to reattach to the session elsewhere."""
        return self.conn.session_id, self.conn.session_password

    @property
    def session_timeout(self) -> float:
        """The negotiated session timeout in seconds (0 before the first connect)."""
        return self.conn.negotiated_timeout

    @property
    def last_zxid(self) -> int:
        return self.conn.last_zxid

    @property
    def chroot(self) -> str:
        return self._chroot

    @property
    def server(self) -> tuple[str, int] | None:
        """The server of the current (or last) connection."""
        return self.conn.server

    @property
    def lease_deadline(self) -> float:
        """`loop.time()` after which the session may have expired on the server.

        It is the send time of the last ping a server answered, plus the lease span
        (`roost.client.lease.lease_span`: the session timeout shortened by the
        clock-rate bound `clock_drift`, less the bound L = half the timeout for which a
        member may answer after the leader last confirmed the session; docs/client.md).
        While it is in the future the ensemble cannot have expired the session; recipes
        that hold locks or leadership stop acting as owner once it has passed.
        """
        return self.conn.lease_deadline

    def lease_remaining(self) -> float:
        """Seconds until `lease_deadline` (negative once it has passed)."""
        return self.conn.lease_remaining(asyncio.get_running_loop().time())

    def dispatch(self, callback: Callback, arg: Any = None) -> None:
        """Run `callback(arg)` on the client's ordered callback dispatcher (after every
        event already queued; never on the I/O path)."""
        self.conn.dispatcher.submit(callback, arg)

    def add_listener(self, callback: Callback) -> None:
        """Call ``callback(StateChange)`` on every state change, in order.

        Listeners added before `start` also see the first CONNECTED.
        """
        if self._conn is None:
            self._early_listeners.append(callback)
        else:
            self._conn.add_listener(callback)

    def remove_listener(self, callback: Callback) -> None:
        if self._conn is None:
            self._early_listeners = [c for c in self._early_listeners if c is not callback]
        else:
            self._conn.remove_listener(callback)

    async def wait_for(self, *states: ClientState, timeout: float | None = None) -> None:
        """Wait until the client is in one of ``states``."""
        await self.conn.wait_for(*states, timeout=timeout)

    async def retry(
        self,
        fn: Callable[..., Awaitable[_T]],
        *args: Any,
        attempts: int | None = None,
        policy: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> _T:
        """``await fn(*args, **kwargs)``, again after a connection loss, timeout or expiry.

        Pauses as ``policy`` says (default: the client's `retry_policy`, or
        `RetryPolicy()` if that is `NO_RETRY`; ``attempts`` overrides the count), then
        waits (up to the session timeout) for the client to be connected again. Only
        for operations that are safe to repeat: a write whose connection dropped may
        have been applied. `ClientClosedError` is never retried.
        """
        pol = policy or (self.retry_policy if self.retry_policy.max_attempts > 1
                         else RetryPolicy())
        if attempts is not None:
            pol = RetryPolicy(attempts, pol.base_delay, pol.max_delay, pol.jitter)
        return await run_with_retry(pol, lambda: fn(*args, **kwargs),
                                    before_retry=self._await_connection, rng=self._options.rng)

    async def _await_connection(self) -> None:
        wait = self.conn.negotiated_timeout or self._options.session_timeout
        with contextlib.suppress(TimeoutError):
            await self.conn.wait_for(*WRITABLE_STATES, ClientState.READ_ONLY, ClientState.CLOSED,
                                     timeout=wait)

    async def _read(self, fn: Callable[[], Awaitable[_T]]) -> _T:
        """Run an idempotent read under the client's retry policy."""
        if self.retry_policy.max_attempts <= 1:
            return await fn()
        return await run_with_retry(self.retry_policy, fn, before_retry=self._await_connection,
                                    rng=self._options.rng)

    # --- plumbing -----------------------------------------------------------------------
    async def _call(
        self,
        op: int,
        rec: Record,
        path: str = "",
        on_done: OnDone | None = None,
    ) -> Record | None:
        coro = self.conn.request(op, rec, path, on_done)
        if self.request_timeout is None:
            return await coro
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancellation that arrives as the reply does (CPython gh-86296), and a recipe's
            # background task would then run on after being cancelled
            async with asyncio.timeout(self.request_timeout):
                return await coro
        except TimeoutError:
            raise OperationTimeoutError(path) from None

    async def _typed(self, rtype: type[_R], op: int, rec: Record, path: str = "",
                     on_done: OnDone | None = None) -> _R:
        res = await self._call(op, rec, path, on_done)
        assert isinstance(res, rtype), f"unexpected reply {res!r}"
        return res

    def _sp(self, path: str, sequence: bool = False) -> str:
        return self.conn.server_path(check_path(path, sequence=sequence))

    def _watcher(self, kind: WatchKind, path: str, cb: Callback | None,
                 missing: WatchKind | None = None) -> OnDone | None:
        """The reply hook that records a watch once the server has accepted it."""
        if cb is None:
            return None
        reg = self.conn.watches

        def done(err: int) -> None:
            if err == Err.OK:
                reg.add(kind, path, cb)
            elif err == Err.NO_NODE and missing is not None:
                reg.add(missing, path, cb)

        return done

    # --- node operations -----------------------------------------------------------------
    async def create(
        self,
        path: str,
        data: bytes | None = b"",
        acl: Sequence[ACL] | None = None,
        *,
        ephemeral: bool = False,
        sequence: bool = False,
        container: bool = False,
        ttl: int | None = None,
        make_parents: bool = False,
        makepath: bool = False,
    ) -> str:
        """Create a node and return its actual path (with the sequence suffix, if any).

        ``ttl`` is in milliseconds (the server must have TTL nodes enabled);
        ``container`` makes a container node; ``make_parents`` (or kazoo's name for it,
        ``makepath``) creates missing ancestors as plain persistent nodes with the same ACL.
        """
        make_parents = make_parents or makepath
        acl_list = list(acl) if acl else self.default_acl
        op, rec = create_op(self._sp(path, sequence), data, acl_list, ephemeral, sequence,
                            container, ttl)
        try:
            res = await self._call(op, rec, path)
        except NoNodeError:
            if not make_parents or path.rsplit("/", 1)[0] in ("", path):
                raise
            await self._make_parents(path, acl_list)
            res = await self._call(op, rec, path)
        assert isinstance(res, CreateResponse | Create2Response)
        return self.conn.client_path(res.path)

    async def _make_parents(self, path: str, acl: list[ACL]) -> None:
        parts = path.strip("/").split("/")[:-1]
        prefixes = ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]
        # Pipelined: the server runs them in order, so each parent exists before its child.
        results = await asyncio.gather(
            *(self.create(p, b"", acl) for p in prefixes), return_exceptions=True
        )
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, NodeExistsError):
                raise r

    async def ensure_path(self, path: str, acl: Sequence[ACL] | None = None) -> None:
        """Create ``path`` and its ancestors where missing."""
        check_path(path)
        await self._make_parents(path.rstrip("/") + "/x", list(acl) if acl else self.default_acl)

    async def get(self, path: str, watch: Callback | None = None) -> tuple[bytes | None, Stat]:
        """Data and Stat of a node; ``watch`` fires once on its next change or deletion."""
        on_done = self._watcher(WatchKind.DATA, path, watch)
        req = GetDataRequest(self._sp(path), watch is not None)
        res = await self._read(lambda: self._typed(GetDataResponse, Op.GET_DATA, req, path,
                                                   on_done))
        return res.data, res.stat

    async def set(self, path: str, data: bytes | None, version: int = -1) -> Stat:
        res = await self._typed(SetDataResponse, Op.SET_DATA,
                                SetDataRequest(self._sp(path), data, version), path)
        return res.stat

    async def exists(self, path: str, watch: Callback | None = None) -> Stat | None:
        """The node's Stat, or None. ``watch`` fires on creation, change or deletion."""
        on_done = self._watcher(WatchKind.DATA, path, watch, missing=WatchKind.EXIST)
        try:
            req = ExistsRequest(self._sp(path), watch is not None)
            res = await self._read(lambda: self._typed(ExistsResponse, Op.EXISTS, req, path,
                                                       on_done))
        except NoNodeError:
            return None
        return res.stat

    async def children(self, path: str, watch: Callback | None = None) -> list[str]:
        """Child names (unsorted); ``watch`` fires once when a child is added or removed."""
        on_done = self._watcher(WatchKind.CHILD, path, watch)
        req = GetChildrenRequest(self._sp(path), watch is not None)
        res = await self._read(lambda: self._typed(GetChildrenResponse, Op.GET_CHILDREN, req,
                                                   path, on_done))
        return res.children

    async def children_with_stat(
        self, path: str, watch: Callback | None = None
    ) -> tuple[list[str], Stat]:
        on_done = self._watcher(WatchKind.CHILD, path, watch)
        req = GetChildren2Request(self._sp(path), watch is not None)
        res = await self._read(lambda: self._typed(GetChildren2Response, Op.GET_CHILDREN2, req,
                                                   path, on_done))
        return res.children, res.stat

    async def get_children(self, path: str, watch: Callback | None = None,
                           include_data: bool = False) -> Any:
        """kazoo's name: `children`, or with ``include_data`` ``(children, stat)``."""
        if include_data:
            return await self.children_with_stat(path, watch)
        return await self.children(path, watch)

    async def delete(self, path: str, version: int = -1, recursive: bool = False) -> None:
        """Delete a node; ``recursive`` deletes its whole subtree first (not atomically)."""
        if recursive:
            await self._delete_tree(path, version)
            return
        await self._call(Op.DELETE, DeleteRequest(self._sp(path), version), path)

    async def _delete_tree(self, path: str, version: int) -> None:
        for _ in range(10):  # children may be added meanwhile; retry a few times
            levels = await self._subtree_levels(path)
            try:
                for level in reversed(levels[1:]):
                    results = await asyncio.gather(
                        *(self._call(Op.DELETE, DeleteRequest(self._sp(p), -1), p) for p in level),
                        return_exceptions=True,
                    )
                    for r in results:
                        if isinstance(r, BaseException) and not isinstance(r, NoNodeError):
                            raise r
                await self._call(Op.DELETE, DeleteRequest(self._sp(path), version), path)
                return
            except NotEmptyError:
                continue
        raise NotEmptyError(path)

    async def _subtree_levels(self, path: str) -> list[list[str]]:
        """BFS levels of the subtree under ``path`` (the first level is ``[path]``)."""
        levels = [[path]]
        while levels[-1]:
            results = await asyncio.gather(
                *(self.children(p) for p in levels[-1]), return_exceptions=True
            )
            nxt: list[str] = []
            for parent, kids in zip(levels[-1], results, strict=True):
                if isinstance(kids, NoNodeError) and parent != path:
                    continue
                if isinstance(kids, BaseException):
                    raise kids
                base = parent.rstrip("/")
                nxt.extend(f"{base}/{k}" for k in kids)
            levels.append(nxt)
        return levels[:-1]

    async def get_acl(self, path: str) -> tuple[list[ACL], Stat]:
        req = GetACLRequest(self._sp(path))
        res = await self._read(lambda: self._typed(GetACLResponse, Op.GET_ACL, req, path))
        return res.acl, res.stat

    async def set_acl(self, path: str, acl: Sequence[ACL], version: int = -1) -> Stat:
        res = await self._typed(SetACLResponse, Op.SET_ACL,
                                SetACLRequest(self._sp(path), list(acl), version), path)
        return res.stat

    async def get_acls(self, path: str) -> tuple[list[ACL], Stat]:
        """kazoo's name for `get_acl`."""
        return await self.get_acl(path)

    async def set_acls(self, path: str, acls: Sequence[ACL], version: int = -1) -> Stat:
        """kazoo's name for `set_acl`."""
        return await self.set_acl(path, acls, version)

    async def sync(self, path: str = "/") -> str:
        """Wait until this server has caught up with the leader as of now."""
        res = await self._typed(SyncResponse, Op.SYNC, SyncRequest(self._sp(path)), path)
        return self.conn.client_path(res.path)

    def transaction(self) -> Transaction:
        """An atomic multi: ``t = zk.transaction(); t.create(..).set(..); await t.commit()``."""
        return Transaction(self)

    def multi_read(self) -> ReadBatch:
        """Several reads in one round trip (multiRead, ZooKeeper 3.6+); not atomic."""
        return ReadBatch(self)

    # --- watches --------------------------------------------------------------------------
    async def add_watch(self, path: str, callback: Callback, recursive: bool = False) -> None:
        """A persistent watch (addWatch): fires for every change until removed.

        ``recursive`` covers the whole subtree (created/deleted/data changed, never
        children-changed). Re-registered after reconnects; ended by session loss.
        """
        kind = WatchKind.RECURSIVE if recursive else WatchKind.PERSISTENT
        mode = AddWatchMode.PERSISTENT_RECURSIVE if recursive else AddWatchMode.PERSISTENT
        await self._call(Op.ADD_WATCH, AddWatchRequest(self._sp(path), mode), path,
                         self._watcher(kind, path, callback))

    def watch_data(self, path: str) -> AsyncIterator[DataSnapshot]:
        """``async for snap in zk.watch_data(path)``: the node's value now, then after
        every change (`DataSnapshot`: data, stat, the triggering event; data and stat
        are None while the node does not exist).

        Each event is followed by a fresh read that re-arms the watch, so the last
        snapshot is always the current value (fast changes are coalesced, never lost).
        Carries on across reconnects and session loss; ends when the client closes.
        """
        check_path(path)
        return watch_data(self, path)

    def watch_children(self, path: str) -> AsyncIterator[ChildrenSnapshot]:
        """Like `watch_data` for the (sorted) child list; None while the node is missing."""
        check_path(path)
        return watch_children(self, path)

    def watch_events(self, path: str, recursive: bool = False) -> AsyncIterator[WatchedEvent]:
        """``async for event in zk.watch_events(path)``: a persistent watch (`add_watch`)
        as an iterator. After a session loss it yields the EXPIRED event, then adds the
        watch again (changes in between are not replayed). Leaving the loop removes it.
        """
        check_path(path)
        return watch_events(self, path, recursive)

    def watch_history(
        self,
        path: str,
        since: int | None = None,
        recursive: bool = False,
        with_data: bool = False,
        max_buffered: int = 10_000,
    ) -> HistoryStream:
        """``async for ev in zk.watch_history(path, since=zxid)``: every change on
        ``path`` (``recursive``: and below it) after zxid ``since`` (default: the last
        zxid this client has seen, or the server's current one if it has seen none yet),
        in zxid order, then live changes, as `HistoryEvent`
        (zxid, type, path, data if ``with_data``). No gap and no repeat across
        disconnects, leader changes, moves between members and session loss.

        A roost extension: raises `CompactedError` (with the oldest zxid still held) if
        the server's history no longer reaches ``since``, `HistoryUnsupportedError`
        against Apache ZooKeeper. Ends when the client closes; ``aclose()`` stops it.
        At most about ``max_buffered`` events wait in memory for the caller: beyond
        that the server's stream is stopped, and resumed once the caller catches up.
        """
        check_path(path)
        start = (self.conn.last_zxid or -1) if since is None else since
        if since is not None and since < 0:
            raise ValueError(f"since must be a zxid >= 0, got {since}")
        if max_buffered < 1:
            raise ValueError(f"max_buffered must be >= 1, got {max_buffered}")
        sub = Subscription(self.conn.server_path(path), recursive, start, with_data,
                           max_buffered)
        self.conn.history.add(sub)
        return HistoryStream(self.conn.history, sub)

    async def remove_watches(self, path: str, watcher_type: int = WatcherType.ANY) -> None:
        """Remove this client's watches of that type on ``path`` (server and client side).

        Each removed callback then gets a DATA/CHILD/PERSISTENT_WATCH_REMOVED event.
        Raises `NoWatcherError` if the server had none.
        """
        conn = self.conn
        await self._call(Op.REMOVE_WATCHES, RemoveWatchesRequest(self._sp(path), watcher_type),
                         path)
        for kind, cb in conn.watches.remove(path, _REMOVE_KINDS[watcher_type]):
            event = WatchedEvent(_REMOVED_EVENT[kind], KeeperState.SYNC_CONNECTED, path)
            conn.dispatcher.submit(cb, event)

    # --- session information ----------------------------------------------------------------
    async def ephemerals(self, prefix: str = "/") -> list[str]:
        """Paths of this session's ephemeral nodes starting with ``prefix`` (string match)."""
        sp = self.conn.server_path(prefix) if prefix.startswith("/") else prefix
        res = await self._typed(GetEphemeralsResponse, Op.GET_EPHEMERALS,
                                GetEphemeralsRequest(sp), prefix)
        conn = self.conn
        # The server matches string prefixes: drop siblings of the chroot ("/app2" for "/app").
        inside = [p for p in res.ephemerals if conn.client_path(p) != p or not conn.chroot]
        return [conn.client_path(p) for p in inside]

    async def count_descendants(self, path: str) -> int:
        """Number of nodes under ``path`` at any depth (getAllChildrenNumber)."""
        req = GetAllChildrenNumberRequest(self._sp(path))
        res = await self._read(lambda: self._typed(GetAllChildrenNumberResponse,
                                                   Op.GET_ALL_CHILDREN_NUMBER, req, path))
        return res.totalNumber

    async def who_am_i(self) -> list[tuple[str, str]]:
        """This connection's identities as (scheme, user) pairs, e.g. ("ip", "127.0.0.1")."""
        res = await self._typed(WhoAmIResponse, Op.WHO_AM_I, Empty())
        return [(c.authScheme, c.user) for c in res.clientInfo]

    async def add_auth(self, scheme: str, credential: str | bytes) -> None:
        """Authenticate (e.g. ``"digest", "user:password"``); re-sent after every reconnect."""
        cred = credential.encode() if isinstance(credential, str) else credential
        await self.conn.add_auth(scheme, cred)

    def __repr__(self) -> str:
        return f"<roost Client {self.hosts} {self.state.value}>"


__all__ = ["CREATOR_ALL_ACL", "OPEN_ACL_UNSAFE", "READ_ACL_UNSAFE", "Client", "check_path"]
