#!/usr/bin/env python3
"""zkbench: a pipelined load generator for any server speaking the ZooKeeper protocol.

    python benchmarks/zkbench.py 127.0.0.1:2181 --clients 8 --pipeline 32 --ops 20000

It opens ``--clients`` sessions and, for each workload in turn, runs ``--ops`` requests
(split evenly over the sessions) with ``--pipeline`` requests in flight per connection:
each session sends DEPTH requests, then one more each time a reply arrives. Every reply
must carry the xid of the oldest outstanding request and err == 0, otherwise the run
stops with an error. Nodes live under a fresh base node that is removed at the end
(cleanup is not timed). Every loop is bounded by an op count and a wall-clock cap.

Workloads: create (new nodes), set and get (on the nodes created so far; a few are made,
untimed, when none exist), delete (removes nodes made by create or made untimed for it),
and mixed (``--mixed R``: a fraction R of gets, the rest sets).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from roost.wire.errors import Err
from roost.wire.opcodes import Op, Perm, Xid
from roost.wire.protocol import FrameBuffer, decode_reply_header, encode_frame, encode_request
from roost.wire.records import (
    ACL,
    ConnectRequest,
    ConnectResponse,
    CreateRequest,
    DeleteRequest,
    GetChildrenRequest,
    GetChildrenResponse,
    GetDataRequest,
    Id,
    Record,
    SetDataRequest,
)

WORKLOADS = ("create", "set", "get", "delete", "mixed")
OPEN_ACL = [ACL(int(Perm.ALL), Id("world", "anyone"))]
#: untimed nodes made per session for set/get/mixed when no node exists yet
SETUP_POOL = 1000
#: replies up to this size are accepted (a getChildren of a big base node during cleanup)
MAX_REPLY = 64 * 1024 * 1024
READ_CHUNK = 256 * 1024

Req = tuple[int, Record]


class BenchError(Exception):
    """The server misbehaved (bad xid order, error reply, closed connection, stall)."""


@dataclass
class Config:
    host: str
    port: int
    clients: int = 4
    pipeline: int = 16
    ops: int = 10000
    size: int = 1024
    workloads: list[str] = field(default_factory=lambda: ["create", "set", "get"])
    read_ratio: float = 0.9
    max_seconds: float = 60.0
    stall_seconds: float = 30.0
    session_timeout_ms: int = 30000
    base: str | None = None
    seed: int = 1


@dataclass
class WorkloadResult:
    workload: str
    requested: int
    ops: int
    seconds: float
    ops_per_sec: float
    p50_ms: float
    p99_ms: float
    capped: bool
    #: CPU seconds this load generator used during the workload (it may be the bottleneck)
    client_cpu_seconds: float = 0.0

    def line(self) -> str:
        cap = "  (wall-clock cap hit)" if self.capped else ""
        return (
            f"{self.workload:<7} ops={self.ops:<8d} time={self.seconds:7.3f}s "
            f"ops/s={self.ops_per_sec:10.1f}  p50={self.p50_ms:8.3f}ms  "
            f"p99={self.p99_ms:8.3f}ms  client-cpu={self.client_cpu_seconds:.2f}s{cap}"
        )


@dataclass
class Report:
    target: str
    config: dict[str, Any]
    base: str
    results: list[WorkloadResult] = field(default_factory=list)
    cleanup_deleted: int = 0
    cleanup_seconds: float = 0.0


@dataclass
class Plan:
    reqs: list[Req]
    #: for create: the path of each request, to track which nodes exist
    created: list[str] = field(default_factory=list)


@dataclass
class PipeResult:
    latencies_ns: list[int]
    completed: int
    errors: list[int]
    capped: bool


def percentile_ms(sorted_ns: Sequence[int], pct: float) -> float:
    """Nearest-rank percentile of sorted nanosecond samples, in milliseconds (0 if empty)."""
    if not sorted_ns:
        return 0.0
    rank = max(1, min(len(sorted_ns), int(-(-pct * len(sorted_ns) // 100))))
    return sorted_ns[rank - 1] / 1e6


def split(total: int, parts: int) -> list[int]:
    """``total`` spread over ``parts`` shares differing by at most one (earlier ones larger)."""
    q, r = divmod(total, parts)
    return [q + (1 if i < r else 0) for i in range(parts)]


class Session:
    """One ZooKeeper session on one TCP connection, driven request by request or pipelined."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stall_seconds: float
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.stall_seconds = stall_seconds
        self.session_id = 0
        self.timeout_ms = 0
        self.frames = FrameBuffer(MAX_REPLY)
        self.ready: deque[bytes] = deque()
        self.xid = 0
        #: nodes this session created and has not deleted, oldest first
        self.paths: list[str] = []
        self.next_node = 0

    @classmethod
    async def open(cls, host: str, port: int, timeout_ms: int, stall_seconds: float) -> Session:
        """Connect and run the handshake (a new session, no readOnly)."""
        conn = asyncio.open_connection(host, port)
        reader, writer = await asyncio.wait_for(conn, stall_seconds)
        self = cls(reader, writer, stall_seconds)
        writer.write(encode_frame(ConnectRequest(0, 0, timeout_ms, 0, bytes(16), False)))
        try:
            resp = ConnectResponse.from_bytes(await self._next_frame())
        except BenchError:
            writer.close()
            raise
        if resp.timeOut <= 0 or resp.sessionId == 0:
            writer.close()
            raise BenchError(f"{host}:{port} refused the session (timeOut={resp.timeOut})")
        self.session_id, self.timeout_ms = resp.sessionId, resp.timeOut
        return self

    async def _next_frame(self) -> bytes:
        while not self.ready:
            await self._read_more()
        return self.ready.popleft()

    async def _read_more(self) -> None:
        try:
            async with asyncio.timeout(self.stall_seconds):
                data = await self.reader.read(READ_CHUNK)
        except TimeoutError:
            raise BenchError(f"no reply within {self.stall_seconds}s") from None
        if not data:
            raise BenchError("server closed the connection")
        self.ready.extend(self.frames.feed(data))

    def _take_xid(self) -> int:
        self.xid = self.xid + 1 if self.xid < 0x7FFFFFFF else 1
        return self.xid

    async def call(self, op: int, rec: Record | None) -> tuple[int, bytes]:
        """One request, waiting for its reply: (err, body after the reply header)."""
        xid = self._take_xid()
        self.writer.write(encode_request(xid, op, rec))
        while True:
            body = await self._next_frame()
            rxid, _zxid, err = decode_reply_header(body)
            if rxid == Xid.NOTIFICATION:
                continue
            if rxid != xid:
                raise BenchError(f"reply xid {rxid}, expected {xid}")
            return err, body[16:]

    async def pipeline(
        self,
        reqs: Sequence[Req],
        depth: int,
        deadline: float,
        allowed: frozenset[int] = frozenset({0}),
    ) -> PipeResult:
        """Send ``reqs`` keeping ``depth`` in flight; stop sending at ``deadline``.

        Replies must come back in xid order with an err in ``allowed``. Returns the
        latency of every completed request and how many completed (always a prefix).
        """
        pending: deque[tuple[int, int]] = deque()
        lat: list[int] = []
        errors: list[int] = []
        total, sent, capped = len(reqs), 0, False
        clock = time.perf_counter_ns
        while True:
            if not capped and time.monotonic() >= deadline:
                capped = sent < total
                total = sent
            if sent < total and len(pending) < depth:
                out = bytearray()
                while sent < total and len(pending) < depth:
                    op, rec = reqs[sent]
                    xid = self._take_xid()
                    out += encode_request(xid, op, rec)
                    pending.append((xid, clock()))
                    sent += 1
                self.writer.write(out)
            if not pending:
                break
            if not self.ready:
                await self._read_more()
            self._take_replies(pending, lat, errors, allowed, clock)
        return PipeResult(lat, len(lat), errors, capped)

    def _take_replies(
        self,
        pending: deque[tuple[int, int]],
        lat: list[int],
        errors: list[int],
        allowed: frozenset[int],
        clock: Callable[[], int],
    ) -> None:
        ready = self.ready
        while ready:
            xid, _zxid, err = decode_reply_header(ready.popleft())
            if xid == Xid.NOTIFICATION:
                continue
            if not pending:
                raise BenchError(f"reply xid {xid} with nothing outstanding")
            want, t0 = pending.popleft()
            if xid != want:
                raise BenchError(f"reply xid {xid} out of order, expected {want}")
            if err not in allowed:
                raise BenchError(f"xid {xid}: server error {_err_name(err)}")
            lat.append(clock() - t0)
            errors.append(err)

    async def idle_until(self, done: asyncio.Event) -> None:
        """Keep the session alive with pings until ``done`` is set."""
        interval = max(0.2, self.timeout_ms / 3000)
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), interval)
            if not done.is_set():
                self.writer.write(encode_request(Xid.PING, Op.PING))
                while True:
                    rxid, _z, _e = decode_reply_header(await self._next_frame())
                    if rxid == Xid.PING:
                        break

    async def close(self) -> None:
        """closeSession, then close the socket (best effort)."""
        with contextlib.suppress(BenchError, OSError):
            await asyncio.wait_for(self.call(Op.CLOSE_SESSION, None), 5.0)
        self.writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(self.writer.wait_closed(), 5.0)


def _err_name(err: int) -> str:
    try:
        return f"{Err(err).name} ({err})"
    except ValueError:
        return str(err)


# --- workloads ------------------------------------------------------------------------


class Bench:
    """Runs the configured workloads over a set of open sessions."""

    def __init__(self, cfg: Config, sessions: list[Session], base: str) -> None:
        self.cfg = cfg
        self.sessions = sessions
        self.base = base
        self.data = b"x" * cfg.size

    def new_paths(self, idx: int, n: int) -> list[str]:
        s = self.sessions[idx]
        start = s.next_node
        s.next_node += n
        return [f"{self.base}/c{idx}-{i}" for i in range(start, start + n)]

    def create_reqs(self, paths: Sequence[str]) -> list[Req]:
        return [(Op.CREATE, CreateRequest(p, self.data, OPEN_ACL, 0)) for p in paths]

    async def ensure_nodes(self, idx: int, want: int) -> None:
        """Create (untimed) nodes until session ``idx`` owns at least ``want``."""
        s = self.sessions[idx]
        missing = want - len(s.paths)
        if missing <= 0:
            return
        paths = self.new_paths(idx, missing)
        deadline = time.monotonic() + self.cfg.max_seconds
        res = await s.pipeline(self.create_reqs(paths), self.cfg.pipeline, deadline)
        s.paths.extend(paths[: res.completed])
        if res.capped:
            raise BenchError(f"setup: only {res.completed}/{missing} nodes created in time")

    def build(self, name: str, idx: int, n: int) -> Plan:
        """The timed requests of one session for one workload."""
        s = self.sessions[idx]
        if name == "create":
            paths = self.new_paths(idx, n)
            return Plan(self.create_reqs(paths), paths)
        if name == "delete":
            return Plan([(Op.DELETE, DeleteRequest(p, -1)) for p in s.paths[:n]])
        paths = s.paths
        rng = random.Random(self.cfg.seed * 1_000_003 + idx)
        ratio = {"get": 1.0, "set": 0.0}.get(name, self.cfg.read_ratio)
        reqs: list[Req] = []
        for i in range(n):
            path = paths[i % len(paths)]
            if ratio >= 1.0 or (ratio > 0.0 and rng.random() < ratio):
                reqs.append((Op.GET_DATA, GetDataRequest(path, False)))
            else:
                reqs.append((Op.SET_DATA, SetDataRequest(path, self.data, -1)))
        return Plan(reqs)

    async def prepare(self, name: str, shares: list[int]) -> None:
        """Untimed setup: give each session the nodes the workload will touch."""
        if name == "create":
            return
        wants = [n if name == "delete" else min(n, SETUP_POOL) for n in shares]
        await asyncio.gather(*(self.ensure_nodes(i, w) for i, w in enumerate(wants) if w))

    def account(self, name: str, idx: int, plan: Plan, done: int) -> None:
        """Track which nodes exist after ``done`` requests of ``plan`` succeeded."""
        s = self.sessions[idx]
        if name == "create":
            s.paths.extend(plan.created[:done])
        elif name == "delete":
            del s.paths[:done]

    async def run_workload(self, name: str) -> WorkloadResult:
        cfg = self.cfg
        shares = split(cfg.ops, len(self.sessions))
        await self.prepare(name, shares)
        plans = [self.build(name, i, n) for i, n in enumerate(shares)]
        done = asyncio.Event()
        finished = [0]
        end = [0.0]
        cpu = [0.0]
        start = time.monotonic()
        cpu0 = time.process_time()
        deadline = start + cfg.max_seconds

        async def one(idx: int) -> PipeResult:
            s = self.sessions[idx]
            try:
                res = await s.pipeline(plans[idx].reqs, cfg.pipeline, deadline)
            finally:
                finished[0] += 1
                if finished[0] == len(self.sessions):
                    end[0] = time.monotonic()
                    cpu[0] = time.process_time() - cpu0
                    done.set()
            self.account(name, idx, plans[idx], res.completed)
            await s.idle_until(done)
            return res

        try:
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(one(i)) for i in range(len(self.sessions))]
        except BaseExceptionGroup as group:
            raise first_leaf(group) from None
        results = [t.result() for t in tasks]
        result = summarize(name, cfg.ops, results, end[0] - start)
        result.client_cpu_seconds = cpu[0]
        return result

    async def cleanup(self, victim: Session) -> int:
        """Delete every node under the base and the base itself (untimed)."""
        cfg = self.cfg
        deadline = time.monotonic() + max(cfg.max_seconds, 120.0)
        depth = max(cfg.pipeline, 64)
        ok = frozenset({0, int(Err.NO_NODE)})
        paths = [p for s in self.sessions for p in s.paths]
        deleted = 0
        for attempt in range(3):
            res = await victim.pipeline(
                [(Op.DELETE, DeleteRequest(p, -1)) for p in paths], depth, deadline, ok
            )
            deleted += sum(1 for e in res.errors if e == 0)
            if res.capped:
                raise BenchError("cleanup did not finish in time")
            err, _ = await victim.call(Op.DELETE, DeleteRequest(self.base, -1))
            if err in (0, Err.NO_NODE):
                break
            if err != Err.NOT_EMPTY or attempt == 2:
                raise BenchError(f"cleanup: deleting {self.base}: {_err_name(err)}")
            paths = await list_children(victim, self.base)
        for s in self.sessions:
            s.paths.clear()
        return deleted


async def list_children(s: Session, path: str) -> list[str]:
    err, body = await s.call(Op.GET_CHILDREN, GetChildrenRequest(path, False))
    if err != 0:
        raise BenchError(f"getChildren {path}: {_err_name(err)}")
    kids = GetChildrenResponse.from_bytes(body).children
    return [f"{path}/{k}" for k in kids]


def first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first non-group exception inside a (possibly nested) exception group."""
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def summarize(name: str, requested: int, results: list[PipeResult], secs: float) -> WorkloadResult:
    lat = sorted(x for r in results for x in r.latencies_ns)
    ops = sum(r.completed for r in results)
    return WorkloadResult(
        workload=name,
        requested=requested,
        ops=ops,
        seconds=secs,
        ops_per_sec=ops / secs if secs > 0 else 0.0,
        p50_ms=percentile_ms(lat, 50),
        p99_ms=percentile_ms(lat, 99),
        capped=any(r.capped for r in results),
    )


# --- driver ---------------------------------------------------------------------------


async def run(cfg: Config, on_result: Callable[[WorkloadResult], None] | None = None) -> Report:
    """Open the sessions, run every workload, clean up, close; returns the report."""
    base = cfg.base or f"/zkbench-{os.getpid()}-{time.time_ns() % 10**9}"
    report = Report(f"{cfg.host}:{cfg.port}", _config_dict(cfg), base)
    sessions = await open_sessions(cfg)
    bench = Bench(cfg, sessions, base)
    try:
        err, _ = await sessions[0].call(Op.CREATE, CreateRequest(base, b"", OPEN_ACL, 0))
        if err != 0:
            raise BenchError(f"creating base node {base}: {_err_name(err)}")
        try:
            for name in cfg.workloads:
                result = await bench.run_workload(name)
                report.results.append(result)
                if on_result is not None:
                    on_result(result)
        except BaseException:
            with contextlib.suppress(BenchError, OSError):  # best effort; keep the first error
                await _cleanup(cfg, bench, sessions[0])
            raise
        t0 = time.monotonic()
        report.cleanup_deleted = await _cleanup(cfg, bench, sessions[0])
        report.cleanup_seconds = time.monotonic() - t0
    finally:
        await asyncio.gather(*(s.close() for s in sessions))
    return report


async def open_sessions(cfg: Config) -> list[Session]:
    """Open ``cfg.clients`` sessions at once; if any fails, close the others and raise."""
    opened = await asyncio.gather(
        *(
            Session.open(cfg.host, cfg.port, cfg.session_timeout_ms, cfg.stall_seconds)
            for _ in range(cfg.clients)
        ),
        return_exceptions=True,
    )
    sessions = [s for s in opened if isinstance(s, Session)]
    failures = [e for e in opened if not isinstance(e, Session)]
    if failures:
        await asyncio.gather(*(s.close() for s in sessions))
        raise failures[0]
    return sessions


async def _cleanup(cfg: Config, bench: Bench, first: Session) -> int:
    """Clean up on the first session, or on a fresh one if that session broke."""
    try:
        return await bench.cleanup(first)
    except (BenchError, OSError):
        fresh = await Session.open(cfg.host, cfg.port, cfg.session_timeout_ms, cfg.stall_seconds)
        try:
            return await bench.cleanup(fresh)
        finally:
            await fresh.close()


def _config_dict(cfg: Config) -> dict[str, Any]:
    d = asdict(cfg)
    d.pop("host")
    d.pop("port")
    return d


def parse_hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def parse_workloads(text: str) -> list[str]:
    names = [w.strip() for w in text.split(",") if w.strip()]
    bad = [w for w in names if w not in WORKLOADS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown workload(s) {bad}; choose from {WORKLOADS}")
    return names


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _ratio(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"read ratio must be in [0, 1], got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="zkbench.py", description="Pipelined ZooKeeper-protocol load generator."
    )
    p.add_argument("target", type=parse_hostport, help="server address, HOST:PORT")
    p.add_argument("--clients", type=_positive, default=4, help="sessions (connections)")
    p.add_argument("--pipeline", type=_positive, default=16, help="requests in flight per session")
    p.add_argument("--ops", type=_positive, default=10000, help="requests per workload (total)")
    p.add_argument("--size", type=int, default=1024, help="bytes of data per create/set")
    p.add_argument(
        "--workloads",
        type=parse_workloads,
        default=["create", "set", "get"],
        help=f"comma-separated, run in order; from {','.join(WORKLOADS)}",
    )
    p.add_argument(
        "--mixed",
        type=_ratio,
        metavar="READ_RATIO",
        help="append a 'mixed' workload with this fraction of gets (the rest are sets)",
    )
    p.add_argument("--max-seconds", type=float, default=60.0, help="wall-clock cap per workload")
    p.add_argument(
        "--stall-seconds", type=float, default=30.0, help="give up when no reply comes this long"
    )
    p.add_argument("--session-timeout", type=int, default=30000, help="requested, in ms")
    p.add_argument("--base", help="base node to create (default: a fresh /zkbench-... name)")
    p.add_argument("--seed", type=int, default=1, help="seed for the mixed workload")
    p.add_argument("--json", action="store_true", help="print one JSON document instead")
    p.add_argument("--no-uvloop", action="store_true", help="use the default asyncio loop")
    return p


def config_from_args(ns: argparse.Namespace) -> Config:
    host, port = ns.target
    workloads = list(ns.workloads)
    ratio = 0.9
    if ns.mixed is not None:
        ratio = ns.mixed
        if "mixed" not in workloads:
            workloads.append("mixed")
    if ns.size < 0:
        raise SystemExit("--size must be >= 0")
    return Config(
        host=host,
        port=port,
        clients=ns.clients,
        pipeline=ns.pipeline,
        ops=ns.ops,
        size=ns.size,
        workloads=workloads,
        read_ratio=ratio,
        max_seconds=ns.max_seconds,
        stall_seconds=ns.stall_seconds,
        session_timeout_ms=ns.session_timeout,
        base=ns.base,
        seed=ns.seed,
    )


def _loop_factory(disabled: bool) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if disabled:
        return None
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def main(argv: Sequence[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    cfg = config_from_args(ns)
    if not ns.json:
        print(
            f"zkbench {cfg.host}:{cfg.port} clients={cfg.clients} pipeline={cfg.pipeline} "
            f"ops={cfg.ops} size={cfg.size} workloads={','.join(cfg.workloads)}",
            flush=True,
        )
    show: Callable[[WorkloadResult], None] | None = None
    if not ns.json:
        show = lambda r: print(r.line(), flush=True)  # noqa: E731
    try:
        with asyncio.Runner(loop_factory=_loop_factory(ns.no_uvloop)) as runner:
            report = runner.run(run(cfg, show))
    except (BenchError, OSError, TimeoutError) as e:
        print(f"zkbench: error: {e}", file=sys.stderr)
        return 1
    if ns.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        print(
            f"cleanup: deleted {report.cleanup_deleted} nodes and {report.base} "
            f"in {report.cleanup_seconds:.2f}s (not timed)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
