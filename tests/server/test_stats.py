"""The server's counters and histograms (roost.server.stats)."""

from __future__ import annotations

from roost.server.stats import Histogram, Stats, by_opcode, op_name, result_name, write_name
from roost.tree.txn import Kind
from roost.wire.errors import Err
from roost.wire.opcodes import Op


def test_histogram_buckets_are_powers_of_two_microseconds() -> None:
    h = Histogram()
    for v in (0.000_001, 0.000_015, 0.000_016, 0.000_031, 0.001, 0.5, 7.0, 5000.0):
        h.observe(v)
    cum = dict(h.cumulative())
    assert list(cum)[:3] == [16e-6, 32e-6, 64e-6] and list(cum)[-2:] == [(1 << 30) / 1e6,
                                                                           float("inf")]
    assert cum[16e-6] == 2  # 1 us and 15 us are below 16 us; 16 us is not
    assert cum[32e-6] == 4
    assert cum[1024e-6] == 5  # 1 ms = 1000 us
    assert cum[(1 << 19) / 1e6] == 6  # 0.5 s < 524288 us
    assert cum[(1 << 23) / 1e6] == 7  # 7 s < 8.4 s
    assert cum[(1 << 30) / 1e6] == 7 and cum[float("inf")] == 8  # 5000 s: only in +Inf
    counts = list(cum.values())
    assert counts == sorted(counts)
    assert h.count == 8 and abs(h.sum - 5007.501063) < 1e-6


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
    assert list(by_opcode(s.read_seconds)) == [Op.EXISTS]
    assert s.http_requests == {("PUT", "/v1/kv/{key}", "200"): 1, ("PUT", "/v1/kv/{key}", "409"): 1}
    assert s.http_seconds[("PUT", "/v1/kv/{key}")].count == 2
