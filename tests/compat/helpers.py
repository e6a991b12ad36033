"""Small shared helpers for the compatibility suite: watch callbacks collected, a connection
dropped, a session expired. (Polling with a deadline: `roost.testing.wait`.)"""

from __future__ import annotations

import threading
import time
from typing import Any

#: Default deadline for anything the tests wait for (seconds).
DEADLINE = 10.0


class Collector:
    """Thread-safe list of callback arguments, with waiting helpers (for watches)."""

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._cond = threading.Condition()

    def __call__(self, item: Any) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    @property
    def items(self) -> list[Any]:
        with self._cond:
            return list(self._items)

    def __bool__(self) -> bool:  # kazoo tests `if watch:`; an empty collector must be truthy
        return True

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def wait_for(self, count: int, timeout: float = DEADLINE) -> list[Any]:
        """Wait until at least `count` items arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._items) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} callbacks within {timeout}s, got {self._items!r}"
                    )
                self._cond.wait(left)
            return list(self._items)


def drop_connection(client: Any, timeout: float = DEADLINE) -> None:
    """Drop kazoo's TCP connection (the session stays) and wait until it reconnects.

    Uses kazoo's own test hook: the I/O loop raises ConnectionDropped, closes the socket
    and reconnects to the same session, exactly as after a network failure.
    """
    from kazoo.protocol.connection import _CONNECTION_DROP
    from kazoo.protocol.states import KazooState

    states: list[Any] = []
    reconnected = threading.Event()

    def listener(state: Any) -> bool:
        states.append(state)
        if KazooState.SUSPENDED in states and state == KazooState.CONNECTED:
            reconnected.set()
            return True
        return False

    client.add_listener(listener)
    client._call(_CONNECTION_DROP, None)
    if not reconnected.wait(timeout):
        raise AssertionError(f"kazoo did not reconnect within {timeout}s (states {states})")


def expire_session(client: Any, host: str, port: int, timeout: float = 20.0) -> list[Any]:
    """End `client`'s session from outside, as kazoo's harness used to.

    A raw connection attaches to the same session id and password (the server then closes
    the first client's connection) and closes the session. When the first client
    reconnects it is told the session expired (state LOST). The ConnectRequest and the
    closeSession request go out in one write: the first client reconnects within
    milliseconds and takes the session back from whichever connection claimed it last, so a
    second kazoo client (which only sends closeSession once its own thread has seen the
    handshake, and whose start() checks the chroot with one more request) lost that race
    under load and failed with ConnectionLoss or a connection time-out. Repeated until LOST
    is seen, in case the first client still wins the race back to the session.
    Returns the states the first client went through.
    """
    from kazoo.protocol.states import KazooState

    from roost.wire.opcodes import Op
    from roost.wire.protocol import encode_frame, encode_request
    from roost.wire.records import ConnectRequest, Empty

    from .rawclient import ConnectionClosed, RawClient

    states: list[Any] = []
    lost = threading.Event()

    def listener(state: Any) -> None:
        states.append(state)
        if state == KazooState.LOST:
            lost.set()

    client.add_listener(listener)
    session_id, passwd = client.client_id
    attach = ConnectRequest(0, 0, 10_000, session_id, passwd, False, True)
    deadline = time.monotonic() + timeout
    try:
        while not lost.is_set():
            if time.monotonic() >= deadline:
                raise AssertionError(f"session was not expired (states {states})")
            raw = RawClient(host, port, timeout=timeout)
            try:
                raw.send_bytes(encode_frame(attach) + encode_request(1, Op.CLOSE_SESSION, Empty()))
                # the server answers both and closes the connection (or closes it at once
                # if the session is already gone, or the first client took it back)
                raw.wait_closed(max(deadline - time.monotonic(), 0.1))
            except (OSError, ConnectionClosed):
                pass  # the connection broke: try again until the deadline
            finally:
                raw.close()
            lost.wait(2.0)
    finally:
        client.remove_listener(listener)
    return states
