"""TcpProxy with plain sockets, and the peer transport running through proxies."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from roost.testing.ports import free_port
from roost.testing.proxy import TcpProxy
from roost.testing.wait import wait_until, wait_until_async

from .helpers import LOCAL, Member, all_connected, close_all, mesh, run

QUIET = 0.3  # how long a test listens to check that nothing arrives


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = 0) -> None:
        super().__init__((LOCAL, port), _EchoHandler)
        self.received = bytearray()
        self.accepted = 0
        self.lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _EchoHandler(socketserver.BaseRequestHandler):
    server: EchoServer

    def handle(self) -> None:
        with self.server.lock:
            self.server.accepted += 1
        try:
            while data := self.request.recv(65536):
                with self.server.lock:
                    self.server.received += data
                self.request.sendall(data)
        except OSError:
            pass


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def proxy(echo: EchoServer) -> Iterator[TcpProxy]:
    p = TcpProxy(listen_port=0, target=(LOCAL, echo.port))
    p.start()
    # the proxy listens once a probe got through to the target: count from here on
    wait_until(lambda: echo.accepted == 1, what="the proxy's probe")
    with echo.lock:
        echo.accepted = 0
    yield p
    p.stop()


def connect(port: int) -> socket.socket:
    s = socket.create_connection((LOCAL, port), timeout=5)
    s.settimeout(5)
    return s


def recv_exactly(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def is_closed(s: socket.socket, timeout: float = 5.0) -> bool:
    """True if the other end closes (EOF or reset) within `timeout`, draining any data."""
    s.settimeout(timeout)
    try:
        while s.recv(65536):
            pass
    except ConnectionError:
        return True
    except TimeoutError:
        return False
    return True


def refused_or_reset(port: int) -> bool:
    """True if a new connection is refused, or reset before any data comes back."""
    try:
        s = connect(port)
    except ConnectionError:
        return True
    with s:
        try:
            s.sendall(b"during cut")
        except ConnectionError:
            return True
        return is_closed(s)


def is_silent(s: socket.socket) -> bool:
    """True if nothing at all (no data, no EOF) arrives for QUIET seconds."""
    s.settimeout(QUIET)
    try:
        s.recv(65536)
    except TimeoutError:
        return True
    except ConnectionError:
        return False
    return False


def test_forwards_both_ways(proxy: TcpProxy, echo: EchoServer) -> None:
    with connect(proxy.port) as s:
        s.sendall(b"hello proxy")
        assert recv_exactly(s, 11) == b"hello proxy"
        assert proxy.connections == 1
        assert proxy.bytes_forwarded == {"up": 11, "down": 11}
    wait_until(lambda: proxy.connections == 0, 5, what="connection gone")


def test_cut_resets_connections_and_refuses_new_ones_until_heal(
    proxy: TcpProxy, echo: EchoServer
) -> None:
    s = connect(proxy.port)
    s.sendall(b"x")
    assert recv_exactly(s, 1) == b"x"
    proxy.cut()
    assert is_closed(s)
    s.close()
    for _ in range(3):
        assert refused_or_reset(proxy.port)
    assert echo.accepted == 1
    proxy.heal()
    with connect(proxy.port) as s3:
        s3.sendall(b"healed")
        assert recv_exactly(s3, 6) == b"healed"


def test_blackhole_discards_silently_and_heal_resets_damaged_streams(
    proxy: TcpProxy, echo: EchoServer
) -> None:
    s = connect(proxy.port)
    s.sendall(b"a")
    assert recv_exactly(s, 1) == b"a"
    proxy.blackhole()
    s.sendall(b"lost")
    assert is_silent(s)
    assert bytes(echo.received) == b"a"
    # a connection made during the partition never reaches the target
    s2 = connect(proxy.port)
    s2.sendall(b"syn")
    assert is_silent(s2)
    assert echo.accepted == 1
    proxy.heal()
    assert is_closed(s) and is_closed(s2)
    s.close()
    s2.close()
    with connect(proxy.port) as s3:
        s3.sendall(b"ok")
        assert recv_exactly(s3, 2) == b"ok"
    assert bytes(echo.received) == b"aok"


def test_blackhole_one_direction_only(proxy: TcpProxy, echo: EchoServer) -> None:
    with connect(proxy.port) as s:
        proxy.blackhole("down")
        s.sendall(b"up-goes-through")
        wait_until(lambda: bytes(echo.received) == b"up-goes-through", 5, what="upstream bytes")
        assert is_silent(s)
    proxy.heal()
    with connect(proxy.port) as s:
        proxy.blackhole("up")
        s.sendall(b"dropped")
        assert is_silent(s)
        assert bytes(echo.received) == b"up-goes-through"


def test_delay_holds_bytes_and_keeps_order(proxy: TcpProxy) -> None:
    with connect(proxy.port) as s:
        proxy.delay(0.2)
        start = time.monotonic()
        for i in range(5):
            s.sendall(b"%d" % i)
        assert recv_exactly(s, 5) == b"01234"
        assert time.monotonic() - start >= 0.4  # 0.2 s each way
        proxy.delay(0.0)
        s.sendall(b"z")
        assert recv_exactly(s, 1) == b"z"


def test_loss_holds_a_lost_segment_for_the_retransmission_and_keeps_order(
        proxy: TcpProxy) -> None:
    with connect(proxy.port) as s:
        proxy.loss(0.5, "up", seed=7, rto=0.3)
        start = time.monotonic()
        for i in range(8):  # one chunk each: every byte is echoed before the next is sent
            s.sendall(b"%d" % i)
            assert recv_exactly(s, 1) == b"%d" % i
        lost = proxy.lost_chunks
        assert 1 <= lost < 8  # seeded: some, not all
        assert time.monotonic() - start >= 0.3 * lost
        proxy.heal()
        s.sendall(b"z")
        assert recv_exactly(s, 1) == b"z"
        assert proxy.lost_chunks == lost
    with pytest.raises(ValueError):
        proxy.loss(1.0)


def test_bad_direction_and_stop(echo: EchoServer) -> None:
    p = TcpProxy(target=(LOCAL, echo.port)).start()
    port = p.port
    with pytest.raises(ValueError):
        p.blackhole("sideways")  # type: ignore[arg-type]
    s = connect(port)
    p.stop()
    assert is_closed(s)
    s.close()
    with pytest.raises(OSError):
        connect(port).close()


def test_refuses_connections_until_the_target_accepts_them() -> None:
    """A host whose server is not listening refuses a connect; the proxy standing for it
    must too (accepting and then closing made ZooKeeper's followers drop back to the
    election), and must let clients in once the target listens, and refuse again once
    the target is gone."""
    target = free_port()
    p = TcpProxy(target=(LOCAL, target)).start()
    try:
        with pytest.raises(ConnectionRefusedError):
            connect(p.port).close()
        assert not p.listening
        assert p.accepted == 0
        late = EchoServer(target)  # the target starts late
        thread = threading.Thread(target=late.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            wait_until(lambda: p.listening, what="the proxy to listen")
            with connect(p.port) as s:
                s.sendall(b"through")
                assert recv_exactly(s, 7) == b"through"
        finally:
            late.shutdown()
            late.server_close()
            thread.join(5)
        # the target is gone: at most one connection gets in (and is reset, as the
        # target reset the proxy's), then connects are refused again
        outcomes = []
        for _ in range(3):
            try:
                s = connect(p.port)
            except ConnectionRefusedError:
                outcomes.append("refused")
                continue
            except ConnectionResetError:  # reset before connect() returned
                outcomes.append("reset")
                wait_until(lambda: not p.listening, what="the proxy to stop listening")
                continue
            with s:
                outcomes.append("reset" if is_closed(s) else "open")
            wait_until(lambda: not p.listening, what="the proxy to stop listening")
        assert outcomes in (["refused"] * 3, ["reset", "refused", "refused"]), outcomes
    finally:
        p.stop()


def test_stops_listening_when_the_target_closes_and_stops_listening() -> None:
    """A ZooKeeper leader that steps down closes its followers' connections and its quorum
    port: the next follower must be refused, not accepted and reset."""
    listener = socket.create_server((LOCAL, 0))
    p = TcpProxy(target=(LOCAL, listener.getsockname()[1])).start()
    try:
        listener.accept()[0].close()  # the start-up probe
        with connect(p.port) as c:
            upstream, _ = listener.accept()
            c.sendall(b"x")
            assert upstream.recv(1) == b"x"
            listener.close()  # the target stops listening, then ends the connection
            upstream.close()
            assert is_closed(c)
        wait_until(lambda: not p.listening, what="the proxy to stop listening")
        with pytest.raises(ConnectionRefusedError):
            connect(p.port).close()
    finally:
        p.stop()
        listener.close()


class _AnswerHandler(socketserver.BaseRequestHandler):
    """A four-letter word: read the command, answer, close (and count the connection)."""

    server: EchoServer

    def handle(self) -> None:
        with self.server.lock:
            self.server.accepted += 1
        with contextlib.suppress(OSError):
            if data := self.request.recv(4):
                self.request.sendall(b"imok" if data == b"ruok" else b"?")


@pytest.mark.parametrize("probe_on_close", [True, False])
def test_a_target_ending_connections_costs_a_probe_each_unless_told_not_to(
        probe_on_close: bool) -> None:
    """Each connection the target ends is followed by a probe (an empty connection) unless
    the proxy stands for a port whose server ends connections and keeps listening."""
    target = EchoServer()
    target.RequestHandlerClass = _AnswerHandler
    thread = threading.Thread(target=target.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    p = TcpProxy(target=(LOCAL, target.port), probe_on_close=probe_on_close).start()
    try:
        wait_until(lambda: target.accepted == 1, what="the start-up probe")
        per_word = 2 if probe_on_close else 1
        for i in range(1, 6):
            with connect(p.port) as s:
                s.sendall(b"ruok")
                assert recv_exactly(s, 4) == b"imok"
                assert is_closed(s)
            want = 1 + i * per_word
            wait_until(lambda want=want: target.accepted >= want,
                       what=f"{want} connections at the target")
        time.sleep(QUIET)  # and no more than that: nothing arrives within a window
        assert target.accepted == 1 + 5 * per_word
        assert p.listening
    finally:
        p.stop()
        target.shutdown()
        target.server_close()
        thread.join(5)


# -- the peer transport through proxies ------------------------------------------------------


async def proxied_pair() -> tuple[Member, Member, TcpProxy, TcpProxy]:
    """Members 1 and 2; 1 reaches 2 through `p12`, 2 reaches 1 through `p21`."""
    a, b = await mesh([1, 2])
    p12 = TcpProxy(target=b.addr).start()
    p21 = TcpProxy(target=a.addr).start()
    a.t.update_peers({2: (LOCAL, p12.port)})
    b.t.update_peers({1: (LOCAL, p21.port)})
    return a, b, p12, p21


def test_transport_through_cut_and_heal() -> None:
    async def body() -> None:
        a, b, p12, p21 = await proxied_pair()
        try:
            await all_connected([a, b])
            downs_a, downs_b = a.count("down", 2), b.count("down", 1)
            assert a.t.send(2, 0, b"before")
            await wait_until_async(lambda: b.from_peer(1) == [b"before"], 5, what="before")
            p12.cut()
            # Both ends of the cut connection hear of it at once.
            await wait_until_async(lambda: a.count("down", 2) == downs_a + 1, timeout=2,
                                   what="a: down(2)")
            await wait_until_async(lambda: b.count("down", 1) == downs_b + 1, timeout=2,
                                   what="b: down(1)")
            assert not a.t.send(2, 0, b"during")
            # the other direction has its own connection, through the other proxy
            assert b.t.connected(1) and b.t.send(1, 0, b"b still talks")
            await wait_until_async(lambda: a.from_peer(2)[-1:] == [b"b still talks"], 5,
                                   what="b->a")
            p12.heal()
            await wait_until_async(lambda: a.t.connected(2), timeout=5, what="reconnect after heal")
            assert a.t.send(2, 0, b"after")
            await wait_until_async(lambda: b.from_peer(1) == [b"before", b"after"], 5, what="after")
        finally:
            await close_all([a, b])
            p12.stop()
            p21.stop()

    run(body)


def test_transport_through_blackhole_and_heal() -> None:
    async def body() -> None:
        a, b, p12, p21 = await proxied_pair()
        try:
            await all_connected([a, b])
            downs = a.count("down", 2)
            p12.blackhole()
            # No reset: the sender cannot tell, and its messages vanish.
            assert a.t.send(2, 0, b"into the void")
            await asyncio.sleep(QUIET)  # a window in which nothing may happen (all cut)
            assert a.t.connected(2) and a.count("down", 2) == downs
            assert b.from_peer(1) == []
            p12.heal()
            await wait_until_async(lambda: a.count("down", 2) == downs + 1, 5,
                                   what="damaged link reset")
            await wait_until_async(lambda: a.t.connected(2), 5, what="reconnect")
            assert a.t.send(2, 0, b"after heal")
            await wait_until_async(lambda: b.from_peer(1) == [b"after heal"], 5, what="after heal")
        finally:
            await close_all([a, b])
            p12.stop()
            p21.stop()

    run(body)


def test_retarget_sends_new_connections_elsewhere(proxy: TcpProxy, echo: EchoServer) -> None:
    other = EchoServer()
    thread = threading.Thread(target=other.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        with connect(proxy.port) as s1:
            s1.sendall(b"one")
            assert recv_exactly(s1, 3) == b"one"
            proxy.retarget((LOCAL, other.port))
            with connect(proxy.port) as s2:
                s2.sendall(b"two")
                assert recv_exactly(s2, 3) == b"two"
            s1.sendall(b"1")  # the old connection keeps its upstream
            assert recv_exactly(s1, 1) == b"1"
        assert bytes(echo.received) == b"one1"
        assert bytes(other.received) == b"two"
    finally:
        other.shutdown()
        other.server_close()
        thread.join(5)


def test_stall_holds_bytes_until_heal_then_delivers_them_in_order(
    proxy: TcpProxy, echo: EchoServer
) -> None:
    with connect(proxy.port) as s:
        proxy.stall("up")
        s.sendall(b"held-1;")
        s.sendall(b"held-2;")
        assert is_silent(s)
        assert bytes(echo.received) == b""
        proxy.heal()
        assert recv_exactly(s, 14) == b"held-1;held-2;"
        proxy.stall("down")
        s.sendall(b"reply held")
        wait_until(lambda: bytes(echo.received).endswith(b"reply held"), 5, what="upstream")
        assert is_silent(s)
        proxy.heal()
        assert recv_exactly(s, 10) == b"reply held"


def test_transport_survives_a_stall_without_losing_messages() -> None:
    async def body() -> None:
        a, b, p12, p21 = await proxied_pair()
        try:
            await all_connected([a, b])
            p12.stall()
            for i in range(50):
                assert a.t.send(2, 0, b"m%d" % i)
            await asyncio.sleep(QUIET)  # a window in which nothing may arrive (stalled)
            assert b.from_peer(1) == [] and a.t.connected(2)
            p12.heal()
            await wait_until_async(lambda: len(b.from_peer(1)) == 50, 5, what="held messages")
            assert b.from_peer(1) == [b"m%d" % i for i in range(50)]
            assert a.count("down", 2) == 0
        finally:
            await close_all([a, b])
            p12.stop()
            p21.stop()

    run(body)
