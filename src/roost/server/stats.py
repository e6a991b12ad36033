"""Counters and histograms that the server updates where things happen.

Plain integers and bucket arrays, no locks and no exporter: the code that answers a
request, applies a txn or syncs the log adds to them; `roost.metrics` only reads them when
scraped (and turns them into Prometheus families). Every figure is this process's own,
since it started.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter

from roost.server.txn import Kind
from roost.wire.errors import Err
from roost.wire.opcodes import Op

#: upper bounds (seconds) of the latency buckets; the last bucket is +Inf
LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 10.0,
)
SNAPSHOT_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 60.0)


class Histogram:
    """Counts of observations per bucket (bucket i holds bounds[i-1] < v <= bounds[i])."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(self.bounds, seconds)] += 1
        self.sum += seconds

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, observations <= bound) per bucket, ending with +Inf."""
        out, total = [], 0
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += n
            out.append((bound, total))
        return out


def op_name(op: int) -> str:
    try:
        return Op(op).name.lower()
    except ValueError:
        return f"op{op}"


def result_name(err: int) -> str:
    if err == 0:
        return "ok"
    try:
        return Err(err).name.lower()
    except ValueError:
        return f"err{err}"


def write_name(kind: Kind, op: int) -> str:
    """A txn's operation: a request's opcode name, else its kind (create_session, ...)."""
    return op_name(op) if kind is Kind.REQUEST else kind.name.lower()


class Stats:
    """One server's event counts and latencies."""

    def __init__(self) -> None:
        #: ZooKeeper requests received, by opcode (`opcode & 0xFF`: a list is the cheapest
        #: counter; see `request_counts`)
        self.requests = [0] * 256
        #: txns applied on this member, by (kind, opcode, error code): see `write_name`
        self.writes: Counter[tuple[Kind, int, int]] = Counter()
        #: writes whose outcome this member could not learn (a leader change lost them)
        self.writes_lost = 0
        #: a client's write from receipt to reply, by opcode
        self.write_seconds: dict[int, Histogram] = {}
        #: a client's read from receipt to reply, by opcode
        self.read_seconds: dict[int, Histogram] = {}
        self.fsync_seconds = Histogram()
        self.snapshot_seconds = Histogram(SNAPSHOT_BUCKETS)
        self.snapshot_failures = 0
        #: HTTP requests by (method, route, status), and their latency by (method, route)
        self.http_requests: Counter[tuple[str, str, str]] = Counter()
        self.http_seconds: dict[tuple[str, str], Histogram] = {}

    def request_counts(self) -> dict[int, int]:
        """Requests received by opcode, for the opcodes seen."""
        return {(i if i < 128 else i - 256): n for i, n in enumerate(self.requests) if n}

    def read(self, op: int, seconds: float) -> None:
        h = self.read_seconds.get(op)
        if h is None:
            h = self.read_seconds[op] = Histogram()
        h.observe(seconds)

    def write(self, op: int, seconds: float) -> None:
        h = self.write_seconds.get(op)
        if h is None:
            h = self.write_seconds[op] = Histogram()
        h.observe(seconds)

    def http(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_requests[(method, route, str(status))] += 1
        h = self.http_seconds.get((method, route))
        if h is None:
            h = self.http_seconds[(method, route)] = Histogram()
        h.observe(seconds)
