"""Driving a run: the base node, one or more load-generator processes, merged results.

Every process has its own event loop and sessions and runs the same workloads in the same
order; before each timed window all processes meet at a barrier, so the windows line up
and the merged ops/s is over one wall window. Results travel between processes as msgpack.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Barrier
from typing import Any

import msgpack

from roost.wire.errors import Err
from roost.wire.opcodes import Op
from roost.wire.records import (
    CreateRequest,
    DeleteRequest,
    GetChildrenRequest,
    GetChildrenResponse,
)

from .config import OPEN_ACL, SMALL, SPECS, Config, rate_problem
from .results import RawResult, Report, WorkloadResult, merge
from .session import BenchError, Plan, Session, err_name
from .special import fanout_path, open_many, session_churn, watch_fanout
from .workloads import Bench, SyncPoint, first_leaf, payload


async def no_sync(sessions: Sequence[Session]) -> None:
    """One process: nothing to wait for."""


class BarrierSync:
    """All processes meet here; the sessions keep pinging while they wait."""

    def __init__(self, barrier: Barrier, timeout: float) -> None:
        self.barrier = barrier
        self.timeout = timeout

    async def __call__(self, sessions: Sequence[Session]) -> None:
        done = asyncio.Event()
        pingers = [asyncio.ensure_future(s.idle_until(done)) for s in sessions]
        try:
            await asyncio.to_thread(self.barrier.wait, self.timeout)
        except threading.BrokenBarrierError:
            raise BenchError("another load-generator process failed or timed out") from None
        finally:
            done.set()
            await asyncio.gather(*pingers, return_exceptions=True)


# --- one process ----------------------------------------------------------------------


async def worker(
    cfg: Config,
    base: str,
    proc: int,
    nprocs: int,
    sync: SyncPoint,
    on_result: Callable[[RawResult], None] | None = None,
) -> tuple[list[RawResult], int]:
    """Run every workload in this process; returns the raw results and nodes cleaned up."""
    sessions = await open_many_targets(cfg, proc)
    bench = Bench(cfg, sessions, base, proc, nprocs)
    raws: list[RawResult] = []
    try:
        try:
            for name in cfg.workloads:
                raw = await run_one(bench, name, sync)
                raws.append(raw)
                if on_result is not None:
                    on_result(raw)
        except BaseException:
            with contextlib.suppress(BenchError, OSError, TimeoutError):
                await bench.cleanup()
            raise
        deleted = await bench.cleanup()
    finally:
        await asyncio.gather(*(s.close() for s in sessions))
    return raws, deleted


async def run_one(bench: Bench, name: str, sync: SyncPoint) -> RawResult:
    kind = SPECS[name].kind
    if kind == "fanout":
        return await watch_fanout(bench, sync)
    if kind == "sessions":
        return await session_churn(bench, sync)
    return await bench.run_workload(name, sync)


async def open_many_targets(cfg: Config, proc: int) -> list[Session]:
    """This process's ``cfg.clients`` sessions, spread round-robin over the targets."""
    sessions = await open_many(cfg, proc * cfg.clients, cfg.clients)
    return sessions


# --- the base node ----------------------------------------------------------------------


async def setup(cfg: Config, base: str) -> None:
    """Create the base node (it must not exist) and the node the fan-out watches."""
    s = await Session.open(*cfg.targets[0], cfg.session_timeout_ms, cfg.stall_seconds)
    try:
        err, _ = await s.call(Op.CREATE, CreateRequest(base, b"", OPEN_ACL, 0))
        if err != 0:
            raise BenchError(f"creating base node {base}: {err_name(err)}")
        if any(SPECS[w].kind == "fanout" for w in cfg.workloads):
            path = fanout_path(base)
            err, _ = await s.call(
                Op.CREATE, CreateRequest(path, payload(path, SMALL, 0), OPEN_ACL, 0)
            )
            if err != 0:
                raise BenchError(f"creating {path}: {err_name(err)}")
    finally:
        await s.close()


async def teardown(cfg: Config, base: str) -> int:
    """Delete whatever is left under the base node, and the base node; returns the count."""
    s = await Session.open(*cfg.targets[0], cfg.session_timeout_ms, cfg.stall_seconds)
    deadline = time.monotonic() + max(cfg.max_seconds, 120.0)
    ok = frozenset({0, int(Err.NO_NODE)})
    deleted = 0
    try:
        for attempt in range(3):
            err, body = await s.call(Op.GET_CHILDREN, GetChildrenRequest(base, False))
            kids = GetChildrenResponse.from_bytes(body).children if err == 0 and body else []
            plan = Plan([(Op.DELETE, DeleteRequest(f"{base}/{k}", -1)) for k in kids], ok=ok)
            res = await s.pipeline(plan, 64, deadline)
            deleted += res.completed - res.error_count
            err, _ = await s.call(Op.DELETE, DeleteRequest(base, -1))
            if err in (0, Err.NO_NODE):
                break
            if err != Err.NOT_EMPTY or attempt == 2:
                raise BenchError(f"cleanup: deleting {base}: {err_name(err)}")
    finally:
        await s.close()
    return deleted


# --- the whole run ----------------------------------------------------------------------


def loop_factory(use_uvloop: bool) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if not use_uvloop:
        return None
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def new_base() -> str:
    return f"/roost-bench-{os.getpid()}-{time.time_ns() % 10**9}"


def run_bench(
    cfg: Config,
    on_result: Callable[[WorkloadResult], None] | None = None,
    use_uvloop: bool = True,
) -> Report:
    """Run every configured workload against ``cfg.targets``; BenchError when it cannot."""
    problem = rate_problem(cfg)
    if problem is not None:
        raise BenchError(problem)
    base = cfg.base or new_base()
    report = Report(cfg.target_text, asdict(cfg), base)
    factory = loop_factory(use_uvloop)
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(setup(cfg, base))
    try:
        if cfg.processes == 1:
            per_proc = [_in_process(cfg, base, factory, on_result)]
        else:
            per_proc = _multi_process(cfg, base, use_uvloop)
    except BaseException:
        with (
            contextlib.suppress(BenchError, OSError, TimeoutError),  # keep the first error
            asyncio.Runner(loop_factory=factory) as runner,
        ):
            runner.run(teardown(cfg, base))
        raise
    report.cleanup_deleted = sum(d for _, d in per_proc)
    for i in range(len(cfg.workloads)):
        report.results.append(merge([raws[i] for raws, _ in per_proc]))
    if on_result is not None and cfg.processes > 1:
        for r in report.results:
            on_result(r)
    t0 = time.monotonic()
    with asyncio.Runner(loop_factory=factory) as runner:
        report.cleanup_deleted += runner.run(teardown(cfg, base))
    report.cleanup_seconds = time.monotonic() - t0
    return report


def _in_process(
    cfg: Config,
    base: str,
    factory: Callable[[], asyncio.AbstractEventLoop] | None,
    on_result: Callable[[WorkloadResult], None] | None,
) -> tuple[list[RawResult], int]:
    show = None if on_result is None else (lambda raw: on_result(merge([raw])))
    with asyncio.Runner(loop_factory=factory) as runner:
        try:
            return runner.run(worker(cfg, base, 0, 1, no_sync, show))
        except BaseExceptionGroup as group:
            raise first_leaf(group) from None


def _barrier_timeout(cfg: Config) -> float:
    return 3 * cfg.max_seconds + 120.0


def _child(
    cfg: Config, base: str, proc: int, barrier: Barrier, conn: Connection, use_uvloop: bool
) -> None:
    msg: dict[str, Any]
    try:
        sync = BarrierSync(barrier, _barrier_timeout(cfg))
        with asyncio.Runner(loop_factory=loop_factory(use_uvloop)) as runner:
            raws, deleted = runner.run(worker(cfg, base, proc, cfg.processes, sync))
        msg = {"ok": True, "results": [r.to_wire() for r in raws], "deleted": deleted}
    except BaseException as e:  # reported to the parent, which raises it
        barrier.abort()
        if isinstance(e, BaseExceptionGroup):
            e = first_leaf(e)
        msg = {"ok": False, "error": str(e) or repr(e)}
    conn.send_bytes(msgpack.packb(msg, use_bin_type=True))
    conn.close()


def _multi_process(cfg: Config, base: str, use_uvloop: bool) -> list[tuple[list[RawResult], int]]:
    """Fork ``cfg.processes`` workers (each with its own loop) and collect their results."""
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(cfg.processes)
    procs, conns = [], []
    for proc in range(cfg.processes):
        parent_end, child_end = ctx.Pipe(duplex=False)
        p = ctx.Process(
            target=_child, args=(cfg, base, proc, barrier, child_end, use_uvloop), daemon=True
        )
        p.start()
        child_end.close()
        procs.append(p)
        conns.append(parent_end)
    limit = time.monotonic() + len(cfg.workloads) * _barrier_timeout(cfg)
    out: list[tuple[list[RawResult], int]] = []
    errors: list[str] = []
    try:
        for conn in conns:
            if not conn.poll(max(0.0, limit - time.monotonic())):
                raise BenchError("a load-generator process did not report in time")
            try:
                msg = msgpack.unpackb(conn.recv_bytes(), raw=False)
            except EOFError:
                errors.append("a load-generator process died")
                continue
            if not msg["ok"]:
                errors.append(msg["error"])
                continue
            out.append(([RawResult.from_wire(d) for d in msg["results"]], msg["deleted"]))
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
                p.join(5)
    if errors:
        real = [e for e in errors if "another load-generator process" not in e]
        raise BenchError((real or errors)[0])
    return out
