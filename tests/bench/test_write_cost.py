"""benchmarks/write_cost.py runs with a tiny count and prints every stage of a write."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from .scripts import BENCH_DIR


@pytest.mark.parametrize("workload", ["create-100", "set-1k"])
def test_write_cost_smoke(workload: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH_DIR / "write_cost.py"), "--reps", "2", "--workload", workload],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    stages = dict(re.findall(r"^  (\d) .*?\s(-?[\d.]+)$", proc.stdout, re.M))
    assert set(stages) == set("123456789"), proc.stdout  # every stage was reached
    total = float(re.search(r"loop thread total\s+([\d.]+)", proc.stdout)[1])  # type: ignore[index]
    assert total > 0
    assert all(float(v) > 0 for k, v in stages.items() if k != "9")
