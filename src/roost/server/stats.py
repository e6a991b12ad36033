"""Counters and histograms that the server updates where things happen.

Plain integers and bucket arrays, no locks and no exporter: the code that answers a
request, applies a txn or syncs the log adds to them; `roost.metrics` only reads them when
scraped (and turns them into Prometheus families). Every figure is this process's own,
since it started.
"""

from __future__ import annotations

from collections import Counter

from roost.tree.txn import Kind
from roost.wire.errors import Err
from roost.wire.opcodes import Op

#: exported bucket bounds: 2**i microseconds for i in this range (16 us .. 18 min)
FIRST_BUCKET, LAST_BUCKET = 4, 30


class Histogram:
    """Observations counted in power-of-two buckets of microseconds: slot i holds the
    values v with 2**(i-1) <= v < 2**i us (slot 0: below 1 us). One multiplication and
    `int.bit_length` per observation (cheaper than a search over bucket bounds)."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * 64
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[int(seconds * 1e6).bit_length()] += 1
        self.sum += seconds

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound in seconds, observations below it) per exported bucket, ending
        with +Inf."""
        out = []
        total = sum(self.counts[:FIRST_BUCKET])
        for i in range(FIRST_BUCKET, LAST_BUCKET + 1):
            total += self.counts[i]
            out.append(((1 << i) / 1e6, total))
        out.append((float("inf"), self.count))
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
        #: a client's write and read from receipt to reply, by `opcode & 0xFF` (see
        #: `by_opcode`)
        self.write_seconds = [Histogram() for _ in range(256)]
        self.read_seconds = [Histogram() for _ in range(256)]
        self.fsync_seconds = Histogram()
        self.snapshot_seconds = Histogram()
        self.snapshot_failures = 0
        #: HTTP requests by (method, route, status), and their latency by (method, route)
        self.http_requests: Counter[tuple[str, str, str]] = Counter()
        self.http_seconds: dict[tuple[str, str], Histogram] = {}

    def request_counts(self) -> dict[int, int]:
        """Requests received by opcode, for the opcodes seen."""
        return {_opcode(i): n for i, n in enumerate(self.requests) if n}

    def read(self, op: int, seconds: float) -> None:
        self.read_seconds[op & 0xFF].observe(seconds)

    def write(self, op: int, seconds: float) -> None:
        self.write_seconds[op & 0xFF].observe(seconds)

    def http(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_requests[(method, route, str(status))] += 1
        h = self.http_seconds.get((method, route))
        if h is None:
            h = self.http_seconds[(method, route)] = Histogram()
        h.observe(seconds)


def by_opcode(histograms: list[Histogram]) -> dict[int, Histogram]:
    """The histograms of the opcodes seen, by opcode."""
    return {_opcode(i): h for i, h in enumerate(histograms) if any(h.counts)}


def _opcode(index: int) -> int:
    return index if index < 128 else index - 256
