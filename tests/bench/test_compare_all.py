"""compare_all.py with tiny counts (standalone only): both servers, every workload, memory."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from roost.bench import STANDARD

from .scripts import BENCH_DIR, load_script


def test_compare_all_standalone_and_memory() -> None:
    args = ["--shapes", "standalone", "--rounds", "1", "--ops", "20", "--watchers", "3",
            "--processes", "1", "--clients", "2", "--pipeline", "4", "--warmup-ops", "0",
            "--failover-runs", "0", "--memory-nodes", "30", "--latency-ops", "15",
            "--latency-seconds", "0.3", "--json"]
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
    # latency: depth 1 on one session, then each server offered the same rate: half the
    # lower closed-loop ops/s of the throughput runs above
    lat = doc["latency"]["standalone"]
    cells = doc["cells"]["standalone"]
    for w in ("set-1k", "mixed-90"):
        lower = min(next(r["ops_per_sec"] for r in cells[s]["reports"][0]["results"]
                         if r["workload"] == w) for s in ("zookeeper", "roost"))
        assert lat["rates"][w] == 0.5 * lower
    for server in ("zookeeper", "roost"):
        cell = lat["cells"][server]
        assert cell["errors"] == []
        assert {w: r["ops"] for w, r in cell["closed"].items()} == {
            "create-100": 15, "set-1k": 15, "get-1k": 15}
        assert sorted(cell["paced"]) == ["mixed-90", "set-1k"]
        for w, r in cell["paced"].items():
            assert r["offered_rate"] == lat["rates"][w]
            assert r["ops"] == max(1, round(lat["rates"][w] * 0.3)) and r["errors"] == 0


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


def _row(workload: str, p50: float, p99: float, p999: float, **kw: float) -> dict[str, Any]:
    row: dict[str, Any] = {"workload": workload, "ops_per_sec": 0.0, "p50_ms": p50,
                           "p99_ms": p99, "p999_ms": p999, "errors": 0, "check_failures": 0,
                           "backlogged": 0, "send_lag_p99_ms": 0.0}
    row.update(kw)
    return row


def test_latency_tables_side_by_side_with_the_p99_ratio() -> None:
    compare_all = load_script("compare_all")
    zk = {"set-1k": _row("set-1k", 0.5, 1.0, 2.0), "get-1k": _row("get-1k", 0.23, 0.4, 0.9)}
    roost = {"set-1k": _row("set-1k", 0.6, 1.5, 3.25, errors=2)}
    text = compare_all.closed_table(zk, roost, ["set-1k", "get-1k", "create-100"])
    head, _rule, set_row, get_row, create_row = text.splitlines()
    assert head.split()[:2] == ["workload", "ZK"]
    assert set_row.split() == ["set-1k", "0.50/1.00/2.00", "0.60/1.50/3.25", "1.50x", "0/2"]
    assert get_row.split() == ["get-1k", "0.23/0.40/0.90", "-", "-", "0/-"]
    assert create_row.split() == ["create-100", "-", "-", "-", "-/-"]

    zk_paced = {"set-1k": _row("set-1k", 1.0, 4.0, 8.0, ops_per_sec=2998.6, backlogged=0,
                               send_lag_p99_ms=0.8)}
    roost_paced = {"set-1k": _row("set-1k", 0.8, 3.0, 9.0, ops_per_sec=3001.2, backlogged=7,
                                  send_lag_p99_ms=1.25)}
    text = compare_all.paced_table(zk_paced, roost_paced, {"set-1k": 3000.0, "mixed-90": 50.0})
    head, _rule, set_row, mixed_row = text.splitlines()
    assert "offered ops/s" in head and "backlogged ZK/roost" in head
    assert set_row.split() == ["set-1k", "3000", "2999/3001", "1.00/4.00/8.00",
                               "0.80/3.00/9.00", "0.75x", "0/7", "0.80/1.25", "0/0"]
    assert mixed_row.split() == ["mixed-90", "50", "-/-", "-", "-", "-", "-/-", "-/-", "-/-"]


def test_equal_rate_is_a_fraction_of_the_lower_throughput() -> None:
    compare_all = load_script("compare_all")

    def cell(rates: dict[str, float]) -> object:
        rows = [{"workload": w, "ops_per_sec": r, "p50_ms": 1.0, "p99_ms": 2.0, "p999_ms": 3.0,
                 "errors": 0, "check_failures": 0} for w, r in rates.items()]
        return compare_all.Cell(reports=[{"results": rows}])

    cells = {"zookeeper": cell({"set-1k": 8000.0, "mixed-90": 20000.0}),
             "roost": cell({"set-1k": 6000.0})}
    assert compare_all.equal_rates(cells, 0.5) == {"set-1k": 3000.0, "mixed-90": 10000.0}
    assert compare_all.equal_rates(cells, 0.5, 1234.0) == {"set-1k": 1234.0, "mixed-90": 1234.0}
    # a workload neither server measured gets no rate (the section says it was not run)
    assert compare_all.equal_rates({"roost": cell({"get-1k": 9.0})}, 0.5) == {}
