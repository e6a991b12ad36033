"""benchmarks/history_bench.py runs with tiny counts and prints both kinds of figures."""

from __future__ import annotations

import re
import subprocess
import sys

from .scripts import BENCH_DIR


def test_history_bench_smoke() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH_DIR / "history_bench.py"), "--events", "2000", "--rounds", "1"],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    memory = re.findall(r"measured ([\d.]+) MiB \((\d+) B/event\), estimated ([\d.]+) MiB", out)
    assert len(memory) == 2
    for measured, _, estimated in memory:
        assert 0 < float(measured) <= float(estimated)
    rates = re.findall(r"with_data=\w+\s*: ([\d,]+) events/s", out)
    assert len(rates) == 5 and all(int(r.replace(",", "")) > 0 for r in rates)
    assert "after a restart, recursive" in out
    image = re.search(r"snapshot image of 2000 events: ([\d.]+) MiB, encode ([\d.]+) s, "
                      r"load ([\d.]+) s \(best of 3\); loaded history ([\d.]+) MiB", out)
    assert image is not None, out
    assert float(image.group(4)) > 0
