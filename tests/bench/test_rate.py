"""`roost bench --rate`: open-loop load against the null server (also one that delays replies).

Timing is only bounded where a correct generator cannot miss: a schedule cannot end before
its last request is due, and a reply held back D seconds cannot come sooner than that.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from roost.bench import BenchError, Config, NullServer, RawResult, merge, parse_targets, run_bench
from roost.bench.cli import bench
from roost.bench.config import STANDARD, paced_workloads, rate_problem

RATE = 2000.0


def paced(hosts: str, **kw: object) -> Config:
    cfg = Config(targets=parse_targets(hosts), clients=2, pipeline=16, ops=1000, check=False,
                 max_seconds=20.0, stall_seconds=15.0, rate=RATE)
    for k, v in kw.items():
        setattr(cfg, k, v)
    return cfg


@pytest.fixture(scope="module")
def null_server() -> Iterator[NullServer]:
    with NullServer() as srv:
        yield srv


@pytest.mark.parametrize("processes", [1, 2])
def test_rate_mode_offers_the_asked_rate(null_server: NullServer, processes: int) -> None:
    cfg = paced(null_server.hosts, processes=processes, workloads=["set-1k", "mixed-90"])
    report = run_bench(cfg)
    # each session sends one request every (sessions / rate) seconds: 1000 requests over
    # 2 x processes sessions cannot take less than the schedule's span
    sessions = 2 * processes
    span = (cfg.ops / sessions - 1) * sessions / RATE
    for r in report.results:
        assert (r.ops, r.errors, r.offered_rate) == (1000, 0, RATE), r
        assert r.seconds >= span
        # achieved rate: at most the offered one (nothing is sent early), and not far below
        assert 0.5 * RATE <= r.ops_per_sec <= 1.01 * RATE, r.line()
        assert r.backlogged <= r.ops
        assert 0 <= r.send_lag_p50_ms <= r.send_lag_p99_ms
        assert "offered=2000.0/s" in r.line() and "backlogged=" in r.line()


def test_the_wall_clock_cap_stops_the_schedule(null_server: NullServer) -> None:
    # 10,000 requests at 100/s would take 100 s; the cap stops sending after 0.3 s, and
    # nothing is sent ahead of its time, so at most the requests due by then went out
    cfg = paced(null_server.hosts, ops=10_000, rate=100.0, max_seconds=0.3, workloads=["get"])
    (r,) = run_bench(cfg).results
    assert r.capped and r.errors == 0
    assert 1 <= r.ops <= 100 * 0.3 + 2


def test_closed_loop_results_carry_no_rate(null_server: NullServer) -> None:
    (r,) = run_bench(paced(null_server.hosts, rate=None, workloads=["get-1k"], ops=50)).results
    assert (r.ops, r.offered_rate, r.backlogged, r.send_lag_p99_ms) == (50, 0.0, 0, 0.0)
    assert "offered=" not in r.line()


def test_latency_runs_from_the_scheduled_send_time() -> None:
    # replies come 20 ms after their request; one session at most 1 in flight, asked for a
    # request every 5 ms. Request i (due at 5i ms) cannot be answered before 20(i+1) ms:
    # its latency from the schedule is at least 20 + 15i ms, though each waits 20 ms once sent
    delay, n = 0.020, 20
    with NullServer(reply_delay=delay) as srv:
        cfg = paced(srv.hosts, clients=1, pipeline=1, ops=n, rate=200.0, workloads=["get-1k"])
        (r,) = run_bench(cfg).results
        assert (r.ops, r.errors) == (n, 0)
        assert r.max_ms >= 20 + 15 * (n - 1)
        assert r.p50_ms >= 20 + 15 * (n // 2 - 1)
        # every request but the first fell due while the one before was still outstanding
        assert r.backlogged == n - 1
        assert r.ops_per_sec <= 1 / delay
        # with room for all of them in flight nothing waits for the cap; the delay still counts
        (r,) = run_bench(paced(srv.hosts, clients=1, pipeline=64, ops=n, rate=200.0,
                               workloads=["get-1k"])).results
        assert (r.ops, r.backlogged) == (n, 0)
        assert r.p50_ms >= delay * 1000


def test_rate_refuses_fanout_and_session_churn() -> None:
    # checked before any connection: nothing listens on port 1
    for name in ("watch-fanout", "session-churn"):
        cfg = Config(targets=[("127.0.0.1", 1)], workloads=["set-1k", name], rate=100.0)
        with pytest.raises(BenchError, match=f"--rate does not apply to {name}"):
            run_bench(cfg)
    result = CliRunner().invoke(bench, ["127.0.0.1:1", "--rate", "100", "--workloads",
                                        "get-1k,session-churn"])
    assert result.exit_code == 2
    assert "--rate does not apply to session-churn" in result.output
    assert CliRunner().invoke(bench, ["127.0.0.1:1", "--rate", "0"]).exit_code == 2


def test_rate_too_low_for_the_session_timeout() -> None:
    cfg = Config(targets=[("127.0.0.1", 1)], clients=4, workloads=["get-1k"], rate=0.1,
                 session_timeout_ms=30000)
    problem = rate_problem(cfg)
    assert problem is not None and "40.0s between one session's requests" in problem
    cfg.rate = 1.0
    assert rate_problem(cfg) is None


def test_cli_rate_defaults_to_the_paced_standard_workloads(null_server: NullServer) -> None:
    result = CliRunner().invoke(bench, [null_server.hosts, "--rate", "5000", "--ops", "10",
                                        "--clients", "2", "--no-check", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output[result.output.index("{"):])
    names = [r["workload"] for r in doc["results"]]
    assert names == paced_workloads(list(STANDARD))
    assert "watch-fanout" not in names and "session-churn" not in names
    assert all(r["offered_rate"] == 5000.0 and r["ops"] == 10 for r in doc["results"])
    assert doc["config"]["rate"] == 5000.0


def test_merge_and_wire_of_open_loop_figures() -> None:
    ms = 1_000_000
    a = RawResult("set", 4, 2, 0, 10 * ms, [1 * ms, 2 * ms], offered_rate=400.0, backlogged=1,
                  send_lags_ns=[0, 4 * ms])
    b = RawResult("set", 4, 2, 0, 10 * ms, [3 * ms, 4 * ms], offered_rate=400.0, backlogged=2,
                  send_lags_ns=[1 * ms, 2 * ms])
    assert RawResult.from_wire(a.to_wire()) == a
    r = merge([a, b])
    assert (r.offered_rate, r.backlogged, r.ops_per_sec) == (400.0, 3, 400.0)
    assert (r.send_lag_p50_ms, r.send_lag_p99_ms) == (1.0, 4.0)
