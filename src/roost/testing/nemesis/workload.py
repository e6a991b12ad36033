"""Concurrent clients doing random operations on a few znodes, recorded into a `History`.

Each worker owns one client (kazoo or roost, alternating) and, until the deadline or its
operation budget, picks operations with its own seeded `random.Random`:

* ``get`` = sync, then getData (a linearizable read; a plain read would only be sequentially
  consistent, so none is recorded);
* ``set`` (any version, or the version it last saw), ``create`` and ``delete`` of a key;
* an *append*: create a fresh persistent node under ``<root>/log``. Acknowledged appends are
  kept apart: every one of them must be present on every member at the end.

The first `Workload.readers` workers only do ``get``.

Every worker also holds one ephemeral node ``<root>/eph/w<N>`` created before the faults.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from roost.testing.history import History
from roost.testing.nemesis.clients import TestClient, make_client, outcome_of

log = logging.getLogger("roost.nemesis")


@dataclass
class WorkerState:
    index: int
    kind: str
    hosts: str
    client: TestClient | None = None
    #: session that owns the worker's ephemeral node
    ephemeral_session: int = 0
    ephemeral: str = ""
    acked_appends: list[str] = field(default_factory=list)
    unknown_appends: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def load_over(now: float, deadline: float, cap: float, until: threading.Event | None) -> bool:
    """The workers stop at `deadline` once `until` is set (or without one), at `cap` anyway."""
    return now >= cap or (now >= deadline and (until is None or until.is_set()))


@dataclass
class Workload:
    root: str
    keys: int
    history: History
    session_timeout: float
    op_timeout: float
    seed: int
    max_ops: int = 100_000
    read_fraction: float = 0.35
    #: the first `readers` workers only read (a writer on a member cut off from the
    #: majority waits on its first write there; a reader goes on reading from it)
    readers: int = 0
    workers: list[WorkerState] = field(default_factory=list)

    def key(self, k: int) -> str:
        return f"{self.root}/k{k}"

    def connect(self, hosts_for: list[str], kinds: list[str]) -> None:
        """One worker per entry of `hosts_for`; create the layout and the ephemerals."""
        for i, (hosts, kind) in enumerate(zip(hosts_for, kinds, strict=True)):
            w = WorkerState(i, kind, hosts)
            w.client = make_client(kind, hosts, self.session_timeout, self.op_timeout)
            self.workers.append(w)
        first = self.workers[0].client
        assert first is not None
        for path in (self.root, f"{self.root}/log", f"{self.root}/eph"):
            _create_retrying(first, path)
        for w in self.workers:
            assert w.client is not None
            w.ephemeral = f"{self.root}/eph/w{w.index}"
            _create_retrying(w.client, w.ephemeral, ephemeral=True)
            w.ephemeral_session = w.client.session_id()

    def run(self, seconds: float, until: threading.Event | None = None,
            limit: float | None = None) -> None:
        """Run every worker in its own thread for `seconds` (bounded by `max_ops` each).

        With `until`, the workers go on past `seconds` until the event is set (the nemesis
        has injected and healed its whole schedule, which a loaded machine can delay), but
        never longer than `limit` seconds in all."""
        start = time.monotonic()
        deadline = start + seconds
        cap = start + max(seconds, limit if limit is not None else seconds)

        def over() -> bool:
            return load_over(time.monotonic(), deadline, cap, until)

        threads = [threading.Thread(target=self._work, args=(w, over, cap), daemon=True,
                                    name=f"worker-{w.index}") for w in self.workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(cap - start + 10 * self.op_timeout + 30)

    def _work(self, w: WorkerState, over: Callable[[], bool], cap: float) -> None:
        rng = random.Random(self.seed * 1000 + w.index)
        seen: dict[str, int] = {}
        for n in range(self.max_ops):
            if over():
                return
            try:
                unknown = self._one(w, rng, n, seen)
            except Exception as e:  # a bug in the harness itself: keep it visible
                w.errors.append(f"{type(e).__name__}: {e}")
                log.exception("worker %d", w.index)
                return
            if unknown:
                # each unknown outcome makes the check costlier: no new request until the
                # client has a connection again (or the operation timeout passed)
                _wait_connected(w, min(cap, time.monotonic() + self.op_timeout))

    def _one(self, w: WorkerState, rng: random.Random, n: int, seen: dict[str, int]) -> bool:
        """One random operation; True if its outcome is unknown."""
        client = w.client
        assert client is not None
        path = self.key(rng.randrange(self.keys))
        data = f"w{w.index}-{n}".encode()
        if w.index < self.readers or rng.random() < self.read_fraction:
            return read(self.history, w.index, client, path)
        r = 0.35 + rng.random() * 0.65  # the writes keep their shares relative to each other
        if r < 0.55:
            return self._set(w.index, client, path, data, -1, seen)
        if r < 0.65:
            return self._set(w.index, client, path, data, seen.get(path, 0), seen)
        if r < 0.75:
            return self._write(w.index, client, "create", (path, data))
        if r < 0.82:
            return self._write(w.index, client, "delete", (path, -1))
        return self._append(w, client, f"{self.root}/log/w{w.index}-{n}")

    def _set(self, p: int, client: TestClient, path: str, data: bytes, version: int,
             seen: dict[str, int]) -> bool:
        h = self.history.invoke(p, "set", (path, data, version))
        try:
            new = client.set(path, data, version)
        except Exception as e:
            return _settle(self.history, h, e)
        seen[path] = new
        self.history.ok(h, new)
        return False

    def _write(self, p: int, client: TestClient, f: str, args: tuple[str, bytes | int]) -> bool:
        h = self.history.invoke(p, f, args)
        try:
            if f == "create":
                client.create(args[0], args[1])  # type: ignore[arg-type]
            else:
                client.delete(args[0], args[1])  # type: ignore[arg-type]
        except Exception as e:
            return _settle(self.history, h, e)
        self.history.ok(h, "ok")
        return False

    def _append(self, w: WorkerState, client: TestClient, path: str) -> bool:
        try:
            client.create(path, b"a")
        except Exception as e:
            if outcome_of(e) is None:
                w.unknown_appends.append(path)
                return True
            return False
        w.acked_appends.append(path)
        return False


def read(history: History, p: Hashable, client: TestClient, path: str) -> bool:
    """sync + getData, recorded as one linearizable `get`; True if the outcome is unknown."""
    h = history.invoke(p, "get", (path,))
    try:
        client.sync(path)
        value: object = client.get(path)
    except Exception as e:
        return _settle(history, h, e)
    history.ok(h, value)
    return False


def _settle(history: History, h: int, exc: BaseException) -> bool:
    answer = outcome_of(exc)
    if answer is None:
        history.info(h)
        return True
    history.ok(h, answer)
    return False


def _wait_connected(w: WorkerState, until: float) -> None:
    while time.monotonic() < until:
        if w.client is not None and w.client.connected():
            return
        time.sleep(0.05)


def _create_retrying(client: TestClient, path: str, ephemeral: bool = False,
                     timeout: float = 30.0) -> None:
    """Create `path` before the faults start (NodeExists after a lost reply is fine)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.create(path, b"", ephemeral=ephemeral)
            return
        except Exception as e:
            if outcome_of(e) == "nodeexists":
                return
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
