"""One small blocking client interface over kazoo and roost's `SyncClient`.

Both libraries raise exceptions with the same class names for ZooKeeper error codes
(`NoNodeError`, `BadVersionError`, `NodeExistsError`), which `outcome_of` maps to the
outputs of the linearizability models; any other exception is an unknown outcome.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

#: exception class name -> model output (a definite answer from the ensemble)
ANSWERS = {"NoNodeError": "nonode", "BadVersionError": "badversion",
           "NodeExistsError": "nodeexists"}


def outcome_of(exc: BaseException) -> str | None:
    """The model output an error stands for, or None when the outcome is unknown."""
    return ANSWERS.get(type(exc).__name__)


class TestClient(Protocol):
    kind: str
    #: set once the ensemble said the session expired
    lost: threading.Event

    def session_id(self) -> int: ...
    def connected(self) -> bool: ...
    def create(self, path: str, data: bytes, ephemeral: bool = False) -> None: ...
    def set(self, path: str, data: bytes, version: int) -> int: ...
    def delete(self, path: str, version: int) -> None: ...
    def sync(self, path: str) -> None: ...
    def get(self, path: str) -> tuple[bytes, int]: ...
    def close(self) -> None: ...


class KazooTestClient:
    kind = "kazoo"

    def __init__(self, hosts: str, session_timeout: float, op_timeout: float) -> None:
        from kazoo.client import KazooClient, KazooState

        self.lost = threading.Event()
        self._timeout = op_timeout
        self._zk = KazooClient(hosts=hosts, timeout=session_timeout,
                               connection_retry={"max_tries": -1, "delay": 0.1,
                                                 "max_delay": 1.0})

        def listener(state: Any) -> None:
            if state == KazooState.LOST:
                self.lost.set()

        self._zk.add_listener(listener)
        self._zk.start(timeout=30)

    def session_id(self) -> int:
        cid = self._zk.client_id
        return int(cid[0]) if cid else 0

    def connected(self) -> bool:
        return bool(self._zk.connected)

    def _wait(self, async_result: Any) -> Any:
        return async_result.get(timeout=self._timeout)

    def create(self, path: str, data: bytes, ephemeral: bool = False) -> None:
        self._wait(self._zk.create_async(path, data, ephemeral=ephemeral))

    def set(self, path: str, data: bytes, version: int) -> int:
        return int(self._wait(self._zk.set_async(path, data, version)).version)

    def delete(self, path: str, version: int) -> None:
        self._wait(self._zk.delete_async(path, version))

    def sync(self, path: str) -> None:
        self._wait(self._zk.sync_async(path))

    def get(self, path: str) -> tuple[bytes, int]:
        data, stat = self._wait(self._zk.get_async(path))
        return bytes(data), int(stat.version)

    def close(self) -> None:
        try:
            self._zk.stop()
        finally:
            self._zk.close()


class RoostTestClient:
    kind = "roost"

    def __init__(self, hosts: str, session_timeout: float, op_timeout: float) -> None:
        from roost.client.events import ClientState, StateChange
        from roost.client.sync import SyncClient

        self.lost = threading.Event()
        self._zk = SyncClient(hosts, session_timeout=session_timeout,
                              request_timeout=op_timeout)

        def listener(change: StateChange) -> None:
            if change.state == ClientState.LOST:
                self.lost.set()

        self._zk.add_listener(listener)
        self._zk.start(timeout=30)

    def session_id(self) -> int:
        return int(self._zk.session_id)

    def connected(self) -> bool:
        # CONNECTED or RECONNECTED (the client reports RECONNECTED after any reconnect)
        return bool(self._zk.connected)

    def create(self, path: str, data: bytes, ephemeral: bool = False) -> None:
        self._zk.create(path, data, ephemeral=ephemeral)

    def set(self, path: str, data: bytes, version: int) -> int:
        return int(self._zk.set(path, data, version).version)

    def delete(self, path: str, version: int) -> None:
        self._zk.delete(path, version)

    def sync(self, path: str) -> None:
        self._zk.sync(path)

    def get(self, path: str) -> tuple[bytes, int]:
        data, stat = self._zk.get(path)
        return bytes(data or b""), int(stat.version)

    def close(self) -> None:
        self._zk.close()


def make_client(kind: str, hosts: str, session_timeout: float,
                op_timeout: float) -> TestClient:
    if kind == "kazoo":
        return KazooTestClient(hosts, session_timeout, op_timeout)
    return RoostTestClient(hosts, session_timeout, op_timeout)
