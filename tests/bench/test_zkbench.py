"""Smoke tests of benchmarks/zkbench.py and benchmarks/compare.py with tiny op counts.

Real servers (ZooKeeper from Debian's package, and roost once its harness imports) check
that the reported op counts are right and that nothing is left behind; a scripted fake
server checks that a reply out of xid order or with an error stops the run. No timing
asserts anywhere.
"""

from __future__ import annotations

import json
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kazoo.client import KazooClient

from roost.wire.jute import REQUEST_HEADER
from roost.wire.opcodes import Op
from roost.wire.protocol import FrameBuffer, encode_frame, encode_reply
from roost.wire.records import ConnectResponse

from .scripts import BENCH_DIR, SERVERS, load_script

zkbench = load_script("zkbench")

OPS = 23  # not a multiple of the client count: exercises the uneven split


def run_script(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def bench_json(hosts: str, *args: str) -> dict[str, Any]:
    proc = run_script(str(BENCH_DIR / "zkbench.py"), hosts, *args, "--json")
    assert proc.returncode == 0, proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def test_reports_every_op_and_cleans_up(server_hosts: str, kazoo: KazooClient) -> None:
    before = sorted(kazoo.get_children("/"))
    report = bench_json(
        server_hosts,
        *("--clients", "3", "--pipeline", "4", "--ops", str(OPS), "--size", "100"),
        *("--workloads", "create,set,get", "--mixed", "0.5"),
    )
    results = report["results"]
    assert [r["workload"] for r in results] == ["create", "set", "get", "mixed"]
    for r in results:
        assert (r["requested"], r["ops"], r["capped"]) == (OPS, OPS, False), r
        assert r["p50_ms"] <= r["p99_ms"]
    # every created node, and only those, was deleted by the cleanup
    assert report["cleanup_deleted"] == OPS
    assert kazoo.exists(report["base"]) is None
    assert sorted(kazoo.get_children("/")) == before


def test_delete_workload_and_untimed_setup(server_hosts: str, kazoo: KazooClient) -> None:
    before = sorted(kazoo.get_children("/"))
    report = bench_json(
        server_hosts,
        *("--clients", "2", "--pipeline", "8", "--ops", str(OPS), "--size", "0"),
        *("--workloads", "get,delete,set"),
    )
    assert [(r["workload"], r["ops"]) for r in report["results"]] == [
        ("get", OPS),
        ("delete", OPS),
        ("set", OPS),
    ]
    # get and set each needed a pool of untimed nodes; delete consumed the first one
    assert report["cleanup_deleted"] == OPS
    assert kazoo.exists(report["base"]) is None
    assert sorted(kazoo.get_children("/")) == before


def test_existing_base_is_an_error_and_left_alone(
    server_hosts: str, kazoo: KazooClient
) -> None:
    kazoo.create("/taken/child", b"keep", makepath=True)
    proc = run_script(
        str(BENCH_DIR / "zkbench.py"), server_hosts, "--ops", "5", "--base", "/taken"
    )
    assert proc.returncode == 1
    assert "NODE_EXISTS" in proc.stderr
    assert kazoo.get("/taken/child")[0] == b"keep"
    kazoo.delete("/taken", recursive=True)


def test_compare_runs_each_available_server() -> None:
    proc = run_script(
        str(BENCH_DIR / "compare.py"),
        *("--ops", "12", "--clients", "2", "--pipeline", "3", "--size", "10", "--json"),
        timeout=240.0,
    )
    assert proc.returncode == 0, proc.stderr
    runs = json.loads(proc.stdout)
    for name in SERVERS:
        run = runs[name]
        assert run["error"] == "", run["error"]
        assert [(r["workload"], r["ops"]) for r in run["bench"]["results"]] == [
            ("create", 12),
            ("set", 12),
            ("get", 12),
        ]
        assert run["stats"]["pid"] > 0
        assert run["stats"]["peak_rss_kib"] >= run["stats"]["rss_kib"] > 0


def test_compare_table_lines_up_both_columns() -> None:
    compare = load_script("compare")

    def run(name: str, rate: float) -> Any:
        results = [
            {"workload": "get", "ops_per_sec": rate, "p50_ms": 1.0, "p99_ms": 2.5, "capped": False}
        ]
        return compare.ServerRun(name, bench={"results": results})

    text = compare.table(run("zookeeper", 2000.0), run("roost", 500.0))
    header, rule, row = text.splitlines()
    assert header.split()[:3] == ["workload", "ZooKeeper", "ops/s"]
    assert set(rule) == {"-"}
    assert row.split() == ["get", "2000", "500", "0.25x", "1.00", "/", "2.50", "1.00", "/", "2.50"]


# --- pure helpers ---------------------------------------------------------------------


def test_split_spreads_the_remainder_first() -> None:
    assert zkbench.split(10, 3) == [4, 3, 3]
    assert zkbench.split(2, 4) == [1, 1, 0, 0]
    assert sum(zkbench.split(OPS, 7)) == OPS


def test_percentile_is_nearest_rank() -> None:
    samples = [i * 1_000_000 for i in range(1, 101)]  # 1..100 ms
    assert zkbench.percentile_ms(samples, 50) == 50.0
    assert zkbench.percentile_ms(samples, 99) == 99.0
    assert zkbench.percentile_ms(samples[:1], 99) == 1.0
    assert zkbench.percentile_ms([], 50) == 0.0


# --- a scripted fake server -----------------------------------------------------------


class _FakeHandler(socketserver.BaseRequestHandler):
    """Answers the handshake and every request; ``server.mode`` picks one misbehaviour.

    "swap": the reply to a create with xid 2 goes out after the reply to xid 3.
    "error": the first getData gets err -101 (NoNode).
    """

    server: _FakeServer

    def handle(self) -> None:
        frames = FrameBuffer()
        connected, held = False, None
        while data := self.request.recv(65536):
            for body in frames.feed(data):
                if not connected:
                    resp = ConnectResponse(0, 30000, 0x5EED, bytes(16), False)
                    self.request.sendall(encode_frame(resp))
                    connected = True
                    continue
                xid, op = REQUEST_HEADER.unpack_from(body, 0)
                if self.server.mode == "swap" and xid == 2 and op == Op.CREATE:
                    held = xid
                    continue
                err = 0
                if self.server.mode == "error" and op == Op.GET_DATA and not self.server.failed:
                    self.server.failed = True
                    err = -101
                out = encode_reply(xid, 7, err)
                if held is not None:
                    out += encode_reply(held, 7, 0)
                    held = None
                self.request.sendall(out)
                if op == Op.CLOSE_SESSION:
                    return


class _FakeServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, mode: str) -> None:
        super().__init__(("127.0.0.1", 0), _FakeHandler)
        self.mode = mode
        self.failed = False


@pytest.fixture
def fake_server(request: pytest.FixtureRequest) -> Iterator[str]:
    srv = _FakeServer(request.param)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(10)


@pytest.mark.parametrize(
    ("fake_server", "workloads", "message"),
    [("swap", "create", "out of order"), ("error", "get", "NO_NODE")],
    indirect=["fake_server"],
)
def test_misbehaving_server_stops_the_run(
    fake_server: str, workloads: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [fake_server, "--clients", "1", "--pipeline", "4", "--ops", "8"]
    argv += ["--workloads", workloads, "--stall-seconds", "5", "--no-uvloop"]
    assert zkbench.main(argv) == 1
    err = capsys.readouterr().err
    assert message in err
