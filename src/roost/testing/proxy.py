"""A userspace TCP proxy for fault injection in tests.

``TcpProxy`` listens on 127.0.0.1 and forwards every accepted connection to a target address.
Like the host it stands for, it accepts only while the target does: until the target
accepts a connection (probed every ``PROBE`` seconds) the proxy's port is bound but not
listening, so a client's connect is refused rather than accepted and then closed (a client
that believes it got through, as ZooKeeper's quorum peers do, would act on it). Each client
connection is forwarded once the target accepted its own; if the target refuses, the client
is reset and the proxy stops listening until a probe gets through again. When the target
ends a forwarded connection, a probe checks that it still listens (a ZooKeeper leader stepping
down closes its quorum port, then its followers' connections). That costs the target one
more, empty connection (ZooKeeper logs an EndOfStream warning for it) each time; a proxy for a
port whose server ends connections as a matter of course and keeps listening (a client port:
each four-letter word ends its connection) does without: ``probe_on_close=False``.
It runs its own asyncio loop in a background thread, so its methods can be called from plain
synchronous tests and from coroutines running in another loop alike (each call blocks until the
proxy has applied it, which takes a few milliseconds).

Faults:

- ``cut()``: reset every current connection, and reset new ones at once, until ``heal()``.
- ``blackhole(direction)``: keep connections open but silently discard the bytes flowing in
  `direction` ("up" = client to target, "down" = target to client, "both"): a partition without
  any reset. While both directions are blackholed, new connections are accepted but never
  reach the target.
- ``stall(direction)``: keep connections open but hold the bytes flowing in `direction` until
  ``heal()``, then deliver them in order: a partition that TCP retransmission survives. The
  proxy stops reading once a few chunks are held, so the sender's socket buffers fill up too.
- ``delay(seconds, direction)``: hold each chunk for `seconds` before forwarding it (order kept).
- ``loss(probability, direction)``: lose each TCP segment (1448 bytes of a chunk) with
  `probability` (seeded): as the kernel would, the stream then waits for the retransmission,
  so a chunk with a lost segment is held for ``rto`` (default Linux's minimum retransmission
  timeout, 200 ms, plus the round trip of the proxy's delay) and everything behind it waits
  too (order kept, no bytes missing). A model of TCP over a lossy link for machines without
  netem; it does not model fast retransmit, which recovers sooner under a steady stream.
- ``heal()``: undo all of the above; held bytes are delivered. Connections that lost bytes to
  a blackhole are reset at that point, as a real TCP connection would have either
  retransmitted those bytes or died; a stream with a hole in the middle would otherwise
  corrupt the protocol running on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import socket
import struct
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, TypeVar

Address = tuple[str, int]
Direction = Literal["up", "down", "both"]
T = TypeVar("T")

CHUNK = 64 * 1024
MSS = 1448  # TCP payload per segment on a 1500-byte Ethernet link with timestamps
MIN_RTO = 0.2  # Linux's TCP_RTO_MIN
PROBE = 0.05  # seconds between two connects to a target that is not accepting
_LINGER_RST = struct.pack("ii", 1, 0)


def _reset(writer: asyncio.StreamWriter | None) -> None:
    """Close a connection with a RST rather than a FIN."""
    if writer is None:
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
    writer.transport.abort()


def _directions(direction: Direction) -> tuple[str, ...]:
    if direction == "both":
        return ("up", "down")
    if direction in ("up", "down"):
        return (direction,)
    raise ValueError(f"direction must be 'up', 'down' or 'both', not {direction!r}")


@dataclass(eq=False)
class _Conn:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    poisoned: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def reset(self) -> None:
        _reset(self.client)
        _reset(self.upstream)
        for task in self.tasks:
            task.cancel()


class TcpProxy:
    """Forwards connections from ``127.0.0.1:port`` to `target`, with faults on demand."""

    def __init__(
        self,
        target: Address,
        listen_port: int = 0,
        *,
        listen_host: str = "127.0.0.1",
        probe_on_close: bool = True,
    ) -> None:
        self.target = target
        #: probe the target when it ends a forwarded connection (see the module docstring)
        self.probe_on_close = probe_on_close
        self.listen_host = listen_host
        self.port = listen_port
        self.accepted = 0
        self.bytes_forwarded = {"up": 0, "down": 0}
        self._cut = False
        self._discard = {"up": False, "down": False}
        self._delay = {"up": 0.0, "down": 0.0}
        self._stall = {"up": False, "down": False}
        self._loss = {"up": 0.0, "down": 0.0}
        self._rto: float | None = None
        self._rng = random.Random(0)
        self.lost_chunks = 0
        self._healed: asyncio.Event | None = None
        self._conns: set[_Conn] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        #: holds the port while the proxy is not listening (bound, never listening)
        self._hold: socket.socket | None = None
        self._prober: asyncio.Task[None] | None = None
        self._checker: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> TcpProxy:
        """Start the proxy thread; returns once the port is taken (in ``.port``), listening
        if the target accepts connections (else it listens once the target does)."""
        if self._thread is not None:
            raise RuntimeError("proxy already started")
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="TcpProxy", daemon=True)
        self._thread.start()
        self._run(self._listen())
        return self

    def stop(self) -> None:
        """Close every connection and the listener, and end the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._run(self._shutdown())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        self._loop = None
        self._thread = None

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- faults ------------------------------------------------------------------------------

    def cut(self) -> None:
        """Reset all current connections and reset new ones until heal()."""
        self._run(self._do_cut())

    def blackhole(self, direction: Direction = "both") -> None:
        """Silently discard bytes flowing in `direction`, keeping connections open."""
        dirs = _directions(direction)
        self._run(self._set(lambda: self._discard.update(dict.fromkeys(dirs, True))))

    def stall(self, direction: Direction = "both") -> None:
        """Hold bytes flowing in `direction` (connections stay open) until heal()."""
        dirs = _directions(direction)
        self._run(self._do_stall(dirs))

    def delay(self, seconds: float, direction: Direction = "both") -> None:
        """Forward each chunk `seconds` after it arrived (0 turns the delay off)."""
        dirs = _directions(direction)
        self._run(self._set(lambda: self._delay.update(dict.fromkeys(dirs, float(seconds)))))

    def loss(self, probability: float, direction: Direction = "both", *, seed: int = 0,
             rto: float | None = None) -> None:
        """Lose each segment with `probability` (0 turns it off): its chunk and those behind
        it wait `rto` seconds (default 0.2 s plus twice the delay) for the retransmission."""
        if not 0.0 <= probability < 1.0:
            raise ValueError("probability must be in [0, 1)")
        dirs = _directions(direction)

        def apply() -> None:
            self._loss.update(dict.fromkeys(dirs, float(probability)))
            self._rng = random.Random(seed)
            self._rto = rto
        self._run(self._set(apply))

    def _lost_delay(self, direction: str, size: int) -> float:
        p = self._loss[direction]
        if not p:
            return 0.0
        segments = max(1, math.ceil(size / MSS))
        if self._rng.random() >= 1.0 - (1.0 - p) ** segments:
            return 0.0
        self.lost_chunks += 1
        if self._rto is not None:
            return self._rto
        return MIN_RTO + self._delay["up"] + self._delay["down"]

    def heal(self) -> None:
        """Undo cut, blackhole, delay and loss; reset connections that lost bytes to a blackhole."""
        self._run(self._do_heal())

    def retarget(self, target: Address) -> None:
        """Send new connections to `target` (existing ones keep their upstream)."""
        self._run(self._set(lambda: setattr(self, "target", target)))

    @property
    def connections(self) -> int:
        """Client connections currently open through the proxy."""
        return len(self._conns)

    @property
    def hosts(self) -> str:
        """The proxy's address as a client's connect string, ``host:port``."""
        return f"{self.listen_host}:{self.port}"

    # -- plumbing (runs on the proxy's loop) -------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self._loop
        if loop is None:
            coro.close()
            raise RuntimeError("proxy not started")
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("TcpProxy methods must not be called from the proxy's own thread")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(10)

    async def _set(self, fn: Any) -> None:
        fn()

    async def _do_stall(self, dirs: tuple[str, ...]) -> None:
        self._stall.update(dict.fromkeys(dirs, True))
        self._healed = asyncio.Event()

    @property
    def listening(self) -> bool:
        """The proxy accepts connections now (its target accepted the last probe)."""
        return self._server is not None

    def _socket(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.listen_host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.listen_host, self.port))
        except OSError:
            sock.close()
            raise
        return sock

    async def _listen(self) -> None:
        """Take the port; listen at once if the target accepts, else once it does."""
        self._hold = self._socket()
        self.port = self._hold.getsockname()[1]
        if await self._probe():
            await self._open()
        else:
            self._probe_until_up()

    async def _probe(self) -> bool:
        """Does the target accept a connection now? (The probe closes it at once.)"""
        try:
            # (asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
            # arrives as the connect completes, and the cancelled prober then probed forever,
            # so stop() timed out in one clean-clone run of tests/peers/test_proxy.py)
            async with asyncio.timeout(2.0):
                _reader, writer = await asyncio.open_connection(*self.target)
        except (OSError, TimeoutError):
            return False
        writer.close()
        return True

    async def _open(self) -> None:
        sock = self._socket()
        sock.listen(128)
        sock.setblocking(False)
        self._server = await asyncio.start_server(self._accepted, sock=sock)

    def _close_listener(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()

    def _probe_until_up(self) -> None:
        if self._prober is None or self._prober.done():
            self._prober = asyncio.get_running_loop().create_task(self._probing())

    async def _probing(self) -> None:
        while not await self._probe():
            await asyncio.sleep(PROBE)
        if self._server is None:
            await self._open()

    def _check_target(self) -> None:
        if self._server is None or (self._checker is not None and not self._checker.done()):
            return

        async def check() -> None:
            if not await self._probe():
                self._target_refused()
        self._checker = asyncio.get_running_loop().create_task(check())

    def _target_refused(self) -> None:
        """The target refused a forwarded connection: refuse clients until it is back."""
        self._close_listener()
        self._probe_until_up()

    async def _shutdown(self) -> None:
        background = {t for t in (self._prober, self._checker) if t is not None}
        for task in background:
            task.cancel()
        if background:  # bounded: stop() must end even if a task ignored its cancellation
            await asyncio.wait(background, timeout=2)
        self._close_listener()
        if self._hold is not None:
            self._hold.close()
            self._hold = None
        for conn in list(self._conns):
            conn.reset()
        self._conns.clear()
        # Accepted-connection tasks end on their own once their sockets are aborted
        # (cancelling them makes asyncio 3.11 log an error).
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5)
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        if others:
            await asyncio.wait(others, timeout=2)

    async def _do_cut(self) -> None:
        self._cut = True
        for conn in list(self._conns):
            conn.reset()
        self._conns.clear()

    async def _do_heal(self) -> None:
        self._cut = False
        self._discard = {"up": False, "down": False}
        self._delay = {"up": 0.0, "down": 0.0}
        self._stall = {"up": False, "down": False}
        self._loss = {"up": 0.0, "down": 0.0}
        if self._healed is not None:
            self._healed.set()
        for conn in list(self._conns):
            if conn.poisoned:
                conn.reset()
                self._conns.discard(conn)

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._handle(reader, writer)
        except Exception:
            _reset(writer)
        finally:
            self._handlers.discard(task)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self._cut:
            _reset(writer)
            return
        conn = _Conn(writer)
        self._conns.add(conn)
        try:
            if self._discard["up"] and self._discard["down"]:
                conn.poisoned = True  # a partitioned SYN never reaches the target
                await self._drain_forever(reader)
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
            except OSError:
                _reset(writer)  # as the target did to us
                self._target_refused()
                return
            conn.upstream = up_writer
            if conn not in self._conns:  # cut while connecting
                conn.reset()
                return
            await self._splice(conn, reader, writer, up_reader, up_writer)
        finally:
            self._conns.discard(conn)
            for task in conn.tasks:
                task.cancel()
            for w in (conn.client, conn.upstream):
                if w is not None:
                    w.close()

    async def _drain_forever(self, reader: asyncio.StreamReader) -> None:
        while await reader.read(CHUNK):
            pass

    async def _splice(
        self,
        conn: _Conn,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        loop = asyncio.get_running_loop()
        conn.tasks = [
            loop.create_task(self._pump(conn, "up", reader, up_writer)),
            loop.create_task(self._pump(conn, "down", up_reader, writer)),
        ]
        # When either side ends, tear the whole connection down.
        done, _ = await asyncio.wait(conn.tasks, return_when=asyncio.FIRST_COMPLETED)
        if conn.tasks[1] in done and not self._cut and self.probe_on_close:
            # the target ended it: perhaps it stopped listening too (a ZooKeeper leader's
            # quorum port closes when it steps down); if so, stop listening at once
            self._check_target()

    async def _pump(
        self, conn: _Conn, direction: str, src: asyncio.StreamReader, dst: asyncio.StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue(maxsize=64)
        sender = loop.create_task(self._send(conn, queue, dst, direction))
        try:
            while True:
                try:
                    data = await src.read(CHUNK)
                except OSError:
                    data = b""
                if not data:
                    break
                if self._discard[direction]:
                    conn.poisoned = True
                    continue
                due = loop.time() + self._delay[direction]
                await queue.put((due + self._lost_delay(direction, len(data)), data))
            await queue.put(None)
            await sender
        finally:
            sender.cancel()

    async def _send(
        self,
        conn: _Conn,
        queue: asyncio.Queue[tuple[float, bytes] | None],
        dst: asyncio.StreamWriter,
        d: str,
    ) -> None:
        loop = asyncio.get_running_loop()
        while (item := await queue.get()) is not None:
            due, data = item
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            while self._stall[d] and self._healed is not None:
                await self._healed.wait()
            if self._discard[d]:
                conn.poisoned = True
                continue
            self.bytes_forwarded[d] += len(data)
            dst.write(data)
            try:
                await dst.drain()
            except OSError:
                return
