#!/usr/bin/env python3
"""Every `roost bench` workload against Apache ZooKeeper and roost, standalone and 3-member.

    python benchmarks/compare_all.py --rounds 3 --ops 20000 --memory-nodes 100000

For each round and each shape (standalone, 3-member ensemble on 127.0.0.1), it starts a
fresh ZooKeeper and a fresh roost, one after the other (never both at once; the order
alternates between rounds), and runs the standard workloads with identical parameters
(default: 2 processes x 8 sessions x depth 32; ensemble sessions spread over the members).
The table shows per-workload medians over the rounds and the ratio roost/ZooKeeper. Then:
failover after SIGKILL of the leader (last round's ensembles); latency (a fresh server of
each kind per shape): one session at depth 1 for create-100, set-1k and get-1k, and equal
offered load: set-1k and mixed-90 sent open-loop at the same rate to both servers (half the
lower closed-loop ops/s of the run, or --latency-rate), latency from the scheduled send time;
and memory: RSS after N znodes of 100 B, restart time over that data set and snapshot size
(`memory.py`).

Both servers fsync before acknowledging writes (ZooKeeper's forceSync=yes default; roost's
default). ZooKeeper runs with the harness's JVM flags (-Xmx256m, serial GC) for the load
and with a 3 GiB heap for the memory runs. Any error or failed check in any run: exit 1.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import compare  # noqa: E402
import compare_ensemble  # noqa: E402
import memory  # noqa: E402

from roost.bench import STANDARD, BenchError, Config, parse_targets, parse_workloads  # noqa: E402
from roost.bench import run_bench as bench_run  # noqa: E402
from roost.bench.cli import report_dict  # noqa: E402

SERVERS = ("zookeeper", "roost")
LABELS = {"zookeeper": "ZooKeeper", "roost": "roost"}
SHAPES = ("standalone", "ensemble")


@dataclass
class Cell:
    """One server, one shape: every round's report and the figures of the last one."""

    reports: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    peak_rss_kib: int = 0
    failovers: list[dict[str, Any]] = field(default_factory=list)
    failover_error: str = ""

    def figures(self, workload: str) -> dict[str, float] | None:
        rows = [r for rep in self.reports for r in rep["results"] if r["workload"] == workload]
        if not rows:
            return None
        keys = ("ops_per_sec", "p50_ms", "p99_ms", "p999_ms")
        out = {k: statistics.median(r[k] for r in rows) for k in keys}
        out["errors"] = sum(r["errors"] + r["check_failures"] for r in rows)
        return out


@contextlib.contextmanager
def started(shape: str, server: str) -> Iterator[tuple[Any, list[int]]]:
    """A fresh server or ensemble, and the pids of its processes."""
    if shape == "standalone":
        with compare.STARTERS[server]() as srv:
            pid = compare.server_pid(srv)
            yield srv, [pid] if pid else []
    else:
        with compare_ensemble.STARTERS[server](None) as ens:
            yield ens, compare_ensemble.member_pids(server, ens)


def targets_of(shape: str, srv: Any) -> list[tuple[str, int]]:
    if shape == "standalone":
        return parse_targets(srv.hosts)
    return compare_ensemble.member_targets(srv)


def one_run(shape: str, server: str, cfg: Config, warmup_ops: int, cell: Cell,
            failover_runs: int) -> None:
    try:
        with started(shape, server) as (srv, pids):
            cfg = dataclasses.replace(cfg, targets=targets_of(shape, srv))
            if warmup_ops:
                bench_run(dataclasses.replace(cfg, ops=warmup_ops, watchers=min(cfg.watchers,
                                                                                100)))
            report = bench_run(cfg)
            cell.reports.append(report_dict(report))
            if report.errors:
                cell.errors.append(f"{report.errors} errors or failed checks")
            if pids:
                cell.peak_rss_kib = sum(compare.proc_stats(p).peak_rss_kib for p in pids)
            if shape == "ensemble" and failover_runs:
                try:
                    compare_ensemble.run_failovers(srv, failover_runs, 4.0, cell.failovers)
                except (OSError, RuntimeError, TimeoutError) as e:
                    cell.failover_error = f"{type(e).__name__}: {e}"
    except (OSError, RuntimeError, TimeoutError, BenchError) as e:
        cell.errors.append(f"{type(e).__name__}: {e}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ceiling(cfg: Config) -> dict[str, float]:
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
        report = bench_run(dataclasses.replace(cfg, targets=[("127.0.0.1", port)], check=False))
        return {r.workload: r.ops_per_sec for r in report.results}
    finally:
        server.terminate()
        server.wait(10)


def _fmt(f: dict[str, float] | None) -> tuple[str, str]:
    if f is None:
        return "-", "-"
    return f"{f['ops_per_sec']:.0f}", f"{f['p50_ms']:.1f}/{f['p99_ms']:.1f}/{f['p999_ms']:.1f}"


def table(cells: dict[str, Cell], workloads: Sequence[str],
          ceil: dict[str, float] | None = None) -> str:
    head: tuple[str, ...] = ("workload", "ZK ops/s", "roost ops/s", "roost/ZK",
                             "ZK p50/p99/p99.9 ms", "roost p50/p99/p99.9 ms", "errors ZK/roost")
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
        row: tuple[str, ...] = (w, _fmt(a)[0], _fmt(b)[0], ratio, _fmt(a)[1], _fmt(b)[1], errs)
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
        f = cells[name].figures("watch-fanout")
        if f is not None and f["ops_per_sec"]:
            ms = 1000 * statistics.median(
                r["seconds"] for rep in cells[name].reports for r in rep["results"]
                if r["workload"] == "watch-fanout")
            parts.append(f"{LABELS[name]} {ms:.1f} ms")
    return "watch-fanout, time until every watcher had its event (median): " + ", ".join(parts)


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
    """One server, one shape: the latency runs' results (roost bench result rows)."""

    closed: dict[str, dict[str, Any]] = field(default_factory=dict)
    paced: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def equal_rates(cells: dict[str, Cell], fraction: float,
                fixed: float | None = None) -> dict[str, float]:
    """The rate offered to both servers per LATENCY_PACED workload.

    ``fixed`` when given; else ``fraction`` of the lower closed-loop ops/s of the servers
    measured in this run (a workload the throughput runs did not measure is left out).
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


def latency_run(shape: str, server: str, cfg: Config, rates: dict[str, float],
                ns: argparse.Namespace, cell: LatencyCell) -> None:
    """A fresh server: warm-up, the depth-1 runs, then each workload at its offered rate."""
    try:
        with started(shape, server) as (srv, _pids):
            cfg = dataclasses.replace(cfg, targets=targets_of(shape, srv))
            if ns.warmup_ops:
                warm = list(dict.fromkeys([*LATENCY_CLOSED, *rates]))
                bench_run(dataclasses.replace(cfg, workloads=warm, ops=ns.warmup_ops))
            one = dataclasses.replace(cfg, processes=1, clients=1, pipeline=1,
                                      ops=ns.latency_ops, max_seconds=ns.latency_seconds,
                                      workloads=list(LATENCY_CLOSED))
            for r in bench_run(one).results:
                cell.closed[r.workload] = asdict(r)
            for w, rate in rates.items():
                paced = dataclasses.replace(cfg, workloads=[w], rate=rate,
                                            ops=max(1, round(rate * ns.latency_seconds)),
                                            max_seconds=2 * ns.latency_seconds + 5)
                (r,) = bench_run(paced).results
                cell.paced[w] = asdict(r)
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
    out = [f"one session, depth 1 (closed loop), up to {ns.latency_ops} ops or "
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="compare_all.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3, help="runs per server and shape (median)")
    p.add_argument("--shapes", default=",".join(SHAPES), help="standalone,ensemble")
    p.add_argument("--servers", default=",".join(SERVERS), help="zookeeper,roost")
    p.add_argument("--workloads", type=parse_workloads, default=list(STANDARD))
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--clients", type=int, default=8, help="sessions per process")
    p.add_argument("--pipeline", type=int, default=32)
    p.add_argument("--ops", type=int, default=20000, help="requests per workload")
    p.add_argument("--watchers", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=60.0, help="cap per workload")
    p.add_argument("--warmup-ops", type=int, default=2000,
                   help="an unreported pass first with this many ops (JIT warm-up; 0: none)")
    p.add_argument("--failover-runs", type=int, default=3)
    p.add_argument("--memory-nodes", default="100000",
                   help="comma-separated znode counts for the memory runs (empty: none)")
    p.add_argument("--no-ceiling", action="store_true",
                   help="skip the run against the null server (the generator's ceiling)")
    p.add_argument("--no-latency", action="store_true",
                   help="skip the latency section (depth 1, and equal offered load)")
    p.add_argument("--latency-ops", type=int, default=5000,
                   help="requests per depth-1 latency run (capped by --latency-seconds)")
    p.add_argument("--latency-seconds", type=float, default=5.0,
                   help="cap of a depth-1 run; length of an equal-load run")
    p.add_argument("--latency-fraction", type=float, default=0.5,
                   help="equal load: this fraction of the lower closed-loop ops/s of the run")
    p.add_argument("--latency-rate", type=float, default=None,
                   help="equal load: offer this many ops/s instead (over all sessions)")
    p.add_argument("--json", action="store_true")
    return p


def _names(text: str, allowed: Sequence[str], what: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    if any(n not in allowed for n in names):
        raise SystemExit(f"--{what}: choose from {','.join(allowed)}")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    logging.getLogger("kazoo").setLevel(logging.ERROR)
    ns = build_parser().parse_args(argv)
    shapes = _names(ns.shapes, SHAPES, "shapes")
    servers = _names(ns.servers, SERVERS, "servers")
    cfg = Config(targets=[], processes=ns.processes, clients=ns.clients, pipeline=ns.pipeline,
                 ops=ns.ops, workloads=ns.workloads, watchers=ns.watchers,
                 max_seconds=ns.seconds)
    cells = {shape: {s: Cell() for s in SERVERS} for shape in shapes}
    t_start = time.monotonic()
    for rnd in range(ns.rounds):
        order = servers if rnd % 2 == 0 else servers[::-1]
        for shape in shapes:
            for server in order:
                print(f"round {rnd + 1}/{ns.rounds}: {shape} {LABELS[server]} ...",
                      file=sys.stderr, flush=True)
                last = rnd == ns.rounds - 1
                one_run(shape, server, cfg, ns.warmup_ops, cells[shape][server],
                        ns.failover_runs if last else 0)
    lat = {shape: {s: LatencyCell() for s in SERVERS} for shape in shapes}
    rates: dict[str, dict[str, float]] = {}
    for shape in shapes if not ns.no_latency else ():
        rates[shape] = equal_rates(cells[shape], ns.latency_fraction, ns.latency_rate)
        for server in servers:
            print(f"latency: {shape} {LABELS[server]} ...", file=sys.stderr, flush=True)
            latency_run(shape, server, cfg, rates[shape], ns, lat[shape][server])
    ceil: dict[str, float] | None = None
    if not ns.no_ceiling:
        print("ceiling: the same load against the null server ...", file=sys.stderr, flush=True)
        try:
            ceil = ceiling(cfg)
        except (OSError, TimeoutError, BenchError) as e:
            print(f"  ceiling not measured: {e}", file=sys.stderr)
    mem = []
    for n in (int(x) for x in ns.memory_nodes.split(",") if x.strip()):
        for server in servers:
            print(f"memory: {LABELS[server]} with {n} znodes ...", file=sys.stderr, flush=True)
            mem.append(memory.measure(server, n))
    bad = [f"{shape}/{s}: {e}" for shape in shapes for s in servers for e in cells[shape][s].errors]
    bad += [f"{shape}/{s}: {e}" for shape in shapes for s in servers for e in lat[shape][s].errors]
    bad += [f"memory {m.server} {m.nodes}: {m.error}" for m in mem if m.error]
    if ns.json:
        doc = {"config": asdict(cfg), "rounds": ns.rounds,
               "cells": {sh: {s: asdict(c) for s, c in v.items()} for sh, v in cells.items()},
               "memory": [asdict(m) for m in mem], "ceiling": ceil, "problems": bad,
               "latency": {sh: {"rates": rates[sh],
                                "cells": {s: asdict(c) for s, c in lat[sh].items()}}
                           for sh in rates}}
        print(json.dumps(doc, indent=2))
        return 1 if bad else 0
    print(f"roost bench, identical parameters: processes={cfg.processes} clients={cfg.clients} "
          f"pipeline={cfg.pipeline} ops={cfg.ops} watchers={cfg.watchers}; medians of "
          f"{ns.rounds} rounds, servers alternating; fsync on for both")
    for shape in shapes:
        print(f"\n== {shape} ==")
        print(table(cells[shape], ns.workloads, ceil if shape == "standalone" else None))
        if "watch-fanout" in ns.workloads:
            print(fanout_note(cells[shape]))
        print("peak RSS during the load (summed over members): " + ", ".join(
            f"{LABELS[s]} {cells[shape][s].peak_rss_kib / 1024:.0f} MiB" for s in servers))
        if shape == "ensemble" and ns.failover_runs:
            print("failover (writer on a follower, leader SIGKILL): longest pause between acks")
            print("\n".join(failover_text(cells[shape])))
        if shape in rates:
            print(f"\n== {shape}: latency ==")
            print(latency_text(lat[shape], rates[shape], cfg, ns))
    if mem:
        print("\n== memory, restart, snapshot (standalone, znodes of 100 B) ==")
        print("\n".join(memory.line(m) for m in mem))
    print(f"\ntotal {time.monotonic() - t_start:.0f}s")
    for b in bad:
        print(f"PROBLEM: {b}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
