"""The workloads that are not a pipeline of requests: watch fan-out and session churn."""

from __future__ import annotations

import asyncio
import contextlib
import time

from roost.wire.opcodes import EventType, Op
from roost.wire.records import ExistsRequest, SetDataRequest, WatcherEvent

from .config import SMALL, Config
from .results import RawResult
from .session import BenchError, Session, split
from .workloads import Bench, SyncPoint, payload

#: sessions opened at once (a burst of 1,000 connects would overflow listen backlogs)
OPEN_CONCURRENCY = 64


def fanout_path(base: str) -> str:
    return f"{base}/watched"


async def open_many(cfg: Config, offset: int, n: int) -> list[Session]:
    """``n`` sessions spread over the targets, a bounded number of handshakes at a time."""
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)

    async def one(k: int) -> Session:
        host, port = cfg.targets[(offset + k) % len(cfg.targets)]
        async with gate:
            return await Session.open(host, port, cfg.session_timeout_ms, cfg.stall_seconds)

    opened = await asyncio.gather(*(one(k) for k in range(n)), return_exceptions=True)
    sessions = [s for s in opened if isinstance(s, Session)]
    failures = [e for e in opened if not isinstance(e, Session)]
    if failures:
        await asyncio.gather(*(s.close() for s in sessions))
        raise BenchError(f"{len(failures)} of {n} sessions failed to open: {failures[0]!r}")
    return sessions


async def watch_fanout(bench: Bench, sync: SyncPoint) -> RawResult:
    """This process's watchers set an exists watch on one node; process 0 then sets it once.

    Every watcher must get one NodeDataChanged for that path; the arrival times are merged
    with the moment the setData went out (process 0's clock; CLOCK_MONOTONIC is shared).
    """
    cfg, name = bench.cfg, "watch-fanout"
    path = fanout_path(bench.base)
    n = split(cfg.watchers, bench.nprocs)[bench.proc]
    watchers = await open_many(cfg, bench.proc, n)
    res = RawResult(name, cfg.watchers, 0, 0, 0, [], stamps=True)
    try:
        for err, _ in await asyncio.gather(
            *(w.call(Op.EXISTS, ExistsRequest(path, True)) for w in watchers)
        ):
            if err != 0:
                raise BenchError(f"watch-fanout: exists {path} answered {err}")
        await sync([*bench.sessions, *watchers])
        cpu0 = time.process_time()
        res.start_ns = time.monotonic_ns()
        deadline = time.monotonic() + cfg.max_seconds
        waits = [asyncio.ensure_future(_await_event(w, path, deadline)) for w in watchers]
        if bench.proc == 0:
            setter = bench.sessions[0]
            res.t0_ns = time.monotonic_ns()
            data = payload(path, SMALL, 1)
            err, _ = await setter.call(Op.SET_DATA, SetDataRequest(path, data, -1))
            if err != 0:
                res.errors["setData"] = 1
        arrivals = await asyncio.gather(*waits)
        res.end_ns = time.monotonic_ns()
        res.cpu_seconds = time.process_time() - cpu0
    finally:
        await asyncio.gather(*(w.close() for w in watchers))
    for stamp, good in arrivals:
        if stamp is None:
            res.errors["no notification"] = res.errors.get("no notification", 0) + 1
            res.capped = True
            continue
        res.latencies_ns.append(stamp)
        res.check_failures += 0 if good else 1
    res.ops = len(res.latencies_ns)
    return res


async def _await_event(w: Session, path: str, deadline: float) -> tuple[int | None, bool]:
    """(arrival time, whether it was NodeDataChanged on ``path``); (None, False) on timeout."""
    try:
        async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
            body = await w.next_event()
    except (TimeoutError, BenchError):
        return None, False
    stamp = time.monotonic_ns()
    ev = WatcherEvent.from_bytes(body)
    return stamp, ev.type == EventType.NODE_DATA_CHANGED and ev.path == path


async def session_churn(bench: Bench, sync: SyncPoint) -> RawResult:
    """Each of this process's session slots opens and closes sessions back to back."""
    cfg, name = bench.cfg, "session-churn"
    shares = bench.my_share(cfg.ops)
    await sync(bench.sessions)
    res = RawResult(name, cfg.ops, 0, time.monotonic_ns(), 0, [])
    cpu0 = time.process_time()
    deadline = time.monotonic() + cfg.max_seconds

    async def loop(slot: int, n: int) -> None:
        host, port = cfg.target_of(bench.proc, slot)
        for _ in range(n):
            if time.monotonic() >= deadline:
                res.capped = True
                return
            t0 = time.perf_counter_ns()
            try:
                s = await Session.open(host, port, cfg.session_timeout_ms, cfg.stall_seconds)
            except (BenchError, OSError, TimeoutError) as e:
                key = f"connect: {type(e).__name__}"
                res.errors[key] = res.errors.get(key, 0) + 1
                continue
            await _close_checked(s, res)
            res.latencies_ns.append(time.perf_counter_ns() - t0)

    async with asyncio.TaskGroup() as tg:
        for slot, n in enumerate(shares):
            tg.create_task(loop(slot, n))
    res.end_ns = time.monotonic_ns()
    res.cpu_seconds = time.process_time() - cpu0
    res.ops = len(res.latencies_ns)
    return res


async def _close_checked(s: Session, res: RawResult) -> None:
    """closeSession must be answered with err 0; the socket is closed either way."""
    try:
        err, _ = await s.call(Op.CLOSE_SESSION, None)
        if err != 0:
            res.errors["closeSession"] = res.errors.get("closeSession", 0) + 1
    except (BenchError, OSError) as e:
        key = f"closeSession: {type(e).__name__}"
        res.errors[key] = res.errors.get(key, 0) + 1
    finally:
        s.abort()
        with contextlib.suppress(OSError):
            await s.writer.wait_closed()
