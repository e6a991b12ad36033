"""A cuttable TCP proxy on 127.0.0.1 for reconnect tests, built on threads.

    with TcpProxy(("127.0.0.1", server_port)) as proxy:
        client connects to proxy.hosts
        proxy.cut()      # drop every open connection; new ones are closed at once
        proxy.restore()  # accept and forward again

Each forwarded connection has two pump threads; a cut shuts the sockets down (which wakes
both pumps), and the second pump to finish closes them.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class _Pair:
    """The client-side and server-side sockets of one forwarded connection."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.sockets = (client, upstream)
        self._lock = threading.Lock()
        self._finished = 0

    def shutdown(self) -> None:
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def pump_finished(self) -> None:
        self.shutdown()
        with self._lock:
            self._finished += 1
            last = self._finished == 2
        if last:
            for sock in self.sockets:
                sock.close()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to `upstream` until cut."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: list[_Pair] = []
        self._cut = False
        self.accepted = 0
        self._acceptor = threading.Thread(
            target=self._accept_loop, daemon=True, name=f"proxy-{self.port}"
        )
        self._acceptor.start()

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"

    def cut(self) -> None:
        """Drop every forwarded connection and refuse new ones until `restore`."""
        with self._lock:
            self._cut = True
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            pair.shutdown()

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    def close(self) -> None:
        self.cut()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._acceptor.join(5)

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                refuse = self._cut
            if refuse:
                client.close()
                continue
            self._forward(client)

    def _forward(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        pair = _Pair(client, upstream)
        with self._lock:
            if self._cut:
                pair.shutdown()
            self._pairs.append(pair)
        for src, dst in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(pair, src, dst), daemon=True).start()

    @staticmethod
    def _pump(pair: _Pair, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            pair.pump_finished()
