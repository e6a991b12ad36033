"""Lock safety under the nemesis: clients contend for a roost `Lock` or `LeaderLatch`;
each grant's fencing token goes with every write to an independent store (kept here, in
the harness process) that refuses tokens older than the newest it accepted.

Checks, after the run:

* grant tokens strictly increase in the order the grants were seen;
* no two holders had writes accepted while their tenures overlapped (a tenure lasts from
  the grant's arrival to the moment its holder released or saw the grant lost).

A holder writes only while the recipe says it still holds (`is_held()` /
`has_leadership()`, which account for the session's lease), so with a correct server
the store never has to refuse anything; refusals are counted and reported.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from roost.recipes import FencingGate, StaleTokenError


@dataclass
class Tenure:
    holder: str
    token: int
    start: float
    end: float = float("inf")
    #: seconds left on the client's session lease at the holder's last check (None: unknown)
    lease_left: float | None = None


@dataclass
class FencedStore:
    """The independent store: accepts a write iff its token is not older than the newest."""

    gate: FencingGate = field(default_factory=FencingGate)
    #: (time, holder, token) of every accepted write
    accepted: list[tuple[float, str, int]] = field(default_factory=list)
    refused: int = 0
    _mutex: threading.Lock = field(default_factory=threading.Lock)

    def write(self, holder: str, token: int) -> bool:
        with self._mutex:
            try:
                self.gate.admit(token)
            except StaleTokenError:
                self.refused += 1
                return False
            self.accepted.append((time.monotonic(), holder, token))
            return True


@dataclass
class LockRun:
    store: FencedStore = field(default_factory=FencedStore)
    tenures: list[Tenure] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: holder -> when its client heard that its session expired (LOST)
    expiries: dict[str, list[float]] = field(default_factory=dict)
    _mutex: threading.Lock = field(default_factory=threading.Lock)

    def add(self, tenure: Tenure) -> None:
        with self._mutex:
            self.tenures.append(tenure)

    def describe_overlap(self, a: Tenure, b: Tenure) -> str:
        """One line on an overlap: who, how long, and whether the earlier holder's session
        expiry was reported to it around then."""
        lost = [t - b.start for t in self.expiries.get(a.holder, ()) if a.start <= t <= a.end + 5]
        heard = f", {a.holder} heard of its session expiry {lost[0] * 1000:+.0f} ms from " \
                f"{b.holder}'s grant" if lost else ""
        if a.lease_left is not None:
            heard += f", its lease had {a.lease_left * 1000:.0f} ms left at its last check"
        return (f"{a.holder} (token {a.token}) still held when {b.holder} (token {b.token}) "
                f"was granted; overlap {(min(a.end, b.end) - b.start) * 1000:.0f} ms{heard}")

    def overlaps(self) -> list[tuple[Tenure, Tenure]]:
        """Pairs of tenures of different holders that overlapped in time (as the holders
        saw them: from the grant's arrival to the moment the holder stopped)."""
        ts = sorted(self.tenures, key=lambda t: t.start)
        return [(a, b) for i, a in enumerate(ts) for b in ts[i + 1:]
                if a.holder != b.holder and b.start < a.end]

    def anomalies(self) -> list[str]:
        out = []
        grants = sorted(self.tenures, key=lambda t: t.start)
        for a, b in itertools.pairwise(grants):
            if b.token <= a.token:
                out.append(f"grant token {b.token} ({b.holder}) not above the earlier "
                           f"{a.token} ({a.holder})")
        for a, b in self.overlaps():
            lo, hi = b.start, min(a.end, b.end)
            both = [w for w in self.store.accepted
                    if lo <= w[0] <= hi and (w[1], w[2]) in ((a.holder, a.token),
                                                             (b.holder, b.token))]
            if {w[1] for w in both} == {a.holder, b.holder}:
                out.append(f"writes of {a.holder} (token {a.token}) and {b.holder} (token "
                           f"{b.token}) both accepted while their tenures overlapped for "
                           f"{(hi - lo) * 1000:.0f} ms")
        return out


def lock_worker(kind: str, hosts: str, name: str, run: LockRun, deadline: float,
                session_timeout: float, writes: int = 5) -> None:
    """Acquire, write `writes` times while still holding, release; until `deadline`."""
    from roost.client.events import ClientState, StateChange
    from roost.client.sync import SyncClient
    from roost.recipes import LeaderLatch, Lock, blocking

    zk = SyncClient(hosts, session_timeout=session_timeout, request_timeout=5.0)
    lost = run.expiries.setdefault(name, [])

    def listener(change: StateChange) -> None:
        if change.state == ClientState.LOST:
            lost.append(time.monotonic())

    zk.add_listener(listener)
    try:
        zk.start(timeout=30)
        for _ in range(10_000):
            if time.monotonic() >= deadline:
                return
            if kind == "lock":
                recipe: Any = blocking(zk, Lock, "/verify-lock", identifier=name)
                _lock_round(recipe, name, run, zk)
            else:
                recipe = blocking(zk, LeaderLatch, "/verify-latch", name)
                _latch_round(recipe, name, run, zk)
    except Exception as e:
        run.errors.append(f"{name}: {type(e).__name__}: {e}")
    finally:
        zk.close()


def _lock_round(lock: Any, name: str, run: LockRun, zk: Any) -> None:
    try:
        token = lock.acquire(timeout=2.0)
    except Exception:  # timed out, or the connection failed: try again
        return
    tenure = Tenure(name, int(token), time.monotonic())
    run.add(tenure)
    try:
        _write_while(lambda: bool(lock.is_held()), tenure, run, zk)
    finally:
        tenure.end = time.monotonic()
        with contextlib.suppress(Exception):
            lock.release()


def _latch_round(latch: Any, name: str, run: LockRun, zk: Any) -> None:
    try:
        latch.start()
        if not latch.await_leadership(timeout=2.0):
            return
        tenure = Tenure(name, int(latch.token), time.monotonic())
        run.add(tenure)
        try:
            _write_while(lambda: bool(latch.has_leadership()), tenure, run, zk)
        finally:
            tenure.end = time.monotonic()
    except Exception:
        return
    finally:
        with contextlib.suppress(Exception):
            latch.close()


def _write_while(held: Any, tenure: Tenure, run: LockRun, zk: Any, writes: int = 5) -> None:
    for _ in range(writes):
        with contextlib.suppress(Exception):  # diagnostics only
            tenure.lease_left = zk.aio.lease_deadline - zk._loop.time()
        if not held():
            return
        run.store.write(tenure.holder, tenure.token)
        time.sleep(0.02)  # a holder's work between writes: gives contenders time to pile up
