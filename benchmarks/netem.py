#!/usr/bin/env python3
"""roost and Apache ZooKeeper 3.8 ensembles across emulated hosts, under delay and loss.

    python3 benchmarks/netem.py --rounds 3          # as root; about 25 minutes

Each server in turn (never both at once) runs as three members, each in its own network
namespace (`roost.testing.netns`); the load generator runs in a fourth. Every connection,
between members and from clients, crosses one userspace proxy (`roost.testing.netensemble.Wan`,
in a fifth namespace) that adds the condition's one-way delay and loss; the kernels this
runs on have no netem qdisc. Loss is the proxy's model of TCP over a lossy link: a lost
segment holds its stream for a retransmission timeout (200 ms plus the round trip).

For each round, a fresh ensemble, then for each condition:

- write latency: one session on a follower, one create of 100 B at a time (`roost bench`'s
  create-100, pipeline 1): p50 and p99;
- write throughput: 8 sessions over the three members, 16 creates in flight each;
- failover: a kazoo client on a follower writes back to back while the leader gets SIGKILL
  (`roost.testing.ensemble.run_failover`): the time until another member reports
  ``Mode: leader``, and the longest pause between two acknowledged writes. The killed
  member is restarted and caught up before the next condition.

Settings: each server's defaults as in benchmarks/compare_ensemble.py (ZooKeeper: tickTime
2000, initLimit 10, syncLimit 5, its start script's JVM flags; roost: raft tick 50 ms,
election after 10-20 ticks, fsync on both). The figures are the median over the rounds with
min-max. ``--quick`` is a smoke run (one round, one condition, few ops).
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError

from roost.bench import BenchError, Config, run_bench
from roost.testing.ensemble import run_failover, wait_caught_up
from roost.testing.netensemble import (
    CLIENT_HOST,
    BedRoostEnsemble,
    BedZooKeeperEnsemble,
    Wan,
    build_hosts,
)
from roost.testing.netns import NetBed, unavailable
from roost.testing.zookeeper import PRODUCTION_JVM_FLAGS


@dataclass(frozen=True)
class Condition:
    name: str
    delay_ms: float
    loss: float
    #: no proxy: the members advertise their own addresses
    direct: bool = False


CONDITIONS = {
    "direct": Condition("direct, no proxy", 0, 0, direct=True),
    "0ms": Condition("0 ms", 0, 0),
    "5ms": Condition("5 ms", 5, 0),
    "25ms": Condition("25 ms", 25, 0),
    "loss1": Condition("1% loss", 0, 0.01),
}
SERVERS = ("zookeeper", "roost")
LABELS = {"zookeeper": "ZooKeeper 3.8", "roost": "roost"}
#: what ends one condition's measurement (recorded as its error) rather than the run
FAILURES = (BenchError, KazooException, KazooTimeoutError, OSError, RuntimeError,
            TimeoutError)
FIGURES = ("p50_ms", "p99_ms", "ops_per_sec", "election_ms", "pause_ms")


def bench(hosts: str, clients: int, pipeline: int, ops: int, seconds: float) -> dict[str, Any]:
    targets = [(h.rsplit(":", 1)[0], int(h.rsplit(":", 1)[1])) for h in hosts.split(",")]
    cfg = Config(targets=targets, clients=clients, pipeline=pipeline, ops=ops,
                 workloads=["create-100"], max_seconds=seconds)
    report = run_bench(cfg)
    if report.errors:
        raise BenchError(f"{report.errors} errors")
    r = report.results[0]
    return {"ops": r.ops, "seconds": r.seconds, "ops_per_sec": r.ops_per_sec,
            "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "capped": r.capped}


def one_condition(ens: Any, wan: Wan | None, cond: Condition, args: argparse.Namespace,
                  seed: int, out: dict[str, Any]) -> None:
    """The condition's figures into `out`, as they are measured (kept when a later step
    fails)."""
    if wan is not None:
        wan.set(cond.delay_ms / 1000, cond.loss, seed)
    lost_before = wan.lost() if wan is not None else 0
    leader = ens.leader()
    follower = next(i for i in range(len(ens)) if i != leader)
    lat = bench(ens.hosts_of(follower), 1, 1, args.latency_ops, args.seconds)
    out.update(p50_ms=lat["p50_ms"], p99_ms=lat["p99_ms"])
    thr = bench(ens.hosts, 8, 16, args.ops, args.seconds)
    out.update(ops_per_sec=thr["ops_per_sec"], capped=thr["capped"])
    fo = run_failover(ens, root=f"/failover-{seed}", before_kill=1.0, after_kill=args.after_kill)
    out.update(election_ms=fo.election_seconds * 1000, pause_ms=fo.max_gap * 1000,
               lost_acked=len(set(fo.acked) - fo.present),
               session_kept=fo.session_after == fo.session_before,
               acked_after_kill=fo.acked_after_kill,
               lost_chunks=wan.lost() - lost_before if wan is not None else 0)
    if wan is not None:
        wan.set(0, 0)  # catch up without the condition
    ens.start_member(fo.leader)
    ens.leader(timeout=120)
    wait_caught_up(ens)


def start(server: str, bed: NetBed, wan: Wan | None, work: Path) -> Any:
    if server == "roost":
        return BedRoostEnsemble(bed, work / f"roost-{time.monotonic_ns()}", wan=wan).start()
    zk = BedZooKeeperEnsemble(bed, wan=wan, jvm_flags=PRODUCTION_JVM_FLAGS, base_dir=work)
    try:
        zk.start()
    except BaseException:
        zk.stop()
        raise
    return zk


def run_conditions(server: str, bed: NetBed, wan: Wan | None, conds: list[str],
                   args: argparse.Namespace, rnd: int, tmp: Path,
                   results: dict[str, Any]) -> None:
    ens = start(server, bed, wan, tmp)
    try:
        for k, c in enumerate(conds):
            fig: dict[str, Any] = {}
            try:
                one_condition(ens, wan, CONDITIONS[c], args, rnd * 100 + k + 1, fig)
            except FAILURES as e:  # noted; a fresh ensemble goes on
                fig["error"] = f"{type(e).__name__}: {e}"
                ens.stop()
                if wan is not None:
                    wan.set(0, 0)
                ens = start(server, bed, wan, tmp)
            results[server][c].append(fig)
            print(f"round {rnd + 1} {server} {c}: "
                  + ", ".join(f"{k2} {v:.1f}" if isinstance(v, float) else f"{k2} {v}"
                              for k2, v in fig.items()), file=sys.stderr, flush=True)
    finally:
        ens.stop()


def measure(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {s: {c: [] for c in args.conditions} for s in args.servers}
    with tempfile.TemporaryDirectory(prefix="roost-netem-", dir=args.keep) as tmp, \
            NetBed() as bed:
        build_hosts(bed, 3, wan=True)
        wan = Wan(bed, 3).start()
        try:
            with bed.inside(CLIENT_HOST):
                for rnd in range(args.rounds):
                    for server in args.servers:
                        for direct in (True, False):
                            conds = [c for c in args.conditions
                                     if CONDITIONS[c].direct == direct]
                            if conds:
                                run_conditions(server, bed, None if direct else wan, conds,
                                               args, rnd, Path(tmp), results)
        finally:
            wan.stop()
    return results


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    med = statistics.median(values)
    fmt = "{:.0f}" if med >= 100 else "{:.1f}"
    if len(values) == 1:
        return fmt.format(med)
    return f"{fmt.format(med)} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def table(results: dict[str, Any], conditions: Sequence[str], after_kill: float) -> str:
    head = ("| server | link | write p50 ms | write p99 ms | writes/s | election ms "
            "| longest write pause ms |")
    lines = [head, "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for server, per in results.items():
        for c in conditions:
            runs = per[c]
            cells = [spread([r[f] for r in runs if f in r
                             and (f != "pause_ms" or r["acked_after_kill"])])
                     for f in FIGURES]
            stuck = sum(1 for r in runs if r.get("acked_after_kill") == 0)
            if stuck:
                cells[-1] += f" ({stuck} of {len(runs)}: no write within {after_kill:.0f} s)"
            errors = sorted({r["error"].split(":")[0] for r in runs if "error" in r})
            if errors:
                failed = sum(1 for r in runs if "error" in r)
                cells[-1] += f" ({failed} of {len(runs)} failed: {', '.join(errors)})"
            lines.append(f"| {LABELS[server]} | {CONDITIONS[c].name} | " + " | ".join(cells)
                         + " |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--servers", type=lambda s: s.split(","), default=list(SERVERS))
    p.add_argument("--conditions", type=lambda s: s.split(","), default=list(CONDITIONS))
    p.add_argument("--latency-ops", type=int, default=200)
    p.add_argument("--ops", type=int, default=5000)
    p.add_argument("--seconds", type=float, default=30.0, help="cap per bench run")
    p.add_argument("--after-kill", type=float, default=4.0)
    p.add_argument("--quick", action="store_true", help="a smoke run: 1 round, few ops")
    p.add_argument("--json", action="store_true")
    p.add_argument("--keep", help="work files (logs) under this directory, removed at the end")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for c in args.conditions:
        if c not in CONDITIONS:
            print(f"unknown condition {c!r} (known: {', '.join(CONDITIONS)})", file=sys.stderr)
            return 2
    for s in args.servers:
        if s not in SERVERS:
            print(f"unknown server {s!r} (known: {', '.join(SERVERS)})", file=sys.stderr)
            return 2
    if args.quick:
        args.rounds, args.latency_ops, args.ops, args.after_kill = 1, 20, 200, 2.0
    why = unavailable()
    if why is not None:
        print(f"cannot build the namespace bed here: {why}", file=sys.stderr)
        return 2
    # SIGTERM unwinds like Ctrl-C, so the bed and every member are removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results = measure(args)
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        print(table(results, args.conditions, args.after_kill))
    return 0


if __name__ == "__main__":
    sys.exit(main())
