"""The simulator's Python-level work per event, counted rather than timed: the Python
function calls and bytecodes one seed's run executes (`sys.settrace`, with opcode events),
divided by the run's events. The counts are the same on every run of a seed, whatever the
machine's load, so they compare two versions of the code where CPU seconds on a shared
machine cannot (a traced run takes about 40 times as long as a plain one).

    python3 benchmarks/sim_work.py --nodes 3 --seed 1 --minutes 0.25 --top 15

`--top N` adds the N functions with the most bytecodes per event.
"""

from __future__ import annotations

import argparse
import collections
import logging
import sys
from types import FrameType
from typing import Any

from roost.testing.sim.cluster import SimCluster


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--minutes", type=float, default=0.25)
    ap.add_argument("--timing", default="production")
    ap.add_argument("--top", type=int, default=0)
    args = ap.parse_args()
    logging.getLogger("roost").setLevel(logging.ERROR)
    ops: collections.Counter[str] = collections.Counter()
    calls = 0

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal calls
        frame.f_trace_opcodes = True
        if event == "opcode":
            code = frame.f_code
            ops[f"{code.co_filename.rsplit('/src/', 1)[-1]}:{code.co_name}"] += 1
        elif event == "call":
            calls += 1
        return trace

    cluster = SimCluster(args.nodes, args.seed, minutes=args.minutes, timing=args.timing)
    sys.settrace(trace)
    try:
        stats = cluster.run()
    finally:
        sys.settrace(None)
    n = stats.events
    print(f"n{args.nodes} seed {args.seed} ({args.timing}, {stats.elapsed_ms} ms simulated): "
          f"{n} events, {calls / n:.1f} Python calls and {sum(ops.values()) / n:.0f} "
          "bytecodes per event")
    for name, count in ops.most_common(args.top):
        print(f"{count / n:8.1f}  {name}")


if __name__ == "__main__":
    main()
