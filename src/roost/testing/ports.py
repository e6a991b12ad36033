"""Free TCP ports for test servers, never the same one twice in a process.

The kernel hands out port 0 binds from its ephemeral range and can give a port back again
right after it was released, so an ensemble that asks for 30 ports (clients, peers,
proxies, HTTP) could get one twice and collide with itself. Every harness asks here."""

from __future__ import annotations

import socket
import threading

_lock = threading.Lock()
#: every port this process handed out (a test run asks for a few thousand at most)
_given: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago and that this process has not handed out."""
    for _ in range(1000):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        with _lock:
            if port not in _given:
                _given.add(port)
                return port
    raise OSError("no free TCP port that was not handed out before")


def free_port_block(offsets: tuple[int, ...], host: str = "127.0.0.1") -> int:
    """A base port such that base + each offset was free a moment ago and none was handed
    out before (for tools that derive ports from one base: `roost cluster up --base-port`
    uses base + i for clients and base + 100 + i for peers)."""
    for _ in range(1000):
        base = free_port(host)
        ports = [base + off for off in offsets]
        if max(ports) > 65535:
            continue
        with _lock:
            if any(p in _given for p in ports if p != base):
                continue
        try:
            for p in ports:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind((host, p))
        except OSError:
            continue
        with _lock:
            _given.update(ports)
        return base
    raise OSError(f"no free block of TCP ports at offsets {offsets}")


def accepts(port: int, host: str = "127.0.0.1", timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections at host:port now (for `wait_until`: a
    server started as a subprocess is listening)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
