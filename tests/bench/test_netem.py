"""benchmarks/netem.py --quick: roost across namespaces with 5 ms links and 1% loss, the
figures measured and the table printed (the full run, with ZooKeeper, is not part of the
suite: docs/benchmarks.md)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from roost.testing.netns import unavailable

from .scripts import BENCH_DIR


def test_netem_quick_roost() -> None:
    why = unavailable()
    if why is not None:
        pytest.skip(f"no network namespaces here: {why}")
    args = ["--quick", "--servers", "roost", "--conditions", "5ms,loss1", "--json"]
    proc = subprocess.run([sys.executable, str(BENCH_DIR / "netem.py"), *args],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    five, lossy = doc["roost"]["5ms"][0], doc["roost"]["loss1"][0]
    for name, fig in (("5ms", five), ("loss1", lossy)):  # a failed step says what failed
        assert "error" not in fig, f"{name}: {fig['error']}\n{proc.stderr[-3000:]}"
    # a write through a follower crosses at least two links each way: >= 20 ms at 5 ms
    assert five["p50_ms"] >= 20.0
    assert lossy["lost_chunks"] > 0  # the loss was applied
    for fig in (five, lossy):
        assert fig["ops_per_sec"] > 0 and 0 < fig["election_ms"] < 30_000
        assert fig["lost_acked"] == 0 and fig["session_kept"]


def test_netem_refuses_unknown_names() -> None:
    proc = subprocess.run([sys.executable, str(BENCH_DIR / "netem.py"), "--conditions", "9ms"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2 and "unknown condition '9ms'" in proc.stderr
