#!/usr/bin/env python3
"""A 3-member Apache ZooKeeper ensemble and a 3-member roost ensemble, side by side.

    python benchmarks/compare_ensemble.py --ops 20000 --clients 6 --pipeline 32

For each server in turn (never both at once) it starts a fresh ensemble on 127.0.0.1,
runs zkbench's workloads with the sessions spread round-robin over the members (so
writes arrive through followers too), then measures failover: a kazoo client connected
to a follower writes back to back while the leader gets SIGKILL, and the longest pause
between two acknowledged writes is recorded (`roost.testing.ensemble.run_failover`, the
scenario of tests/ensemble/test_failover.py). The killed member is restarted between
failover runs. Every option this script does not know is handed to zkbench's parser, so
both ensembles get identical parameters. `--warmup-ops N` first runs an unreported pass
(ZooKeeper's JIT is cold at first); `--json` prints everything as one document.

Settings: ZooKeeper with its sample-config production values (tickTime 2000 ms,
initLimit 10, syncLimit 5, forceSync on); roost with its defaults (tick 2000 ms, raft tick
50 ms, election after 10-20 raft ticks, fsync on). Both as separate processes per member.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import compare  # noqa: E402  (benchmarks/compare.py: table and /proc figures)
import zkbench  # noqa: E402

import roost.bench as roost_bench  # noqa: E402
from roost.bench import BenchError, Config, parse_targets  # noqa: E402
from roost.bench.cli import report_dict  # noqa: E402
from roost.testing.ensemble import (  # noqa: E402
    FailoverRun,
    RoostEnsemble,
    run_failover,
    wait_caught_up,
)

SERVERS = ("zookeeper", "roost")
LABELS = {"zookeeper": "ZooKeeper", "roost": "roost"}
MEMBERS = 3


@dataclass
class EnsembleRun:
    server: str
    hosts: str = ""
    error: str = ""
    bench: dict[str, Any] = field(default_factory=dict)
    #: summed over the members, read from /proc after the benchmark (before failover)
    peak_rss_kib: int = 0
    cpu_seconds: float = 0.0
    failovers: list[dict[str, Any]] = field(default_factory=list)
    failover_error: str = ""

    def as_compare_run(self) -> compare.ServerRun:
        return compare.ServerRun(self.server, hosts=self.hosts, error=self.error,
                                 bench=self.bench)


# --- ensembles ------------------------------------------------------------------------


@contextlib.contextmanager
def start_zookeeper(keep: Path | None) -> Iterator[Any]:
    from roost.testing.zkensemble import ZooKeeperEnsemble

    with ZooKeeperEnsemble(MEMBERS, base_dir=keep) as zk:
        yield zk


@contextlib.contextmanager
def start_roost(keep: Path | None) -> Iterator[Any]:
    base = None
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        base = tempfile.mkdtemp(prefix="roost-", dir=keep)
    with RoostEnsemble(MEMBERS, subprocess=True, base_dir=base, max_client_connections=0) as ens:
        yield ens


STARTERS: dict[str, Callable[[Path | None], contextlib.AbstractContextManager[Any]]] = {
    "zookeeper": start_zookeeper,
    "roost": start_roost,
}


def member_pids(server: str, ens: Any) -> list[int]:
    if server == "zookeeper":
        return [m.proc.pid for m in ens.members if m.proc is not None]
    return [ens.pid(i) for i in range(len(ens)) if ens.running[i]]


# --- the load, with sessions spread over the members --------------------------------------


def member_targets(ens: Any) -> list[tuple[str, int]]:
    return parse_targets(",".join(ens.hosts_of(i) for i in range(len(ens))))


def run_bench(cfg: Config, ens: Any) -> dict[str, Any]:
    """roost bench's workloads, session k of every process on member k mod 3 (round-robin)."""
    report = roost_bench.run_bench(dataclasses.replace(cfg, targets=member_targets(ens)))
    if report.errors:
        raise BenchError(f"{report.errors} errors or failed checks: {report_dict(report)}")
    return report_dict(report)


# --- failover ---------------------------------------------------------------------------


def failover_figures(run: FailoverRun) -> dict[str, Any]:
    return {
        "max_pause_ms": round(run.max_gap * 1000, 1),
        "election_ms": round(run.election_seconds * 1000, 1),
        "acked": len(run.acked),
        "acked_after_kill": run.acked_after_kill,
        "failed": len(run.failed),
        "lost_acked": len(set(run.acked) - run.present),
        "ephemeral_kept": run.ephemeral_owner == run.session_before,
        "session_kept": run.session_after == run.session_before,
        "states": run.states,
    }


def run_failovers(ens: Any, runs: int, after_kill: float, out: list[dict[str, Any]]) -> None:
    """`runs` failovers; the figures of each are appended to `out` as it completes."""
    for r in range(runs):
        fo = run_failover(ens, root=f"/failover-{r}", after_kill=after_kill)
        out.append(failover_figures(fo))
        if r + 1 < runs:  # the killed member comes back and catches up before the next run
            ens.start_member(fo.leader)
            ens.leader(timeout=60)
            wait_caught_up(ens)


def measure(name: str, cfg: Config, warmup_ops: int, failover_runs: int,
            after_kill: float, keep: Path | None = None) -> EnsembleRun:
    run = EnsembleRun(name)
    try:
        with STARTERS[name](keep) as ens:
            run.hosts = ens.hosts
            if warmup_ops > 0:  # an unreported pass (ZooKeeper's JIT warms up)
                run_bench(dataclasses.replace(cfg, ops=warmup_ops), ens)
            run.bench = run_bench(cfg, ens)
            stats = [compare.proc_stats(pid) for pid in member_pids(name, ens)]
            run.peak_rss_kib = sum(s.peak_rss_kib for s in stats)
            run.cpu_seconds = sum(s.cpu_seconds for s in stats)
            if failover_runs:
                try:
                    run_failovers(ens, failover_runs, after_kill, run.failovers)
                except (OSError, RuntimeError, TimeoutError) as e:
                    run.failover_error = f"{type(e).__name__}: {e}"
    except (OSError, RuntimeError, TimeoutError, BenchError) as e:
        run.error = f"{type(e).__name__}: {e}"
    return run


# --- output -------------------------------------------------------------------------------


def failover_line(run: EnsembleRun) -> str:
    label = LABELS[run.server]
    if run.error:
        return f"{label:<10} not measured: {run.error}"
    error = f"; stopped by {run.failover_error}" if run.failover_error else ""
    if not run.failovers:
        return f"{label:<10} -{error}"
    pauses = [f["max_pause_ms"] for f in run.failovers]
    elections = [f["election_ms"] for f in run.failovers]
    bad = [f for f in run.failovers
           if f["lost_acked"] or not f["ephemeral_kept"] or not f["session_kept"]]
    return (f"{label:<10} max pause {statistics.median(pauses):7.1f} ms median, "
            f"{max(pauses):7.1f} ms worst ({len(pauses)} runs); new leader seen after "
            f"~{statistics.median(elections):.0f} ms; failed writes "
            f"{sum(f['failed'] for f in run.failovers)}; "
            + ("all acked writes, ephemerals and sessions kept" if not bad
               else f"{len(bad)} runs LOST DATA OR SESSION") + error)


def usage_line(run: EnsembleRun) -> str:
    label = LABELS[run.server]
    if run.error:
        return f"{label}: not measured: {run.error}"
    return (f"{label} ({run.hosts}): peak RSS {run.peak_rss_kib / 1024:.1f} MiB and CPU "
            f"{run.cpu_seconds:.1f}s summed over the {MEMBERS} members")


def _plain(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="compare_ensemble.py",
        description="zkbench and leader failover on 3-member ZooKeeper and roost ensembles. "
        "Other options go to zkbench's parser unchanged (see zkbench.py --help).",
    )
    p.add_argument("--servers", default=",".join(SERVERS),
                   help="comma-separated subset of zookeeper,roost")
    p.add_argument("--warmup-ops", type=int, default=0,
                   help="first run an unreported pass with this many ops per workload")
    p.add_argument("--failover-runs", type=int, default=3,
                   help="leader SIGKILLs per ensemble (0: none)")
    p.add_argument("--failover-seconds", type=float, default=4.0,
                   help="how long the writer goes on after each SIGKILL")
    p.add_argument("--keep-dir", type=Path,
                   help="keep every member's data and logs in a new directory under this one")
    p.add_argument("--json", action="store_true", help="print one JSON document instead")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    logging.getLogger("kazoo").setLevel(logging.ERROR)  # its reconnect chatter during failover
    ns, bench_args = build_parser().parse_known_args(argv)
    servers = [s.strip() for s in ns.servers.split(",") if s.strip()]
    if not servers or any(s not in SERVERS for s in servers):
        raise SystemExit(f"--servers: choose from {','.join(SERVERS)}")
    cfg = zkbench.config_from_args(zkbench.build_parser().parse_args(["127.0.0.1:1",
                                                                      *bench_args]))
    runs = {name: EnsembleRun(name, error="not requested") for name in SERVERS}
    for name in servers:
        if not ns.json:
            print(f"benchmarking a {MEMBERS}-member {LABELS[name]} ensemble ...",
                  file=sys.stderr, flush=True)
        runs[name] = measure(name, cfg, ns.warmup_ops, ns.failover_runs, ns.failover_seconds,
                             ns.keep_dir)
        if runs[name].error and not ns.json:
            print(f"  {LABELS[name]}: {runs[name].error}", file=sys.stderr, flush=True)
    zk, roost = runs["zookeeper"], runs["roost"]
    if ns.json:
        print(json.dumps({k: asdict(v) for k, v in runs.items()}, indent=2))
    else:
        keys = ("clients", "pipeline", "ops", "size", "workloads")
        params = " ".join(f"{k}={_plain(getattr(cfg, k))}" for k in keys)
        print(f"zkbench on {MEMBERS}-member ensembles, sessions spread over the members, "
              f"identical parameters: {params}")
        print(compare.table(zk.as_compare_run(), roost.as_compare_run()))
        print(usage_line(zk))
        print(usage_line(roost))
        print("failover (writer on a follower, leader SIGKILL): longest pause between acks")
        print(failover_line(zk))
        print(failover_line(roost))
    failed = [n for n in servers if runs[n].error or runs[n].failover_error]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
