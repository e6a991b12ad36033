"""Measuring warm servers in time-bounded windows (used by compare_all.py).

- `started`: one server or 3-member ensemble of either kind, kept for every round of a shape;
  ZooKeeper with the JVM flags of its own start script unless told otherwise.
- `ProcSampler`: a thread that reads the servers' CPU time and RSS from /proc every 50 ms,
  so CPU per op and RSS can be taken over exactly a workload's timed window.
- `Windows`: runs one workload at a time for ``window`` seconds. The load generator builds
  its requests before the window opens, so each run gets a request budget of ``headroom``
  times the rate seen so far for that workload and server, times the window: the clock, not
  the budget, ends the window (the result says ``capped``). A window that ran out of
  requests first is flagged, and the budget for the next one is raised.
- `Windows.warm_up`: passes over the workloads until ``seconds`` of load have been timed.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import math
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import compare  # benchmarks/compare.py: /proc figures, the listening pid
import compare_ensemble  # benchmarks/compare_ensemble.py: member pids and targets

from roost.bench import SPECS, Config, parse_targets
from roost.bench import run_bench as bench_run
from roost.bench.results import WorkloadResult

#: the first guess of a workload's rate before anything was measured (ops/s)
FIRST_GUESS = 5000.0
#: a window that ran out of requests before its time: the next budget is this much larger
SHORT_FACTOR = 2.0
#: watch-fanout: how long the notifications may take to arrive (seconds)
FANOUT_CAP = 30.0
#: a depth-1 request takes longer than this on loopback: budget of the depth-1 runs (ops/s)
DEPTH1_CEILING = 20000.0


# --- servers ---------------------------------------------------------------------------


@dataclass
class Running:
    """A started server or ensemble: the harness object, its load targets and processes."""

    shape: str
    server: str
    srv: Any
    targets: list[tuple[str, int]]
    pids: list[int]

    def cmdlines(self) -> list[list[str]]:
        out = []
        for pid in self.pids:
            with contextlib.suppress(OSError):
                raw = Path(f"/proc/{pid}/cmdline").read_bytes()
                out.append([a.decode(errors="replace") for a in raw.split(b"\0") if a])
        return out


@contextlib.contextmanager
def started(shape: str, server: str, zk_jvm_flags: Sequence[str]) -> Iterator[Running]:
    """A fresh standalone server or 3-member ensemble of ``server`` on 127.0.0.1."""
    if shape == "standalone":
        if server == "zookeeper":
            from roost.testing.zookeeper import ZooKeeperServer

            cm: contextlib.AbstractContextManager[Any] = ZooKeeperServer(jvm_flags=zk_jvm_flags)
        else:
            cm = compare.start_roost()
        with cm as srv:
            pid = compare.server_pid(srv)
            yield Running(shape, server, srv, parse_targets(srv.hosts), [pid] if pid else [])
    else:
        if server == "zookeeper":
            from roost.testing.zkensemble import ZooKeeperEnsemble

            cm = ZooKeeperEnsemble(compare_ensemble.MEMBERS, jvm_flags=zk_jvm_flags)
        else:
            cm = compare_ensemble.start_roost(None)
        with cm as ens:
            yield Running(shape, server, ens, compare_ensemble.member_targets(ens),
                          compare_ensemble.member_pids(server, ens))


# --- /proc sampling ----------------------------------------------------------------------


class ProcSampler:
    """Summed CPU seconds and RSS of some processes, sampled every ``interval`` seconds on a
    thread, stamped with time.monotonic_ns (the clock of the bench windows)."""

    def __init__(self, pids: Sequence[int], interval: float = 0.05) -> None:
        self.pids = list(pids)
        self.interval = interval
        self.times: list[int] = []
        self.cpu: list[float] = []
        self.rss_kib: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="proc-sampler", daemon=True)

    def __enter__(self) -> ProcSampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5.0)

    def sample(self) -> None:
        cpu, rss = 0.0, 0
        for pid in self.pids:
            with contextlib.suppress(OSError, ValueError, IndexError):
                st = compare.proc_stats(pid)
                cpu += st.cpu_seconds
                rss += st.rss_kib
        self.add(time.monotonic_ns(), cpu, rss)

    def add(self, t_ns: int, cpu: float, rss_kib: int) -> None:
        self.times.append(t_ns)
        self.cpu.append(cpu)
        self.rss_kib.append(rss_kib)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def cpu_at(self, t_ns: int) -> float:
        """Cumulative CPU seconds at ``t_ns``, linear between the samples around it."""
        if not self.times:
            return 0.0
        i = bisect.bisect_left(self.times, t_ns)
        if i == 0:
            return self.cpu[0]
        if i == len(self.times):
            return self.cpu[-1]
        t0, t1 = self.times[i - 1], self.times[i]
        c0, c1 = self.cpu[i - 1], self.cpu[i]
        return c0 + (c1 - c0) * (t_ns - t0) / (t1 - t0) if t1 > t0 else c1

    def cpu_between(self, t0_ns: int, t1_ns: int) -> float:
        return max(0.0, self.cpu_at(t1_ns) - self.cpu_at(t0_ns))

    def rss_max_between(self, t0_ns: int, t1_ns: int) -> int:
        """The largest RSS sampled in [t0, t1] (the nearest sample if none falls inside)."""
        if not self.times:
            return 0
        lo = bisect.bisect_left(self.times, t0_ns)
        hi = bisect.bisect_right(self.times, t1_ns)
        if lo < hi:
            return max(self.rss_kib[lo:hi])
        return self.rss_kib[min(lo, len(self.times) - 1)]


# --- windows -----------------------------------------------------------------------------


def budget(rate: float, window: float, headroom: float, limit: int) -> int:
    """Requests for one window: ``headroom`` x the expected ``rate`` x ``window``, at most
    ``limit`` (the memory the generator's prepared requests may take)."""
    return max(1, min(limit, math.ceil(rate * window * headroom)))


def needs_budget(workload: str) -> bool:
    """Whether the workload is a stream of requests (watch-fanout is one event)."""
    return SPECS[workload].kind != "fanout"


@dataclass
class Windows:
    """Time-bounded runs against one running server, with the rates seen so far."""

    cfg: Config
    window: float
    headroom: float = 1.5
    limit: int = 2_000_000
    sampler: ProcSampler | None = None
    #: workload -> the best ops/s seen (drives the next budget)
    rates: dict[str, float] = field(default_factory=dict)
    #: seconds of timed load so far
    load_seconds: float = 0.0

    def run(self, workload: str, window: float | None = None) -> dict[str, Any]:
        """One window of ``workload``: the bench result row plus the server figures.

        Extra keys: ``by_clock`` (the clock ended the window, not the budget),
        ``server_cpu_seconds``, ``cpu_us_per_op`` and ``rss_kib`` (the servers' summed CPU
        time over the window, per op, and their largest RSS sampled in it).
        """
        secs = self.window if window is None else window
        rate = self.rates.get(workload, FIRST_GUESS)
        ops = budget(rate, secs, self.headroom, self.limit)
        # watch-fanout is one event, not a stream: its cap is only a bound on the wait
        cap = secs if needs_budget(workload) else max(secs, FANOUT_CAP)
        cfg = dataclasses.replace(self.cfg, workloads=[workload], ops=ops, max_seconds=cap)
        (res,) = bench_run(cfg).results
        row = self.figures(res)
        if row["ops_per_sec"] > 0:
            seen = row["ops_per_sec"] * (1.0 if row["by_clock"] else SHORT_FACTOR)
            self.rates[workload] = max(self.rates.get(workload, 0.0), seen)
        self.load_seconds += res.seconds
        return row

    def figures(self, res: WorkloadResult) -> dict[str, Any]:
        row = dataclasses.asdict(res)
        row["by_clock"] = res.capped or not needs_budget(res.workload)
        cpu, rss = 0.0, 0
        if self.sampler is not None:
            self.sampler.sample()  # a sample after the window's end, to interpolate to
            cpu = self.sampler.cpu_between(res.window_start_ns, res.window_end_ns)
            rss = self.sampler.rss_max_between(res.window_start_ns, res.window_end_ns)
        row["server_cpu_seconds"] = cpu
        row["cpu_us_per_op"] = 1e6 * cpu / res.ops if res.ops else 0.0
        row["rss_kib"] = rss
        return row

    def warm_up(self, workloads: Sequence[str], seconds: float,
                max_passes: int = 50) -> list[dict[str, Any]]:
        """Passes over ``workloads`` (one window of at most ``window`` each, and no more
        than ``seconds`` / the number of workloads) until ``seconds`` of load were timed."""
        if seconds <= 0 or not workloads:
            return []
        slice_ = min(self.window, max(seconds / len(workloads), 0.1))
        target = self.load_seconds + seconds
        rows = []
        for _ in range(max_passes):
            for w in workloads:
                rows.append(self.run(w, slice_))
                if self.load_seconds >= target:
                    return rows
        return rows

    def depth1(self, workload: str, seconds: float, ops: int) -> dict[str, Any]:
        """One session, one request at a time, for ``seconds`` (or ``ops`` when > 0)."""
        n = ops if ops > 0 else budget(DEPTH1_CEILING, seconds, 1.0, self.limit)
        cfg = dataclasses.replace(self.cfg, processes=1, clients=1, pipeline=1, ops=n,
                                  max_seconds=seconds, workloads=[workload])
        (res,) = bench_run(cfg).results
        return self.figures(res)

    def paced(self, workload: str, rate: float, seconds: float) -> dict[str, Any]:
        """Open loop at ``rate`` for ``seconds`` (the schedule's length; the cap is twice
        that plus 5 s, so a server that falls behind still ends)."""
        cfg = dataclasses.replace(self.cfg, workloads=[workload], rate=rate,
                                  ops=max(1, round(rate * seconds)),
                                  max_seconds=2 * seconds + 5)
        (res,) = bench_run(cfg).results
        return self.figures(res)
