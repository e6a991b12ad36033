"""The server's counters and histograms (roost.server.stats)."""

from __future__ import annotations

from roost.server.stats import Histogram, Stats, op_name, result_name, write_name
from roost.server.txn import Kind
from roost.wire.errors import Err
from roost.wire.opcodes import Op


def test_histogram_buckets_are_upper_bounds_inclusive() -> None:
    h = Histogram((0.001, 0.01, 0.1))
    for v in (0.0005, 0.001, 0.002, 0.01, 0.5, 7.0):
        h.observe(v)
    assert h.cumulative() == [(0.001, 2), (0.01, 4), (0.1, 4), (float("inf"), 6)]
    assert h.count == 6 and abs(h.sum - 7.5135) < 1e-9


def test_request_counts_keep_negative_opcodes() -> None:
    s = Stats()
    for op in (Op.GET_DATA, Op.GET_DATA, Op.CLOSE_SESSION, Op.WHO_AM_I):
        s.requests[op & 0xFF] += 1
    assert s.request_counts() == {Op.GET_DATA: 2, Op.CLOSE_SESSION: 1, Op.WHO_AM_I: 1}


def test_names() -> None:
    assert op_name(Op.SET_DATA) == "set_data" and op_name(9999) == "op9999"
    assert result_name(0) == "ok" and result_name(Err.NODE_EXISTS) == "node_exists"
    assert result_name(-9999) == "err-9999"
    assert write_name(Kind.REQUEST, Op.CREATE) == "create"
    assert write_name(Kind.CLOSE_SESSION, 0) == "close_session"


def test_latencies_by_opcode_and_http_route() -> None:
    s = Stats()
    s.read(Op.EXISTS, 0.0002)
    s.read(Op.EXISTS, 0.003)
    s.write(Op.CREATE, 0.004)
    s.http("PUT", "/v1/kv/{key}", 200, 0.01)
    s.http("PUT", "/v1/kv/{key}", 409, 0.02)
    assert s.read_seconds[Op.EXISTS].count == 2 and s.write_seconds[Op.CREATE].count == 1
    assert s.http_requests == {("PUT", "/v1/kv/{key}", "200"): 1, ("PUT", "/v1/kv/{key}", "409"): 1}
    assert s.http_seconds[("PUT", "/v1/kv/{key}")].count == 2
