"""A blocking facade over the asyncio `Client`, for code without an event loop.

    with SyncClient("127.0.0.1:2181") as zk:
        zk.create("/a", b"x")
        data, stat = zk.get("/a", watch=lambda ev: print(ev))

The asyncio client runs on a private event loop in a background thread; each
method submits a coroutine there and waits for it. Plain-function callbacks
(watches, state listeners) run one at a time, in order, on a separate
"roost-callbacks" thread, so a slow callback never holds up the connection.
Calling the facade from the loop thread itself (an ``async def`` callback) is an
error: use the asyncio client there (`SyncClient.aio`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, TypeVar

from roost.client.client import Client
from roost.client.errors import ClientClosedError
from roost.client.events import Callback, ClientState
from roost.client.history import HistoryEvent, HistoryStream
from roost.client.transaction import ReadBatch, Transaction
from roost.client.watchers import ChildrenWatch, DataWatch
from roost.wire.opcodes import WatcherType
from roost.wire.records import ACL, Stat

T = TypeVar("T")


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when it is installed (the ``fast`` extra), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


class SyncClient:
    """Blocking twin of `Client`: same methods and arguments, same errors."""

    def __init__(self, hosts: str = "127.0.0.1:2181", **kwargs: Any) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="roost-callbacks")
        kwargs.setdefault("callback_executor", self._executor)
        self.aio = Client(hosts, **kwargs)
        self._loop = _new_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="roost-client",
                                        daemon=True)
        self._thread.start()
        self._closed = False

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine of `self.aio` (or anything built on it, such as a recipe) on the
        client's loop and wait for its result."""
        return self._run(coro, timeout)

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start a coroutine on the client's loop; its future can be waited for or cancelled
        from any thread."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("SyncClient called from its own event loop; use .aio instead")
        if self._closed:
            coro.close()
            raise ClientClosedError()
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return self.submit(coro).result(timeout)

    # --- lifecycle ----------------------------------------------------------------------
    def start(self, timeout: float | None = 15.0, *, fail_fast: bool = False) -> SyncClient:
        self._run(self.aio.start(timeout, fail_fast=fail_fast))
        return self

    def close(self) -> None:
        if self._closed:
            return
        try:
            self._run(self.aio.close())
        finally:
            self._closed = True
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()
            self._executor.shutdown(wait=False)

    def stop(self) -> None:
        """kazoo's name: end the session (this client cannot be started again)."""
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> SyncClient:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- state ----------------------------------------------------------------------------
    @property
    def state(self) -> ClientState:
        return self.aio.state

    @property
    def connected(self) -> bool:
        """True while the session is live and read-write (CONNECTED or RECONNECTED)."""
        return self.aio.connected

    @property
    def session_id(self) -> int:
        return self.aio.session_id

    @property
    def chroot(self) -> str:
        return self.aio.chroot

    @property
    def hosts(self) -> str:
        return self.aio.hosts

    @property
    def client_id(self) -> tuple[int, bytes]:
        """(session id, password), as kazoo's ``client_id``."""
        return self.aio.client_id

    def lease_remaining(self) -> float:
        """Seconds until the session may have expired on the server (see `Client`)."""
        return self.aio.conn.lease_remaining(self._loop.time())

    def add_listener(self, callback: Callback) -> None:
        """Listeners added before `start` also see the first CONNECTED."""
        self._run(_call(self.aio.add_listener, callback))

    def remove_listener(self, callback: Callback) -> None:
        self._run(_call(self.aio.remove_listener, callback))

    def wait_for(self, *states: ClientState, timeout: float | None = None) -> None:
        self._run(self.aio.wait_for(*states, timeout=timeout))

    # --- operations (see `Client` for the details of each) -----------------------------------
    def create(self, path: str, data: bytes | None = b"", acl: Sequence[ACL] | None = None,
               **kwargs: Any) -> str:
        """See `Client.create` (``makepath=True`` is kazoo's ``make_parents=True``)."""
        return self._run(self.aio.create(path, data, acl, **kwargs))

    def ensure_path(self, path: str, acl: Sequence[ACL] | None = None) -> None:
        self._run(self.aio.ensure_path(path, acl))

    def get(self, path: str, watch: Callback | None = None) -> tuple[bytes | None, Stat]:
        return self._run(self.aio.get(path, watch))

    def set(self, path: str, data: bytes | None, version: int = -1) -> Stat:
        return self._run(self.aio.set(path, data, version))

    def exists(self, path: str, watch: Callback | None = None) -> Stat | None:
        return self._run(self.aio.exists(path, watch))

    def children(self, path: str, watch: Callback | None = None) -> list[str]:
        return self._run(self.aio.children(path, watch))

    def children_with_stat(self, path: str, watch: Callback | None = None
                           ) -> tuple[list[str], Stat]:
        return self._run(self.aio.children_with_stat(path, watch))

    def delete(self, path: str, version: int = -1, recursive: bool = False) -> None:
        self._run(self.aio.delete(path, version, recursive))

    def get_acl(self, path: str) -> tuple[list[ACL], Stat]:
        return self._run(self.aio.get_acl(path))

    def set_acl(self, path: str, acl: Sequence[ACL], version: int = -1) -> Stat:
        return self._run(self.aio.set_acl(path, acl, version))

    def sync(self, path: str = "/") -> str:
        return self._run(self.aio.sync(path))

    def transaction(self) -> SyncTransaction:
        return SyncTransaction(self, self.aio.transaction())

    def multi_read(self) -> SyncReadBatch:
        return SyncReadBatch(self, self.aio.multi_read())

    def add_watch(self, path: str, callback: Callback, recursive: bool = False) -> None:
        self._run(self.aio.add_watch(path, callback, recursive))

    def watch_history(self, path: str, since: int | None = None, recursive: bool = False,
                      with_data: bool = False, max_buffered: int = 10_000
                      ) -> SyncHistoryStream:
        """`Client.watch_history` as a blocking iterator: ``for ev in zk.watch_history(...)``;
        ``next_event(timeout)`` waits at most ``timeout`` seconds (TimeoutError)."""
        async def open_() -> HistoryStream:
            return self.aio.watch_history(path, since, recursive, with_data, max_buffered)

        return SyncHistoryStream(self, self._run(open_()))

    def remove_watches(self, path: str, watcher_type: int = WatcherType.ANY) -> None:
        self._run(self.aio.remove_watches(path, watcher_type))

    def ephemerals(self, prefix: str = "/") -> list[str]:
        return self._run(self.aio.ephemerals(prefix))

    def count_descendants(self, path: str) -> int:
        return self._run(self.aio.count_descendants(path))

    def who_am_i(self) -> list[tuple[str, str]]:
        return self._run(self.aio.who_am_i())

    def add_auth(self, scheme: str, credential: str | bytes) -> None:
        self._run(self.aio.add_auth(scheme, credential))

    # --- kazoo's names (kazoo's KazooClient method -> the method above) -------------------
    def get_children(self, path: str, watch: Callback | None = None,
                     include_data: bool = False) -> Any:
        """`children`, or with ``include_data`` ``(children, stat)``."""
        return self._run(self.aio.get_children(path, watch, include_data))

    def get_acls(self, path: str) -> tuple[list[ACL], Stat]:
        return self._run(self.aio.get_acls(path))

    def set_acls(self, path: str, acls: Sequence[ACL], version: int = -1) -> Stat:
        return self._run(self.aio.set_acls(path, acls, version))

    def command(self, cmd: bytes | str = b"ruok", timeout: float = 10.0) -> str:
        """Send a four-letter word to the server this client is connected to; its answer."""
        server = self.aio.server
        if server is None:
            raise ConnectionError("not connected to a server")
        word = cmd.encode() if isinstance(cmd, str) else cmd
        with socket.create_connection(server, timeout=timeout) as s:
            s.sendall(word)
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode("utf-8", "replace")

    def server_version(self) -> tuple[int, ...]:
        """The connected server's version digits from ``envi`` (e.g. (3, 8, 4))."""
        for line in self.command(b"envi").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "zookeeper.version":
                digits = value.strip().split("-", 1)[0].split(".")
                return tuple(int(d) for d in digits if d.isdigit())
        raise ValueError("the server's envi has no zookeeper.version")

    def retry(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """kazoo's ``retry``: call ``func(*args, **kwargs)`` (blocking, e.g. ``zk.get``, or a
        function of your own that uses this client) and call it again after a connection
        loss, timeout or session expiry, as `Client.retry` does (the client's retry policy,
        else `RetryPolicy()`). Only for calls that are safe to repeat."""
        call = functools.partial(func, *args, **kwargs)

        async def attempt() -> T:
            return await asyncio.get_running_loop().run_in_executor(None, call)

        return self._run(self.aio.retry(attempt))

    # --- kazoo's recipe factories (see roost.client.watchers, roost.recipes.kazoo_style) ---
    def DataWatch(self, path: str, func: Callable[..., Any] | None = None
                  ) -> DataWatch:
        """Call ``func(data, stat[, event])`` now and after every change (kazoo's
        ``DataWatch``; also a decorator). Returning False stops it."""
        return DataWatch(self, path, func)

    def ChildrenWatch(self, path: str, func: Callable[..., Any] | None = None,
                      allow_session_lost: bool = True, send_event: bool = False
                      ) -> ChildrenWatch:
        """Call ``func(children[, event])`` now and after every change (kazoo's
        ``ChildrenWatch``; also a decorator). Returning False stops it."""
        return ChildrenWatch(self, path, func, allow_session_lost, send_event)

    # The recipes sit above the client: imported when first asked for.
    def Lock(self, path: str, identifier: str | None = None) -> Any:
        """kazoo's ``Lock``: see `roost.recipes.kazoo_style.Lock`."""
        from roost.recipes import kazoo_style
        return kazoo_style.Lock(self, path, identifier)

    def ReadLock(self, path: str, identifier: str | None = None) -> Any:
        from roost.recipes import kazoo_style
        return kazoo_style.ReadLock(self, path, identifier)

    def WriteLock(self, path: str, identifier: str | None = None) -> Any:
        from roost.recipes import kazoo_style
        return kazoo_style.WriteLock(self, path, identifier)

    def Semaphore(self, path: str, identifier: str | None = None,
                  max_leases: int = 1) -> Any:
        from roost.recipes import kazoo_style
        return kazoo_style.Semaphore(self, path, identifier, max_leases)

    def Election(self, path: str, identifier: str | None = None) -> Any:
        from roost.recipes import kazoo_style
        return kazoo_style.Election(self, path, identifier)

    def Counter(self, path: str, default: int = 0) -> Any:
        from roost.recipes import kazoo_style
        return kazoo_style.Counter(self, path, default)

    def Queue(self, path: str) -> Any:
        from roost.recipes import kazoo_style
        return kazoo_style.Queue(self, path)

    def Barrier(self, path: str) -> Any:
        from roost.recipes import kazoo_style
        return kazoo_style.Barrier(self, path)

    def DoubleBarrier(self, path: str, num_clients: int,
                      identifier: str | None = None) -> Any:
        from roost.recipes import kazoo_style
        return kazoo_style.DoubleBarrier(self, path, num_clients, identifier)

    def __repr__(self) -> str:
        return f"<roost SyncClient {self.aio.hosts} {self.state.value}>"


async def _call(fn: Callable[[Callback], None], callback: Callback) -> None:
    """Run a plain method on the loop thread (the client is not thread-safe)."""
    fn(callback)


class SyncHistoryStream:
    """A blocking `HistoryStream`; ``close()`` (or leaving a ``with`` block) stops it."""

    def __init__(self, client: SyncClient, stream: HistoryStream) -> None:
        self._client, self._stream = client, stream

    @property
    def resume_zxid(self) -> int:
        return self._stream.resume_zxid

    def __iter__(self) -> Iterator[HistoryEvent]:
        return self

    def __next__(self) -> HistoryEvent:
        try:
            return self.next_event()
        except StopAsyncIteration:
            raise StopIteration from None

    def next_event(self, timeout: float | None = None) -> HistoryEvent:
        async def one() -> HistoryEvent:
            async with asyncio.timeout(timeout):
                return await anext(self._stream)

        return self._client._run(one())

    def close(self) -> None:
        if not self._client._closed:
            self._client._run(self._stream.aclose())

    def __enter__(self) -> SyncHistoryStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SyncTransaction:
    """`Transaction` with a blocking `commit`; the builder methods chain the same way."""

    def __init__(self, client: SyncClient, txn: Transaction) -> None:
        self._client, self._txn = client, txn

    def create(self, path: str, data: bytes | None = b"", acl: list[ACL] | None = None,
               **kwargs: Any) -> SyncTransaction:
        self._txn.create(path, data, acl, **kwargs)
        return self

    def delete(self, path: str, version: int = -1) -> SyncTransaction:
        self._txn.delete(path, version)
        return self

    def set(self, path: str, data: bytes | None, version: int = -1) -> SyncTransaction:
        self._txn.set(path, data, version)
        return self

    def check(self, path: str, version: int) -> SyncTransaction:
        self._txn.check(path, version)
        return self

    def commit(self, raise_on_error: bool = True) -> list[Any]:
        return self._client._run(self._txn.commit(raise_on_error))


class SyncReadBatch:
    def __init__(self, client: SyncClient, batch: ReadBatch) -> None:
        self._client, self._batch = client, batch

    def get(self, path: str) -> SyncReadBatch:
        self._batch.get(path)
        return self

    def children(self, path: str) -> SyncReadBatch:
        self._batch.children(path)
        return self

    def execute(self) -> list[Any]:
        return self._client._run(self._batch.execute())


__all__ = ["SyncClient", "SyncHistoryStream", "SyncReadBatch", "SyncTransaction"]
