"""benchmarks/connection_cpu.py runs with a tiny count and prints a figure per workload."""

from __future__ import annotations

import re
import subprocess
import sys

from .scripts import BENCH_DIR


def test_connection_cpu_smoke() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH_DIR / "connection_cpu.py"), "--reps", "2"],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    figures = dict(re.findall(r"^(\S+)\s+([\d.]+) us CPU/request", proc.stdout, re.M))
    assert set(figures) == {"get-1k", "exists-missing", "set-100", "get-1k-single"}
    assert all(float(v) > 0 for v in figures.values())
