"""benchmarks/handoff_bench.py runs with tiny counts and reports every step of each mode."""

from __future__ import annotations

import re
import subprocess
import sys

from .scripts import BENCH_DIR


def test_handoff_bench_smoke() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH_DIR / "handoff_bench.py"), "--writes", "60", "--warmup",
         "10", "--rounds", "1", "--no-fsync"],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    for mode in ("executor", "thread", "inline"):
        assert f"{mode}:" in out, out
    step = r"^  (to thread|work|back to loop|round trip)\s+([\d.]+)/\s*([\d.]+)"
    steps = re.findall(step, out, re.M)
    assert len(steps) == 12, out
    for _step, p50, p99 in steps:
        assert 0 <= float(p50) <= float(p99), out
