"""The nemesis workload's choice of operations (no server: a client that records calls)."""

from __future__ import annotations

import threading

from roost.testing.history import History
from roost.testing.nemesis.workload import WorkerState, Workload


class Recorder:
    """A `TestClient` that answers everything at once and records what was asked."""

    kind = "fake"

    def __init__(self) -> None:
        self.lost = threading.Event()
        self.calls: list[str] = []

    def session_id(self) -> int:
        return 1

    def connected(self) -> bool:
        return True

    def create(self, path: str, data: bytes, ephemeral: bool = False) -> None:
        self.calls.append("create")

    def set(self, path: str, data: bytes, version: int) -> int:
        self.calls.append("set")
        return 1

    def delete(self, path: str, version: int) -> None:
        self.calls.append("delete")

    def sync(self, path: str) -> None:
        self.calls.append("sync")

    def get(self, path: str) -> tuple[bytes, int]:
        self.calls.append("get")
        return b"", 0

    def close(self) -> None:
        pass


def test_readers_only_read_and_the_others_mix() -> None:
    history = History()
    work = Workload("/w", 3, history, 3.0, 5.0, seed=7, max_ops=200, read_fraction=0.5,
                    readers=1)
    clients = [Recorder(), Recorder()]
    work.workers = [WorkerState(i, "fake", "", client=c) for i, c in enumerate(clients)]
    work.run(30)  # each worker stops after max_ops
    assert clients[0].calls == ["sync", "get"] * 200
    assert {"set", "create", "delete"} <= set(clients[1].calls)
    assert 50 < clients[1].calls.count("get") < 150
    reads = [op for op in history.operations() if op.process == 0]
    assert len(reads) == 200 and {op.f for op in reads} == {"get"}
