"""Server CPU per write on a 3-member ensemble: start the members (subprocesses, loopback),
run `roost bench` against all of them, read each member's CPU time from /proc around it.

    python benchmarks/ensemble_cpu.py --workloads create-100,set-1k,ephemeral-churn --ops 30000
    python benchmarks/ensemble_cpu.py --workloads set-1k --ops 2000 --depth1

`--depth1`: one session on a follower, one request at a time (the latency of a write
that crosses follower -> leader -> followers and back).

CPU time is the figure to compare between builds on a shared machine: throughput moves
with the machine's load, the CPU a member spends for the same work much less.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from roost.testing.ensemble import RoostEnsemble


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().split(") ")[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", default="create-100,set-1k,ephemeral-churn")
    ap.add_argument("--ops", type=int, default=30000)
    ap.add_argument("--depth1", action="store_true",
                    help="one session on a follower, one request at a time")
    args = ap.parse_args()
    with RoostEnsemble(3, subprocess=True) as ens:
        pids = [ens.pid(i) for i in range(3)]
        if args.depth1:
            leader = ens.leader()
            target = ens.hosts_of(next(i for i in range(3) if i != leader))
            shape = ["--processes", "1", "--clients", "1", "--pipeline", "1"]
        else:
            target = ens.hosts
            shape = ["--processes", "2", "--clients", "8", "--pipeline", "32"]
        before = [cpu_seconds(p) for p in pids]
        t0 = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-m", "roost.cli", "bench", "run", target, "--workloads",
             args.workloads, *shape, "--ops", str(args.ops)],
            capture_output=True, text=True, check=False)
        after = [cpu_seconds(p) for p in pids]
    print(out.stdout, out.stderr, sep="")
    spent = [round(b - a, 2) for a, b in zip(before, after, strict=True)]
    print(f"member CPU s: {spent} (total {sum(spent):.2f}), wall {time.monotonic() - t0:.1f} s")


if __name__ == "__main__":
    main()
