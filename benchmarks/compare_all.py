#!/usr/bin/env python3
"""Every `roost bench` workload against warm Apache ZooKeeper and roost, standalone and 3-member.

    python benchmarks/compare_all.py --rounds 5 --memory-nodes 100000

Per shape (standalone; 3-member ensemble on 127.0.0.1) it starts ONE ZooKeeper and ONE roost
and keeps them for every round of that shape. ZooKeeper runs as its users run it: with the
JVM flags of its own start script (1000 MB heap, the JVM's default collector G1;
`--zk-jvm-flags` to change). Each server is first warmed by `--warmup-seconds` of load over
all the workloads (nothing of it is in the tables; its first pass, the cold start, is in the
JSON). Then, in rounds whose order alternates between the servers, each workload runs for a
time-bounded window of `--window` seconds (default 2 processes x 8 sessions x depth 32;
ensemble sessions spread over the members). The table shows per workload the median ops/s
over the rounds with min and max, the ratio roost/ZooKeeper of the medians, latency medians,
and the servers' CPU time per op and RSS over the windows (read from /proc). Then, on the same
warm servers: latency (one session at depth 1 for create-100, set-1k and get-1k; equal
offered load: set-1k and mixed-90 sent open-loop at the same rate to both, half the lower
median ops/s, latency from the scheduled send time), and for the ensembles failover after
SIGKILL of the leader. Finally memory: RSS after N znodes of 100 B, restart time over that
data set and snapshot size (`memory.py`, fresh servers).

Both servers fsync before acknowledging writes (ZooKeeper's forceSync=yes default; roost's
default). `--quick` is a smoke test of every code path in a few seconds of load (its
figures mean nothing). Any error or failed check in any run: exit 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import shlex
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import compare  # noqa: E402
import compare_ensemble  # noqa: E402
import memory  # noqa: E402
import warm  # noqa: E402

from roost.bench import STANDARD, BenchError, Config, parse_workloads  # noqa: E402
from roost.testing.ports import free_port  # noqa: E402
from roost.testing.zookeeper import PRODUCTION_JVM_FLAGS  # noqa: E402

SERVERS = ("zookeeper", "roost")
LABELS = {"zookeeper": "ZooKeeper", "roost": "roost"}
SHAPES = ("standalone", "ensemble")
#: what --quick sets (each can still be given explicitly)
QUICK = {"rounds": 1, "warmup_seconds": 1.0, "window": 0.25, "processes": 1, "clients": 2,
         "pipeline": 4, "watchers": 3, "failover_runs": 1, "memory_nodes": "30",
         "latency_seconds": 0.25, "ceiling_seconds": 0.25, "headroom": 3.0}
FIGURE_KEYS = ("ops_per_sec", "p50_ms", "p99_ms", "p999_ms", "cpu_us_per_op", "rss_kib")


@dataclass
class Cell:
    """One server, one shape: every round's window results, and the warm-up's."""

    #: one per round: {"results": [a result row per workload]} (see warm.Windows.run)
    reports: list[dict[str, Any]] = field(default_factory=list)
    #: the warm-up's rows in order; its first pass is the cold start
    warmup: list[dict[str, Any]] = field(default_factory=list)
    warmup_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    peak_rss_kib: int = 0
    pids: list[int] = field(default_factory=list)
    cmdlines: list[list[str]] = field(default_factory=list)
    failovers: list[dict[str, Any]] = field(default_factory=list)
    failover_error: str = ""

    def rows(self, workload: str) -> list[dict[str, Any]]:
        return [r for rep in self.reports for r in rep["results"] if r["workload"] == workload]

    def figures(self, workload: str) -> dict[str, float] | None:
        """Medians over the rounds, min and max of ops/s, errors and short windows."""
        rows = self.rows(workload)
        if not rows:
            return None
        out = {k: float(statistics.median(r.get(k, 0.0) for r in rows)) for k in FIGURE_KEYS}
        out["min_ops_per_sec"] = min(r["ops_per_sec"] for r in rows)
        out["max_ops_per_sec"] = max(r["ops_per_sec"] for r in rows)
        out["errors"] = sum(r["errors"] + r["check_failures"] for r in rows)
        out["short_windows"] = sum(not r.get("by_clock", True) for r in rows)
        return out


def ceiling(cfg: Config, workloads: Sequence[str], window: float,
            warmup: float) -> dict[str, float]:
    """ops/s of the same generator against `roost bench null-server` (no checks)."""
    port = free_port()
    cmd = [sys.executable, "-m", "roost.cli", "bench", "null-server", "--port", str(port)]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError("the null server did not start")
            time.sleep(0.05)  # polling until it listens
        win = warm.Windows(Config(targets=[("127.0.0.1", port)], processes=cfg.processes,
                                  clients=cfg.clients, pipeline=cfg.pipeline,
                                  watchers=cfg.watchers, check=False), window)
        win.warm_up(workloads, warmup)  # finds each workload's rate, for the budgets
        return {w: win.run(w)["ops_per_sec"] for w in workloads}
    finally:
        server.terminate()
        server.wait(10)


def _ops(f: dict[str, float] | None) -> str:
    if f is None:
        return "-"
    short = "*" if f["short_windows"] else ""
    if f["min_ops_per_sec"] == f["max_ops_per_sec"]:
        return f"{f['ops_per_sec']:.0f}{short}"
    return (f"{f['ops_per_sec']:.0f} ({f['min_ops_per_sec']:.0f}-"
            f"{f['max_ops_per_sec']:.0f}){short}")


def _fmt(f: dict[str, float] | None) -> tuple[str, str]:
    if f is None:
        return "-", "-"
    return _ops(f), f"{f['p50_ms']:.1f}/{f['p99_ms']:.1f}/{f['p999_ms']:.1f}"


def _pair(a: dict[str, float] | None, b: dict[str, float] | None, key: str, scale: float,
          digits: int) -> str:
    return "/".join("-" if f is None else f"{f[key] * scale:.{digits}f}" for f in (a, b))


def table(cells: dict[str, Cell], workloads: Sequence[str],
          ceil: dict[str, float] | None = None) -> str:
    head: tuple[str, ...] = ("workload", "ZK ops/s (min-max)", "roost ops/s (min-max)",
                             "roost/ZK", "ZK p50/p99/p99.9 ms", "roost p50/p99/p99.9 ms",
                             "CPU us/op ZK/roost", "RSS MiB ZK/roost", "errors ZK/roost")
    if ceil is not None:
        head += ("null-server ops/s",)
    rows = [head]
    for w in workloads:
        a, b = cells["zookeeper"].figures(w), cells["roost"].figures(w)
        ratio = "-"
        if a and b and a["ops_per_sec"]:
            ratio = f"{b['ops_per_sec'] / a['ops_per_sec']:.2f}x"
        if w == "watch-fanout":  # a time, not a rate: ratio of rates = ZK time / roost time
            ratio += " (rate)"
        errs = "/".join("-" if f is None else str(int(f["errors"])) for f in (a, b))
        row: tuple[str, ...] = (w, _fmt(a)[0], _fmt(b)[0], ratio, _fmt(a)[1], _fmt(b)[1],
                                _pair(a, b, "cpu_us_per_op", 1.0, 0),
                                _pair(a, b, "rss_kib", 1 / 1024, 0), errs)
        if ceil is not None:
            row += (f"{ceil[w]:.0f}" if w in ceil else "-",)
        rows.append(row)
    return grid(rows)


def grid(rows: Sequence[Sequence[str]]) -> str:
    """Rows of cells as aligned text: the first column left-aligned, a rule under the head."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join([r[0].ljust(widths[0]), *(c.rjust(w) for c, w in
                                                 zip(r[1:], widths[1:], strict=True))])
             for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def fanout_note(cells: dict[str, Cell]) -> str:
    parts = []
    for name in SERVERS:
        rows = cells[name].rows("watch-fanout")
        if rows:
            ms = 1000 * statistics.median(r["seconds"] for r in rows)
            parts.append(f"{LABELS[name]} {ms:.1f} ms")
    return "watch-fanout, time until every watcher had its event (median): " + ", ".join(parts)


def cold_note(cells: dict[str, Cell], workloads: Sequence[str]) -> str:
    """The first warm-up pass (cold start), for reference: never the headline."""
    parts = []
    for name in SERVERS:
        first = {r["workload"]: r for r in cells[name].warmup[: len(workloads)]}
        if first:
            parts.append(f"{LABELS[name]} " + " ".join(
                f"{w}={first[w]['ops_per_sec']:.0f}" for w in workloads if w in first))
    return "cold start (first warm-up pass, ops/s; not comparable: short windows): " + "; ".join(
        parts)


def failover_text(cells: dict[str, Cell]) -> list[str]:
    out = []
    for name in SERVERS:
        run = compare_ensemble.EnsembleRun(name, failovers=cells[name].failovers,
                                           failover_error=cells[name].failover_error,
                                           error="; ".join(cells[name].errors))
        out.append(compare_ensemble.failover_line(run))
    return out


# --- latency: one session at depth 1, and equal offered load ----------------------------

#: one session, depth 1 (closed loop): the service time of one request at a time
LATENCY_CLOSED = ("create-100", "set-1k", "get-1k")
#: the same offered rate (open loop) to both servers
LATENCY_PACED = ("set-1k", "mixed-90")


@dataclass
class LatencyCell:
    """One server, one shape: the latency runs' results (result rows of warm.Windows)."""

    closed: dict[str, dict[str, Any]] = field(default_factory=dict)
    paced: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def equal_rates(cells: dict[str, Cell], fraction: float,
                fixed: float | None = None) -> dict[str, float]:
    """The rate offered to both servers per LATENCY_PACED workload.

    ``fixed`` when given; else ``fraction`` of the lower median closed-loop ops/s of the
    servers measured in this run (a workload the throughput runs did not measure is left out).
    """
    out: dict[str, float] = {}
    for w in LATENCY_PACED:
        if fixed is not None:
            out[w] = fixed
            continue
        rates = [f["ops_per_sec"] for c in cells.values() if (f := c.figures(w)) is not None]
        rates = [r for r in rates if r > 0]
        if rates:
            out[w] = fraction * min(rates)
    return out


def latency_run(win: warm.Windows, rates: dict[str, float], ns: argparse.Namespace,
                cell: LatencyCell) -> None:
    """On a warm server: the depth-1 runs, then each workload at its offered rate."""
    try:
        for w in LATENCY_CLOSED:
            cell.closed[w] = win.depth1(w, ns.latency_seconds, ns.latency_ops)
        for w, rate in rates.items():
            cell.paced[w] = win.paced(w, rate, ns.latency_seconds)
    except (OSError, RuntimeError, TimeoutError, BenchError) as e:
        cell.errors.append(f"latency: {type(e).__name__}: {e}")
    rows = [*cell.closed.values(), *cell.paced.values()]
    if any(r["errors"] or r["check_failures"] for r in rows):
        cell.errors.append("latency: errors or failed checks")
def _lat(r: dict[str, Any] | None) -> str:
    return "-" if r is None else f"{r['p50_ms']:.2f}/{r['p99_ms']:.2f}/{r['p999_ms']:.2f}"


def _p99_ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str:
    if a is None or b is None or not a["p99_ms"]:
        return "-"
    return f"{b['p99_ms'] / a['p99_ms']:.2f}x"


def _errs(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str:
    return "/".join("-" if r is None else str(r["errors"] + r["check_failures"]) for r in (a, b))


def closed_table(zk: dict[str, dict[str, Any]], roost: dict[str, dict[str, Any]],
                 workloads: Sequence[str] = LATENCY_CLOSED) -> str:
    """Depth-1 latencies of both servers side by side, with roost/ZK of the p99."""
    rows = [("workload", "ZK p50/p99/p99.9 ms", "roost p50/p99/p99.9 ms", "roost/ZK p99",
             "errors ZK/roost")]
    for w in workloads:
        a, b = zk.get(w), roost.get(w)
        rows.append((w, _lat(a), _lat(b), _p99_ratio(a, b), _errs(a, b)))
    return grid(rows)


def paced_table(zk: dict[str, dict[str, Any]], roost: dict[str, dict[str, Any]],
                rates: dict[str, float]) -> str:
    """Equal offered load: achieved rates, latencies (from the scheduled send), p99 ratio."""
    rows = [("workload", "offered ops/s", "achieved ZK/roost", "ZK p50/p99/p99.9 ms",
             "roost p50/p99/p99.9 ms", "roost/ZK p99", "backlogged ZK/roost",
             "send-lag p99 ZK/roost ms", "errors ZK/roost")]
    for w, rate in rates.items():
        a, b = zk.get(w), roost.get(w)
        achieved = "/".join("-" if r is None else f"{r['ops_per_sec']:.0f}" for r in (a, b))
        backlog = "/".join("-" if r is None else str(r["backlogged"]) for r in (a, b))
        lag = "/".join("-" if r is None else f"{r['send_lag_p99_ms']:.2f}" for r in (a, b))
        rows.append((w, f"{rate:.0f}", achieved, _lat(a), _lat(b), _p99_ratio(a, b), backlog,
                     lag, _errs(a, b)))
    return grid(rows)


def latency_text(lat: dict[str, LatencyCell], rates: dict[str, float], cfg: Config,
                 ns: argparse.Namespace) -> str:
    """The latency section of one shape."""
    zk, ro = lat["zookeeper"], lat["roost"]
    how = (f"--latency-rate {ns.latency_rate:g}" if ns.latency_rate is not None else
           f"{ns.latency_fraction:.0%} of the lower closed-loop ops/s above")
    out = [f"one session, depth 1 (closed loop), "
           f"{ns.latency_seconds:g}s per workload:", closed_table(zk.closed, ro.closed)]
    if rates:
        out += [f"equal offered load (open loop, {cfg.processes} x {cfg.clients} sessions, "
                f"at most {cfg.pipeline} in flight each; rate: {how}; latency from the "
                "scheduled send time):", paced_table(zk.paced, ro.paced, rates)]
    missing = [w for w in LATENCY_PACED if w not in rates]
    if missing:
        out.append(f"equal offered load: {', '.join(missing)} not run (no closed-loop figure "
                   "in this run: add it to --workloads, or give --latency-rate)")
    return "\n".join(out)


# --- one shape: both servers started once, warmed, then alternating rounds ---------------


@dataclass
class Shape:
    """Everything measured on one shape."""

    cells: dict[str, Cell]
    lat: dict[str, LatencyCell]
    rates: dict[str, float] = field(default_factory=dict)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _guard(cell: Cell | LatencyCell, what: str) -> contextlib.AbstractContextManager[None]:
    """Record a failure of one server's step in its cell and go on with the others."""

    @contextlib.contextmanager
    def guard() -> Any:
        try:
            yield
        except (OSError, RuntimeError, TimeoutError, BenchError) as e:
            cell.errors.append(f"{what}: {type(e).__name__}: {e}")

    return guard()


def measure_shape(shape: str, servers: Sequence[str], cfg: Config,
                  ns: argparse.Namespace) -> Shape:
    out = Shape({s: Cell() for s in SERVERS}, {s: LatencyCell() for s in SERVERS})
    wins: dict[str, warm.Windows] = {}
    running: dict[str, warm.Running] = {}
    with contextlib.ExitStack() as stack:
        for server in servers:
            cell = out.cells[server]
            _say(f"{shape}: starting {LABELS[server]} ...")
            with _guard(cell, "start"):
                run = stack.enter_context(warm.started(shape, server, ns.zk_jvm_flags))
                sampler = stack.enter_context(warm.ProcSampler(run.pids))
                cell.pids, cell.cmdlines = list(run.pids), run.cmdlines()
                running[server] = run
                wins[server] = warm.Windows(
                    Config(targets=run.targets, processes=cfg.processes, clients=cfg.clients,
                           pipeline=cfg.pipeline, watchers=cfg.watchers),
                    ns.window, ns.headroom, ns.max_window_ops, sampler)
        for server in list(wins):
            cell = out.cells[server]
            _say(f"{shape}: warming {LABELS[server]} up ({ns.warmup_seconds:g}s of load) ...")
            with _guard(cell, "warm-up"):
                cell.warmup = wins[server].warm_up(ns.workloads, ns.warmup_seconds)
                cell.warmup_seconds = wins[server].load_seconds
        for rnd in range(ns.rounds):
            order = servers if rnd % 2 == 0 else list(servers)[::-1]
            for server in (s for s in order if s in wins):
                cell = out.cells[server]
                _say(f"{shape}: round {rnd + 1}/{ns.rounds}: {LABELS[server]} ...")
                with _guard(cell, f"round {rnd + 1}"):
                    rows = [wins[server].run(w) for w in ns.workloads]
                    cell.reports.append({"round": rnd + 1, "results": rows})
                    if any(r["errors"] or r["check_failures"] for r in rows):
                        cell.errors.append(f"round {rnd + 1}: errors or failed checks")
        for server in wins:
            with contextlib.suppress(OSError, ValueError):
                out.cells[server].peak_rss_kib = sum(
                    compare.proc_stats(p).peak_rss_kib for p in running[server].pids)
        if not ns.no_latency:
            out.rates = equal_rates(out.cells, ns.latency_fraction, ns.latency_rate)
            for server in wins:
                _say(f"{shape}: latency, {LABELS[server]} ...")
                latency_run(wins[server], out.rates, ns, out.lat[server])
        if shape == "ensemble" and ns.failover_runs:
            for server in wins:
                cell = out.cells[server]
                _say(f"{shape}: failover, {LABELS[server]} ...")
                try:
                    compare_ensemble.run_failovers(running[server].srv, ns.failover_runs, 4.0,
                                                   cell.failovers)
                except (OSError, RuntimeError, TimeoutError) as e:
                    cell.failover_error = f"{type(e).__name__}: {e}"
    return out


# --- command line --------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="compare_all.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="smoke test: tiny load, short windows, 1 round (figures mean nothing)")
    p.add_argument("--rounds", type=int, default=3,
                   help="windows per workload and server (median, min, max)")
    p.add_argument("--shapes", default=",".join(SHAPES), help="standalone,ensemble")
    p.add_argument("--servers", default=",".join(SERVERS), help="zookeeper,roost")
    p.add_argument("--workloads", type=parse_workloads, default=list(STANDARD))
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--clients", type=int, default=8, help="sessions per process")
    p.add_argument("--pipeline", type=int, default=32)
    p.add_argument("--watchers", type=int, default=1000)
    p.add_argument("--window", type=float, default=6.0,
                   help="seconds of each timed window (one workload, one server, one round)")
    p.add_argument("--warmup-seconds", type=float, default=30.0,
                   help="seconds of load over all workloads before anything is recorded")
    p.add_argument("--headroom", type=float, default=1.5,
                   help="requests prepared per window: this x the rate seen so far x window")
    p.add_argument("--max-window-ops", type=int, default=2_000_000,
                   help="at most this many requests prepared per window (generator memory)")
    p.add_argument("--zk-jvm-flags", type=shlex.split,
                   default=list(PRODUCTION_JVM_FLAGS),
                   help="ZooKeeper's JVM flags (default: those of its start script: "
                   f"{shlex.join(PRODUCTION_JVM_FLAGS)})".replace("%", "%%"))
    p.add_argument("--failover-runs", type=int, default=3)
    p.add_argument("--memory-nodes", default="100000",
                   help="comma-separated znode counts for the memory runs (empty: none)")
    p.add_argument("--no-ceiling", action="store_true",
                   help="skip the run against the null server (the generator's ceiling)")
    p.add_argument("--ceiling-seconds", type=float, default=3.0,
                   help="window per workload against the null server")
    p.add_argument("--no-latency", action="store_true",
                   help="skip the latency section (depth 1, and equal offered load)")
    p.add_argument("--latency-ops", type=int, default=0,
                   help="requests per depth-1 run (0: as many as --latency-seconds allows)")
    p.add_argument("--latency-seconds", type=float, default=5.0,
                   help="length of a depth-1 run and of an equal-load run")
    p.add_argument("--latency-fraction", type=float, default=0.5,
                   help="equal load: this fraction of the lower median ops/s of the run")
    p.add_argument("--latency-rate", type=float, default=None,
                   help="equal load: offer this many ops/s instead (over all sessions)")
    p.add_argument("--json", action="store_true")
    return p


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The options; with --quick, QUICK's values for every option not given explicitly."""
    p = build_parser()
    if p.parse_args(argv).quick:
        p.set_defaults(**QUICK)
    ns = p.parse_args(argv)
    if ns.window <= 0 or ns.headroom < 1 or ns.rounds < 0 or ns.warmup_seconds < 0:
        p.error("--window must be > 0, --headroom >= 1, --rounds and --warmup-seconds >= 0")
    return ns


def _names(text: str, allowed: Sequence[str], what: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    if any(n not in allowed for n in names):
        raise SystemExit(f"--{what}: choose from {','.join(allowed)}")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    logging.getLogger("kazoo").setLevel(logging.ERROR)
    ns = parse_args(argv)
    shapes = _names(ns.shapes, SHAPES, "shapes")
    servers = _names(ns.servers, SERVERS, "servers")
    cfg = Config(targets=[], processes=ns.processes, clients=ns.clients, pipeline=ns.pipeline,
                 workloads=ns.workloads, watchers=ns.watchers)
    t_start = time.monotonic()
    results = {shape: measure_shape(shape, servers, cfg, ns) for shape in shapes}
    ceil: dict[str, float] | None = None
    if not ns.no_ceiling:
        _say("ceiling: the same load against the null server ...")
        try:
            ceil = ceiling(cfg, ns.workloads, ns.ceiling_seconds,
                           min(ns.warmup_seconds, len(ns.workloads) * ns.ceiling_seconds))
        except (OSError, TimeoutError, BenchError) as e:
            _say(f"  ceiling not measured: {e}")
    mem = []
    for n in (int(x) for x in ns.memory_nodes.split(",") if x.strip()):
        for server in servers:
            _say(f"memory: {LABELS[server]} with {n} znodes ...")
            mem.append(memory.measure(server, n))
    bad = [f"{sh}/{s}: {e}" for sh, r in results.items() for s in servers
           for e in r.cells[s].errors]
    bad += [f"{sh}/{s}: {e}" for sh, r in results.items() for s in servers
            for e in r.lat[s].errors]
    bad += [f"memory {m.server} {m.nodes}: {m.error}" for m in mem if m.error]
    total = time.monotonic() - t_start
    if ns.json:
        doc = {"config": asdict(cfg), "rounds": ns.rounds, "window": ns.window,
               "warmup_seconds": ns.warmup_seconds, "zk_jvm_flags": ns.zk_jvm_flags,
               "cells": {sh: {s: asdict(c) for s, c in r.cells.items()}
                         for sh, r in results.items()},
               "memory": [asdict(m) for m in mem], "ceiling": ceil, "problems": bad,
               "latency": {sh: {"rates": r.rates,
                                "cells": {s: asdict(c) for s, c in r.lat.items()}}
                           for sh, r in results.items() if not ns.no_latency},
               "total_seconds": total}
        print(json.dumps(doc, indent=2))
        return 1 if bad else 0
    print(f"roost bench, identical parameters: processes={cfg.processes} clients={cfg.clients} "
          f"pipeline={cfg.pipeline} watchers={cfg.watchers}; one server per shape, warmed by "
          f"{ns.warmup_seconds:g}s of load; {ns.window:g}s windows; median (min-max) of "
          f"{ns.rounds} rounds, servers alternating; fsync on for both; ZooKeeper JVM: "
          f"{shlex.join(ns.zk_jvm_flags)}")
    for shape, r in results.items():
        print(f"\n== {shape} ==")
        print(table(r.cells, ns.workloads, ceil if shape == "standalone" else None))
        if any((f := r.cells[s].figures(w)) and f["short_windows"]
               for s in servers for w in ns.workloads):
            print("* some windows ran out of prepared requests before their time "
                  "(raise --headroom)")
        if "watch-fanout" in ns.workloads:
            print(fanout_note(r.cells))
        print("CPU: the servers' CPU time over the window / ops (summed over members); RSS: "
              "the largest sampled in the window (summed)")
        print("peak RSS, warm-up included (summed over members): " + ", ".join(
            f"{LABELS[s]} {r.cells[s].peak_rss_kib / 1024:.0f} MiB" for s in servers))
        print(cold_note(r.cells, ns.workloads))
        if shape == "ensemble" and ns.failover_runs:
            print("failover (writer on a follower, leader SIGKILL): longest pause between acks")
            print("\n".join(failover_text(r.cells)))
        if not ns.no_latency:
            print(f"\n== {shape}: latency (same warm servers) ==")
            print(latency_text(r.lat, r.rates, cfg, ns))
    if mem:
        print("\n== memory, restart, snapshot (standalone, fresh servers, znodes of 100 B) ==")
        print("\n".join(memory.line(m) for m in mem))
    print(f"\ntotal {total:.0f}s")
    for b in bad:
        print(f"PROBLEM: {b}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
