#!/usr/bin/env python3
"""zkbench: the older command line of the load generator, now a wrapper over `roost bench`.

    python benchmarks/zkbench.py 127.0.0.1:2181 --clients 8 --pipeline 32 --ops 20000

Same engine as `roost bench` (package `roost.bench`), with this script's historical defaults:
workloads ``create,set,get`` of ``--size`` bytes, ``--mixed R`` to append a mixed workload,
``--max-seconds`` as the per-workload cap. Exit status 1 on any error or failed check.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from roost.bench import Config, parse_targets, parse_workloads, percentile_ms, split
from roost.bench.cli import execute

__all__ = ["build_parser", "config_from_args", "main", "percentile_ms", "split"]


def _targets(text: str) -> list[tuple[str, int]]:
    try:
        return parse_targets(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _workloads(text: str) -> list[str]:
    try:
        return parse_workloads(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _ratio(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"read ratio must be in [0, 1], got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="zkbench.py", description="Pipelined ZooKeeper-protocol load generator."
    )
    p.add_argument("target", type=_targets, help="server address(es), HOST:PORT[,...]")
    p.add_argument("--processes", type=_positive, default=1, help="load-generator processes")
    p.add_argument("--clients", type=_positive, default=4, help="sessions per process")
    p.add_argument("--pipeline", type=_positive, default=16, help="requests in flight per session")
    p.add_argument("--ops", type=_positive, default=10000, help="requests per workload (total)")
    p.add_argument("--size", type=int, default=1024, help="bytes of data per create/set")
    p.add_argument("--workloads", type=_workloads, default=["create", "set", "get"],
                   help="comma-separated, run in order (see `roost bench --help`)")
    p.add_argument("--mixed", type=_ratio, metavar="READ_RATIO",
                   help="append a 'mixed' workload with this fraction of gets")
    p.add_argument("--watchers", type=_positive, default=1000, help="watch-fanout sessions")
    p.add_argument("--max-seconds", type=float, default=60.0, help="wall-clock cap per workload")
    p.add_argument("--stall-seconds", type=float, default=30.0,
                   help="give up when no reply comes this long")
    p.add_argument("--session-timeout", type=int, default=30000, help="requested, in ms")
    p.add_argument("--base", help="base node to create (default: a fresh name)")
    p.add_argument("--seed", type=int, default=1, help="seed for the mixed workloads")
    p.add_argument("--no-check", action="store_true", help="no content checks (null server)")
    p.add_argument("--json", action="store_true", help="print one JSON document instead")
    p.add_argument("--no-uvloop", action="store_true", help="use the default asyncio loop")
    return p


def config_from_args(ns: argparse.Namespace) -> Config:
    workloads = list(ns.workloads)
    ratio = 0.9
    if ns.mixed is not None:
        ratio = ns.mixed
        if "mixed" not in workloads:
            workloads.append("mixed")
    if ns.size < 0:
        raise SystemExit("--size must be >= 0")
    return Config(
        targets=ns.target,
        processes=ns.processes,
        clients=ns.clients,
        pipeline=ns.pipeline,
        ops=ns.ops,
        size=ns.size,
        workloads=workloads,
        read_ratio=ratio,
        watchers=ns.watchers,
        max_seconds=ns.max_seconds,
        stall_seconds=ns.stall_seconds,
        session_timeout_ms=ns.session_timeout,
        base=ns.base,
        seed=ns.seed,
        check=not ns.no_check,
    )


def main(argv: Sequence[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    return execute(config_from_args(ns), ns.json, not ns.no_uvloop)


if __name__ == "__main__":
    sys.exit(main())
