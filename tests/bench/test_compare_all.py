"""compare_all.py --quick (standalone): warm servers, windows, latency, memory; its tables."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from typing import Any

import pytest

from roost.bench import STANDARD

from .scripts import BENCH_DIR, load_script


def test_compare_all_quick_standalone_and_memory() -> None:
    """--quick: one warm server of each kind, warm-up, a round of windows, latency, memory."""
    args = ["--quick", "--shapes", "standalone", "--rounds", "2", "--json"]
    proc = subprocess.run([sys.executable, str(BENCH_DIR / "compare_all.py"), *args],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    assert doc["problems"] == []
    assert doc["window"] == 0.25 and doc["warmup_seconds"] == 1.0
    # the generator's ceiling: the same load against the null server
    assert sorted(doc["ceiling"]) == sorted(STANDARD)
    assert all(rate > 0 for rate in doc["ceiling"].values())
    for server in ("zookeeper", "roost"):
        cell = doc["cells"]["standalone"][server]
        # one process served every round: the one started for the shape
        assert len(cell["pids"]) == 1
        # warmed by at least the asked-for seconds of timed load before any round
        assert cell["warmup_seconds"] >= 1.0
        assert {r["workload"] for r in cell["warmup"]} == set(STANDARD)
        assert [rep["round"] for rep in cell["reports"]] == [1, 2]
        for report in cell["reports"]:
            assert [r["workload"] for r in report["results"]] == list(STANDARD)
            for r in report["results"]:
                assert r["errors"] == 0 and r["check_failures"] == 0 and r["ops"] > 0
                if r["workload"] != "watch-fanout":
                    # a window, not a count: the clock caps it (what is in flight drains
                    # after it; the budget may run out first on a busy machine, which the
                    # row then says)
                    assert r["seconds"] <= 0.25 + 2.0
                    assert r["by_clock"] == r["capped"] and r["requested"] >= r["ops"]
                    # /proc counts CPU in 10 ms ticks: a sub-ms fan-out may show none
                    assert r["server_cpu_seconds"] > 0 and r["cpu_us_per_op"] > 0
                assert r["rss_kib"] > 0
                assert r["window_end_ns"] > r["window_start_ns"] > 0
        rows = [r for rep in cell["reports"] for r in rep["results"]]
        assert sum(r["by_clock"] for r in rows) > len(rows) // 2  # mostly ended by the clock
        assert cell["peak_rss_kib"] > 0
    # rounds alternate: ZooKeeper first in round 1, roost first in round 2
    zk_cell, roost_cell = (doc["cells"]["standalone"][s] for s in ("zookeeper", "roost"))
    zk1, zk2 = (rep["results"][0]["window_start_ns"] for rep in zk_cell["reports"])
    ro1, ro2 = (rep["results"][0]["window_start_ns"] for rep in roost_cell["reports"])
    assert zk1 < ro1 < ro2 < zk2
    # ZooKeeper ran with its start script's flags, not the test harness's
    (cmdline,) = zk_cell["cmdlines"]
    assert "-Xmx1000m" in cmdline and "-XX:+UseSerialGC" not in cmdline
    assert doc["zk_jvm_flags"][0] == "-Xmx1000m"
    mem = {m["server"]: m for m in doc["memory"]}
    assert sorted(mem) == ["roost", "zookeeper"]
    for m in mem.values():
        assert m["nodes"] == 30 and m["error"] == ""
        assert m["rss_loaded_kib"] > 0 and m["snapshot_bytes"] > 0
        assert m["restart_clean_seconds"] > 0 and m["restart_kill_seconds"] > 0
    assert mem["roost"]["snapshot_file"].endswith(".snap")
    assert mem["zookeeper"]["snapshot_file"].startswith("version-2/snapshot.")
    # latency on the same warm servers: depth 1 on one session, then each server offered
    # the same rate: half the lower median ops/s of the rounds above
    lat = doc["latency"]["standalone"]
    cells = doc["cells"]["standalone"]
    for w in ("set-1k", "mixed-90"):
        lower = min(statistics.median(r["ops_per_sec"] for rep in cells[s]["reports"]
                                      for r in rep["results"] if r["workload"] == w)
                    for s in ("zookeeper", "roost"))
        assert lat["rates"][w] == pytest.approx(0.5 * lower)
    for server in ("zookeeper", "roost"):
        cell = lat["cells"][server]
        assert cell["errors"] == []
        assert sorted(cell["closed"]) == ["create-100", "get-1k", "set-1k"]
        for r in cell["closed"].values():
            assert r["ops"] > 0 and r["seconds"] <= 0.25 + 2.0 and r["errors"] == 0
        assert sorted(cell["paced"]) == ["mixed-90", "set-1k"]
        for w, r in cell["paced"].items():
            assert r["offered_rate"] == lat["rates"][w]
            assert r["ops"] == max(1, round(lat["rates"][w] * 0.25)) and r["errors"] == 0


def test_table_medians_with_min_max_cpu_rss_and_errors() -> None:
    compare_all = load_script("compare_all")

    def cell(rates: list[float], errors: int, by_clock: bool = True) -> object:
        rows = [{"workload": "get-1k", "ops_per_sec": r, "p50_ms": 1.0 + i, "p99_ms": 2.0,
                 "p999_ms": 3.0, "errors": errors if i == 0 else 0, "check_failures": 0,
                 "cpu_us_per_op": 10.0 * (i + 1), "rss_kib": 1024 * (100 + i),
                 "by_clock": by_clock or i > 0} for i, r in enumerate(rates)]
        return compare_all.Cell(reports=[{"results": [row]} for row in rows])

    zk = cell([1000.0, 900.0, 1200.0], 0)
    roost = cell([2500.0, 2500.0, 2500.0], 4, by_clock=False)
    text = compare_all.table({"zookeeper": zk, "roost": roost}, ["get-1k", "set-1k"],
                             {"get-1k": 9000.4})
    head, _rule, get_row, set_row = text.splitlines()
    assert head.split()[-2:] == ["null-server", "ops/s"]
    # the median, (min-max) when they differ, and * for a window the budget ended early
    assert get_row.split() == ["get-1k", "1000", "(900-1200)", "2500*", "2.50x", "2.0/2.0/3.0",
                               "2.0/2.0/3.0", "20/20", "101/101", "0/4", "9000"]
    assert set_row.split() == ["set-1k", "-", "-", "-", "-", "-", "-/-", "-/-", "-/-", "-"]
    assert zk.figures("get-1k")["short_windows"] == 0
    assert roost.figures("get-1k")["short_windows"] == 1


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
