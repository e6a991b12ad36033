"""Per-process raw results, and merging them into one result per workload."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Any

from .session import percentile_ms


@dataclass
class RawResult:
    """What one process measured for one workload (times are CLOCK_MONOTONIC, in ns)."""

    workload: str
    requested: int
    ops: int
    start_ns: int
    end_ns: int
    latencies_ns: list[int]
    errors: dict[str, int] = field(default_factory=dict)
    check_failures: int = 0
    capped: bool = False
    cpu_seconds: float = 0.0
    #: watch-fanout: latencies_ns hold arrival times; t0_ns is when the setData went out
    #: (known to the process that sent it only, else 0)
    stamps: bool = False
    t0_ns: int = 0
    error_samples: list[str] = field(default_factory=list)
    #: open loop (--rate): the offered rate over all processes (0: closed loop), requests
    #: that fell due while their session was at its depth cap, and how late each other
    #: request went out behind its scheduled time (latencies_ns run from the schedule)
    offered_rate: float = 0.0
    backlogged: int = 0
    send_lags_ns: list[int] = field(default_factory=list)

    def to_wire(self) -> dict[str, Any]:
        d = self.__dict__.copy()
        for key in _SAMPLES:
            d[key] = array("q", d[key]).tobytes()
        return d

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> RawResult:
        d = dict(d)
        for key in _SAMPLES:
            samples = array("q")
            samples.frombytes(d[key])
            d[key] = samples.tolist()
        return cls(**d)


_SAMPLES = ("latencies_ns", "send_lags_ns")


@dataclass
class WorkloadResult:
    workload: str
    requested: int
    ops: int
    seconds: float
    ops_per_sec: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    errors: int
    error_kinds: dict[str, int]
    check_failures: int
    capped: bool
    #: CPU seconds the load generator used (all processes)
    client_cpu_seconds: float
    per_process_ops: list[int]
    #: open loop (--rate): offered ops/s (0: closed loop); ops_per_sec is the achieved rate
    offered_rate: float = 0.0
    #: open loop: requests that fell due while their session was at its depth cap
    backlogged: int = 0
    #: open loop: how late the generator itself sent the requests that were not backlogged
    #: (part of their latency)
    send_lag_p50_ms: float = 0.0
    send_lag_p99_ms: float = 0.0
    #: the timed window, CLOCK_MONOTONIC ns (time.monotonic_ns), so that other figures
    #: (e.g. a server's CPU time read from /proc) can be taken over the same interval
    window_start_ns: int = 0
    window_end_ns: int = 0

    @property
    def failed(self) -> bool:
        return self.errors > 0 or self.check_failures > 0

    def line(self) -> str:
        cap = "  (wall-clock cap hit)" if self.capped else ""
        bad = f"  ERRORS={self.errors} CHECK-FAILURES={self.check_failures}" if self.failed else ""
        return (
            f"{self.workload:<16} ops={self.ops:<8d} time={self.seconds:7.3f}s "
            f"ops/s={self.ops_per_sec:10.1f}  p50={self.p50_ms:7.3f}ms  "
            f"p99={self.p99_ms:7.3f}ms  p99.9={self.p999_ms:7.3f}ms  "
            f"errors={self.errors}  client-cpu={self.client_cpu_seconds:.2f}s"
            f"{self.paced_text()}{cap}{bad}"
        )

    def paced_text(self) -> str:
        """The open-loop figures ("" for a closed-loop run)."""
        if not self.offered_rate:
            return ""
        return (
            f"  offered={self.offered_rate:.1f}/s achieved={self.ops_per_sec:.1f}/s "
            f"backlogged={self.backlogged} send-lag p50/p99={self.send_lag_p50_ms:.3f}/"
            f"{self.send_lag_p99_ms:.3f}ms"
        )


@dataclass
class Report:
    target: str
    config: dict[str, Any]
    base: str
    results: list[WorkloadResult] = field(default_factory=list)
    cleanup_deleted: int = 0
    cleanup_seconds: float = 0.0

    @property
    def errors(self) -> int:
        return sum(r.errors + r.check_failures for r in self.results)


def merge(parts: list[RawResult]) -> WorkloadResult:
    """One workload's result over all processes.

    ops/s is the summed op count over the common wall window (first start to last end);
    the latency percentiles are over every sample of every process. In an open-loop run the
    window starts at the first scheduled send, so ops/s is the achieved rate.
    """
    first = parts[0]
    lags = sorted(x for p in parts for x in p.send_lags_ns)
    if first.stamps:
        t0 = max(p.t0_ns for p in parts)
        lat = sorted(x - t0 for p in parts for x in p.latencies_ns)
        start, end = t0, (t0 + lat[-1] if lat else t0)
    else:
        lat = sorted(x for p in parts for x in p.latencies_ns)
        start, end = min(p.start_ns for p in parts), max(p.end_ns for p in parts)
    ops = sum(p.ops for p in parts)
    secs = max(0.0, (end - start) / 1e9)
    kinds: dict[str, int] = {}
    for p in parts:
        for k, v in p.errors.items():
            kinds[k] = kinds.get(k, 0) + v
    return WorkloadResult(
        workload=first.workload,
        requested=first.requested,
        ops=ops,
        seconds=secs,
        ops_per_sec=ops / secs if secs > 0 else 0.0,
        p50_ms=percentile_ms(lat, 50),
        p99_ms=percentile_ms(lat, 99),
        p999_ms=percentile_ms(lat, 99.9),
        max_ms=lat[-1] / 1e6 if lat else 0.0,
        errors=sum(kinds.values()),
        error_kinds=kinds,
        check_failures=sum(p.check_failures for p in parts),
        capped=any(p.capped for p in parts),
        client_cpu_seconds=sum(p.cpu_seconds for p in parts),
        per_process_ops=[p.ops for p in parts],
        offered_rate=first.offered_rate,
        backlogged=sum(p.backlogged for p in parts),
        send_lag_p50_ms=percentile_ms(lags, 50),
        send_lag_p99_ms=percentile_ms(lags, 99),
        window_start_ns=start,
        window_end_ns=end,
    )
