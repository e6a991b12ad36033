"""Smoke tests of `roost bench` (package roost.bench) with tiny counts; no timing asserts.

Every standard workload runs against ZooKeeper and roost (harness-started), with one and
with two load-generator processes, and against the null server; merging and the error
accounting (errors and failed checks make the exit status non-zero) are checked directly.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient

from roost.bench import STANDARD, Config, NullServer, RawResult, merge, parse_targets, run_bench
from roost.bench.cli import execute
from roost.testing.ports import accepts, free_port
from roost.testing.wait import wait_until

OPS = 21
WATCHERS = 5


def tiny(hosts: str, **kw: object) -> Config:
    cfg = Config(targets=parse_targets(hosts), clients=2, pipeline=4, ops=OPS, watchers=WATCHERS,
                 max_seconds=30.0, stall_seconds=15.0)
    for k, v in kw.items():
        setattr(cfg, k, v)
    return cfg


def expected_ops(name: str) -> int:
    return WATCHERS if name == "watch-fanout" else OPS


@pytest.mark.parametrize("processes", [1, 2])
def test_every_workload_runs_clean(
    server_hosts: str, kazoo: KazooClient, processes: int
) -> None:
    before = sorted(kazoo.get_children("/"))
    report = run_bench(tiny(server_hosts, processes=processes), use_uvloop=False)
    assert [r.workload for r in report.results] == list(STANDARD)
    for r in report.results:
        assert (r.ops, r.errors, r.check_failures, r.capped) == (expected_ops(r.workload), 0,
                                                                  0, False), r
        assert len(r.per_process_ops) == processes
        assert sum(r.per_process_ops) == r.ops
        assert r.p50_ms <= r.p99_ms <= r.p999_ms <= r.max_ms
    assert report.errors == 0
    # create-100 and create-1k made OPS nodes each, the fan-out made one: all deleted
    assert report.cleanup_deleted == 2 * OPS + 1
    assert kazoo.exists(report.base) is None
    assert sorted(kazoo.get_children("/")) == before


def test_sessions_spread_over_several_targets(server_hosts: str, kazoo: KazooClient) -> None:
    # the same server named twice: sessions alternate between the two addresses
    cfg = tiny(f"{server_hosts},{server_hosts}", workloads=["create", "get", "delete"], size=7)
    report = run_bench(cfg, use_uvloop=False)
    assert [(r.workload, r.ops, r.errors) for r in report.results] == [
        ("create", OPS, 0), ("get", OPS, 0), ("delete", OPS, 0)
    ]
    assert kazoo.exists(report.base) is None


@pytest.fixture
def null_server() -> Iterator[NullServer]:
    with NullServer() as srv:
        yield srv


def test_null_server_takes_every_workload(null_server: NullServer) -> None:
    cfg = tiny(null_server.hosts, check=False, processes=2)
    report = run_bench(cfg)
    assert [(r.workload, r.ops, r.errors) for r in report.results] == [
        (w, expected_ops(w), 0) for w in STANDARD
    ]


def test_checks_count_errors_and_fail_the_exit_status(
    null_server: NullServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # with checks on, the null server's empty data and its OK for a missing node are wrong
    cfg = tiny(null_server.hosts, workloads=["get-1k", "exists-missing", "set-1k"])
    assert execute(cfg, as_json=True) == 1
    out = capsys.readouterr()
    doc = json.loads(out.out)
    by_name = {r["workload"]: r for r in doc["results"]}
    assert by_name["get-1k"]["check_failures"] == OPS
    assert by_name["exists-missing"]["errors"] == OPS
    assert by_name["exists-missing"]["error_kinds"] == {"OK (0)": OPS}
    assert (by_name["set-1k"]["errors"], by_name["set-1k"]["check_failures"]) == (0, 0)
    assert doc["errors"] == 2 * OPS
    assert "exists-missing: 21 errors" in out.err
    # the same run without checks is clean and exits 0
    cfg.check = False
    assert execute(cfg, as_json=True) == 0


def test_cli_against_a_null_server_subprocess() -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "roost.cli", "bench", "null-server", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        def listening() -> bool:
            assert server.poll() is None, f"the null server exited with {server.returncode}"
            return accepts(port)

        wait_until(listening, 30, what="the null server to listen")
        argv = [sys.executable, "-m", "roost.cli", "bench", f"127.0.0.1:{port}", "--ops", "9",
                "--workloads", "create-100,get-1k,watch-fanout", "--watchers", "3",
                "--no-check", "--json"]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        assert [(r["workload"], r["ops"]) for r in doc["results"]] == [
            ("create-100", 9), ("get-1k", 9), ("watch-fanout", 3)
        ]
    finally:
        server.terminate()
        server.wait(10)


def test_bad_target_is_a_usage_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "roost.cli", "bench", "no-port-here", "--ops", "1"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 2
    assert "HOST:PORT" in proc.stderr


# --- merging ----------------------------------------------------------------------------


def test_merge_sums_ops_over_the_common_window() -> None:
    ms = 1_000_000
    a = RawResult("get", 300, 100, start_ns=0, end_ns=1000 * ms,
                  latencies_ns=[1 * ms] * 100, cpu_seconds=0.5)
    b = RawResult("get", 300, 200, start_ns=500 * ms, end_ns=2000 * ms,
                  latencies_ns=[3 * ms] * 200, errors={"X": 2}, cpu_seconds=0.25)
    r = merge([a, b])
    assert (r.ops, r.seconds, r.ops_per_sec) == (300, 2.0, 150.0)
    # percentiles over all 300 samples: a third are 1 ms, the rest 3 ms
    assert (r.p50_ms, r.p99_ms, r.max_ms) == (3.0, 3.0, 3.0)
    assert merge([a, b]).errors == 2 and r.error_kinds == {"X": 2} and r.failed
    assert r.client_cpu_seconds == 0.75
    assert r.per_process_ops == [100, 200]
    assert RawResult.from_wire(b.to_wire()) == b


def test_merge_of_fanout_stamps_uses_the_setters_clock() -> None:
    ms = 1_000_000
    setter = RawResult("watch-fanout", 4, 2, 0, 0, [105 * ms, 110 * ms], stamps=True,
                       t0_ns=100 * ms)
    other = RawResult("watch-fanout", 4, 2, 0, 0, [102 * ms, 120 * ms], stamps=True)
    r = merge([setter, other])
    assert r.ops == 4
    assert r.seconds == pytest.approx(0.020)
    assert (r.p50_ms, r.max_ms) == (5.0, 20.0)
