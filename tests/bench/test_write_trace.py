"""benchmarks/write_trace.py runs with tiny counts: the members record their events, and
every write it can follow has its milestones in causal order."""

from __future__ import annotations

import re
import subprocess
import sys

from .scripts import BENCH_DIR


def test_write_trace_smoke() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH_DIR / "write_trace.py"), "--ops", "80", "--warmup", "10",
         "--gap-ms", "1"],
        capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    traced = re.search(r"(\d+) writes traced", out)
    assert traced is not None and int(traced.group(1)) > 0, out
    at = {name.strip(): float(t) for name, t in
          re.findall(r"^(\w[\w ()]+?)\s+([\d.]+)\s+-?[\d.]+$", out, re.M)}
    # each of a write's hops comes after the one that caused it (so do their medians);
    # the commit needs one acknowledgement, from either follower
    chains = [
        ["client sends", "F propose", "F forward flushed", "L forward received",
         "L ready (entries)", "F append received", "F fsync start", "F fsync end"],
        ["L ready (entries)", "L first ack received", "L commit sent", "F commit received",
         "F applies", "reply (done)", "client receives"],
    ]
    for chain in chains:
        assert all(name in at for name in chain), out
        times = [at[name] for name in chain]
        assert times == sorted(times), out
