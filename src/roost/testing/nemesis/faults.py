"""The nemesis: applies a `Fault` schedule to a running `RoostEnsemble`, in a thread.

Every fault is healed before the next one starts, and `stop()` heals whatever is still
in effect (resume paused members, restart killed ones, restore every link).
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator

from roost.testing.ensemble import RoostEnsemble
from roost.testing.nemesis.schedule import Fault, split

log = logging.getLogger("roost.nemesis")

#: the test-only storage hook read by roost.storage.wal (milliseconds added to every fsync)
FSYNC_DELAY_ENV = "ROOST_TEST_FSYNC_DELAY_MS"
#: the test-only clock-rate hook read by roost.server.clock
CLOCK_RATE_ENV = "ROOST_TEST_CLOCK_RATE"
#: how far a `clock` fault makes a member's clock rate differ from real time: the clients'
#: assumed bound (ConnectionOptions.clock_drift), the most the lease allows for
CLOCK_SKEW = 0.02


@contextlib.contextmanager
def _env(name: str, value: str | None) -> Iterator[None]:
    old = os.environ.get(name)
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


class Nemesis:
    """Runs `schedule` against `ens` (subprocess, proxied) from `start()` on."""

    def __init__(self, ens: RoostEnsemble, schedule: list[Fault], seed: int,
                 fsync_delay_ms: int = 200) -> None:
        self.ens = ens
        self.schedule = schedule
        self.rng = random.Random(seed ^ 0x5EED)
        self.fsync_delay_ms = fsync_delay_ms
        #: fault kind -> how many were injected
        self.injected: Counter[str] = Counter()
        #: one line per injected fault, for the report
        self.journal: list[str] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        #: set once the whole schedule was injected and healed (or injection was stopped)
        self.finished = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="nemesis", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop injecting and heal everything (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)
        self.heal_all()

    def abort(self) -> None:
        """Stop injecting without healing (the ensemble is about to be stopped anyway)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def heal_all(self) -> None:
        self.ens.heal()
        for i in sorted(self.ens.paused):
            self.ens.resume(i)
        for i, running in enumerate(self.ens.running):
            if not running:
                self.ens.start_member(i)

    # --- the schedule ---------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._run_schedule()
        finally:
            self.finished.set()

    def _run_schedule(self) -> None:
        for fault in self.schedule:
            if self._stop.wait(max(0.0, self._t0 + fault.at - time.monotonic())):
                return
            try:
                self._inject(fault)
            except Exception as e:  # a fault that could not be applied is reported, not fatal
                self.errors.append(f"{fault.describe()}: {type(e).__name__}: {e}")
                log.warning("nemesis: %s failed: %s", fault.describe(), e)
                with contextlib.suppress(Exception):
                    self.heal_all()

    def _target(self, fault: Fault) -> int:
        if fault.target == "leader":
            with contextlib.suppress(TimeoutError):
                return self.ens.leader(timeout=3.0)
            return self.rng.randrange(len(self.ens))
        return int(fault.target)

    def _inject(self, fault: Fault) -> None:
        i = self._target(fault)
        self.journal.append(f"{fault.describe()} -> member index {i}")
        heal = getattr(self, f"_do_{fault.kind}")(fault, i)
        self.injected[fault.kind] += 1
        self._stop.wait(fault.hold)
        heal()

    def _do_kill(self, fault: Fault, i: int) -> object:
        self.ens.kill(i)
        return lambda: self.ens.start_member(i)

    def _do_pause(self, fault: Fault, i: int) -> object:
        self.ens.pause(i)
        return lambda: self.ens.resume(i)

    def _do_partition(self, fault: Fault, i: int) -> object:
        groups = split(len(self.ens), i, fault.variant, self.rng)
        self.journal[-1] += f" groups {groups}"
        self.ens.partition(*groups)
        return self.ens.heal

    def _do_slowdisk(self, fault: Fault, i: int) -> object:
        """Restart member i with every fsync delayed, then restart it normally."""
        self.ens.kill(i)
        with _env(FSYNC_DELAY_ENV, str(self.fsync_delay_ms)):
            self.ens.start_member(i)

        def heal() -> None:
            self.ens.kill(i)
            with _env(FSYNC_DELAY_ENV, None):
                self.ens.start_member(i)

        return heal

    def _do_clock(self, fault: Fault, i: int) -> object:
        """Restart member i with its clock running fast or slow by CLOCK_SKEW (it keeps
        that rate until it is next restarted): a fast leader expires sessions early in
        real time, a slow member answers them for longer."""
        rate = 1 + CLOCK_SKEW if self.rng.random() < 0.5 else 1 - CLOCK_SKEW
        self.journal[-1] += f" rate {rate}"
        self.ens.kill(i)
        with _env(CLOCK_RATE_ENV, str(rate)):
            self.ens.start_member(i)
        return lambda: None
