"""benchmarks/warm.py: request budgets of the time-bounded windows, and CPU/RSS over a window."""

from __future__ import annotations

import os
import time

import pytest

from .scripts import load_script


def test_budget_is_headroom_times_rate_times_window_within_limits() -> None:
    warm = load_script("warm")
    assert warm.budget(10000.0, 6.0, 1.5, 2_000_000) == 90000
    assert warm.budget(10000.0, 6.0, 1.5, 50000) == 50000  # the memory limit
    assert warm.budget(0.0, 6.0, 1.5, 100) == 1
    assert warm.needs_budget("create-100") and not warm.needs_budget("watch-fanout")


def test_rates_grow_after_a_window_the_budget_ended_early() -> None:
    warm = load_script("warm")
    runs: list[tuple[int, float]] = []

    class FakeResult:
        def __init__(self, ops: int, seconds: float, capped: bool) -> None:
            self.workload, self.ops, self.seconds, self.capped = "get-1k", ops, seconds, capped
            self.window_start_ns, self.window_end_ns = 1, 2

    def fake_bench(cfg: object) -> object:
        ops, secs = cfg.ops, cfg.max_seconds  # type: ignore[attr-defined]
        runs.append((ops, secs))
        # a server doing 40k ops/s: a budget below 40k * window runs out before the clock
        done = min(ops, int(40000 * secs))
        res = FakeResult(done, done / 40000, capped=done < ops)

        class Rep:
            results = [res]

        return Rep()

    win = warm.Windows(cfg=warm.Config(targets=[("127.0.0.1", 1)]), window=1.0, headroom=1.5)
    win.figures = lambda res: {"ops_per_sec": res.ops / res.seconds,  # type: ignore[method-assign]
                               "by_clock": res.capped}
    orig = warm.bench_run
    warm.bench_run = fake_bench
    try:
        rows = [win.run("get-1k") for _ in range(4)]
    finally:
        warm.bench_run = orig
    # first guess 5000/s -> 7500 requests, out before the clock: the next budget doubles the
    # rate seen (2 x 40k), so from then on the clock ends every window
    assert runs[0] == (7500, 1.0)
    assert [r["by_clock"] for r in rows] == [False, True, True, True]
    assert runs[1][0] == 120000 and win.rates["get-1k"] == 80000.0
    assert win.load_seconds == pytest.approx(7500 / 40000 + 3 * 1.0)


def test_warm_up_runs_passes_until_enough_load_was_timed() -> None:
    warm = load_script("warm")
    win = warm.Windows(cfg=warm.Config(targets=[("127.0.0.1", 1)]), window=6.0)
    seen: list[tuple[str, float]] = []

    def fake_run(w: str, window: float | None = None) -> dict[str, object]:
        seen.append((w, window or 0.0))
        win.load_seconds += 0.5 * (window or 0.0)  # every window half as long as asked
        return {"workload": w}

    win.run = fake_run  # type: ignore[method-assign]
    rows = win.warm_up(["a", "b", "c"], 6.0)
    # each window at most seconds / workloads = 2 s; 6 s of timed load = 6 windows of 1 s
    assert [w for w, _ in seen] == ["a", "b", "c", "a", "b", "c"]
    assert all(secs == 2.0 for _, secs in seen) and len(rows) == 6
    assert win.warm_up(["a"], 0.0) == []


def test_sampler_interpolates_cpu_and_takes_the_largest_rss_in_the_window() -> None:
    warm = load_script("warm")
    s = warm.ProcSampler([])
    for t, cpu, rss in [(0, 0.0, 100), (1000, 1.0, 300), (2000, 3.0, 200), (3000, 3.0, 50)]:
        s.add(t, cpu, rss)
    assert s.cpu_at(500) == pytest.approx(0.5)
    assert s.cpu_between(500, 1500) == pytest.approx(1.5)
    assert s.cpu_between(-10, 5000) == pytest.approx(3.0)  # clamped to the samples
    assert s.rss_max_between(900, 2100) == 300
    assert s.rss_max_between(1100, 1900) == 200  # no sample inside: the next one


def test_sampler_reads_this_process_from_proc() -> None:
    warm = load_script("warm")
    with warm.ProcSampler([os.getpid()], interval=0.01) as s:
        t0 = time.monotonic_ns()
        deadline = time.process_time() + 0.2
        while time.process_time() < deadline:  # burn 0.2 s of CPU (bounded)
            pass
        t1 = time.monotonic_ns()
        s.sample()
    assert s.cpu_between(t0, t1) > 0.05
    assert s.rss_max_between(t0, t1) > 1000
