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
