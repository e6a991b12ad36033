"""compare_all.py with tiny counts (standalone only): both servers, every workload, memory."""

from __future__ import annotations

import json
import subprocess
import sys

from roost.bench import STANDARD

from .scripts import BENCH_DIR, load_script


def test_compare_all_standalone_and_memory() -> None:
    args = ["--shapes", "standalone", "--rounds", "1", "--ops", "20", "--watchers", "3",
            "--processes", "1", "--clients", "2", "--pipeline", "4", "--warmup-ops", "0",
            "--failover-runs", "0", "--memory-nodes", "30", "--json"]
    proc = subprocess.run([sys.executable, str(BENCH_DIR / "compare_all.py"), *args],
                          capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    assert doc["problems"] == []
    # the generator's ceiling: the same load against the null server
    assert sorted(doc["ceiling"]) == sorted(STANDARD)
    assert all(rate > 0 for rate in doc["ceiling"].values())
    for server in ("zookeeper", "roost"):
        cell = doc["cells"]["standalone"][server]
        (report,) = cell["reports"]
        assert [(r["workload"], r["ops"]) for r in report["results"]] == [
            (w, 3 if w == "watch-fanout" else 20) for w in STANDARD
        ]
        assert cell["peak_rss_kib"] > 0
    mem = {m["server"]: m for m in doc["memory"]}
    assert sorted(mem) == ["roost", "zookeeper"]
    for m in mem.values():
        assert m["nodes"] == 30 and m["error"] == ""
        assert m["rss_loaded_kib"] > 0 and m["snapshot_bytes"] > 0
        assert m["restart_clean_seconds"] > 0 and m["restart_kill_seconds"] > 0
    assert mem["roost"]["snapshot_file"].endswith(".snap")
    assert mem["zookeeper"]["snapshot_file"].startswith("version-2/snapshot.")


def test_table_ratio_and_errors_columns() -> None:
    compare_all = load_script("compare_all")

    def cell(rate: float, errors: int) -> object:
        row = {"workload": "get-1k", "ops_per_sec": rate, "p50_ms": 1.0, "p99_ms": 2.0,
               "p999_ms": 3.0, "errors": errors, "check_failures": 0}
        return compare_all.Cell(reports=[{"results": [row]}])

    text = compare_all.table({"zookeeper": cell(1000.0, 0), "roost": cell(2500.0, 4)},
                             ["get-1k", "set-1k"], {"get-1k": 9000.4})
    head, _rule, get_row, set_row = text.splitlines()
    assert head.split()[-2:] == ["null-server", "ops/s"]
    assert get_row.split() == ["get-1k", "1000", "2500", "2.50x", "1.0/2.0/3.0", "1.0/2.0/3.0",
                               "0/4", "9000"]
    assert set_row.split() == ["set-1k", "-", "-", "-", "-", "-", "-/-", "-"]
