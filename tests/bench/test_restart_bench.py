"""benchmarks/restart.py runs with a tiny data set and reports each restart and roost's
recovery line (roost only: a ZooKeeper start takes seconds more)."""

from __future__ import annotations

import re
import subprocess
import sys

from .scripts import BENCH_DIR


def test_restart_bench_smoke() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH_DIR / "restart.py"), "--nodes", "40", "--rounds", "2",
         "--no-zookeeper"],
        capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "roost: 40 znodes loaded" in out
    rounds = re.findall(r"round \d roost: restart ([\d.]+)s, RSS (\d+) MiB .*recovered "
                        r"(\d+) nodes", out)
    assert len(rounds) == 2, out
    for seconds, rss, nodes in rounds:
        assert float(seconds) > 0 and int(rss) > 0
        assert int(nodes) >= 41  # /mem and its 40 children, plus the /zookeeper nodes
    assert re.search(r"roost: restart median [\d.]+s \(min [\d.]+, max [\d.]+\) over 2 rounds",
                     out), out
