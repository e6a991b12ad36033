"""The pipelined workloads of one load-generator process over its own sessions."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence

from roost.wire.errors import Err
from roost.wire.opcodes import CreateMode, Op
from roost.wire.records import (
    CreateRequest,
    DeleteRequest,
    ExistsRequest,
    GetDataRequest,
    SetDataRequest,
)

from .config import OPEN_ACL, SETUP_POOL, SPECS, Config
from .paced import Pacer
from .results import RawResult
from .session import BenchError, PipeResult, Plan, Req, Session, err_name, split

#: an open-loop schedule starts this long after the processes met
LEAD_NS = 1_000_000

#: waits until every process reached the same point (a no-op with one process)
SyncPoint = Callable[[Sequence[Session]], Awaitable[None]]


def payload(path: str, size: int, gen: int) -> bytes:
    """Data that names its node and write generation, padded or cut to ``size`` bytes."""
    unit = f"{path}#{gen}|".encode()
    return (unit * (size // len(unit) + 1))[:size]


def first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first non-group exception inside a (possibly nested) exception group."""
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


class Bench:
    """Runs pipelined workloads for process ``proc`` of ``nprocs`` over its sessions."""

    def __init__(
        self, cfg: Config, sessions: list[Session], base: str, proc: int, nprocs: int
    ) -> None:
        self.cfg = cfg
        self.sessions = sessions
        self.base = base
        self.proc = proc
        self.nprocs = nprocs
        #: per session: data size -> nodes it created and has not deleted, oldest first
        self.pools: list[dict[int, list[str]]] = [{} for _ in sessions]
        #: what each node holds now (for the content checks of reads)
        self.content: dict[str, bytes] = {}
        self.counter = [0] * len(sessions)

    def my_share(self, total: int) -> list[int]:
        """This process's part of ``total``, spread over its sessions."""
        return split(split(total, self.nprocs)[self.proc], len(self.sessions))

    def new_paths(self, idx: int, n: int, prefix: str = "") -> list[str]:
        start = self.counter[idx]
        self.counter[idx] += n
        tag = f"{self.base}/{prefix}p{self.proc}c{idx}-"
        return [f"{tag}{i}" for i in range(start, start + n)]

    def pool(self, idx: int, size: int) -> list[str]:
        return self.pools[idx].setdefault(size, [])

    def create_plan(self, paths: Sequence[str], size: int) -> Plan:
        reqs: list[Req] = [
            (Op.CREATE, CreateRequest(p, payload(p, size, 0), OPEN_ACL, 0)) for p in paths
        ]
        return Plan(reqs, created=list(paths))

    async def ensure_nodes(self, idx: int, size: int, want: int) -> None:
        """Create (untimed) nodes until session ``idx`` owns ``want`` of ``size`` bytes."""
        missing = want - len(self.pool(idx, size))
        if missing <= 0:
            return
        paths = self.new_paths(idx, missing)
        plan = self.create_plan(paths, size)
        # untimed: not bound by a short timed window (as the cleanup is not)
        deadline = time.monotonic() + max(self.cfg.max_seconds, 120.0)
        res = await self.sessions[idx].pipeline(plan, self.cfg.pipeline, deadline)
        self.account_created(idx, size, paths[: res.completed])
        if res.capped or res.error_count:
            raise BenchError(f"setup: {res.completed}/{missing} nodes created, {res.errors}")

    def account_created(self, idx: int, size: int, paths: Sequence[str]) -> None:
        self.pool(idx, size).extend(paths)
        for p in paths:
            self.content[p] = payload(p, size, 0)

    def build(self, name: str, idx: int, n: int) -> Plan:
        """The timed requests of session ``idx`` for workload ``name``."""
        kind, size = SPECS[name].kind, self.cfg.size_of(name)
        if kind == "create":
            return self.create_plan(self.new_paths(idx, n), size)
        if kind == "delete":
            return Plan([(Op.DELETE, DeleteRequest(p, -1)) for p in self.pool(idx, size)[:n]])
        if kind == "exists":
            return self.exists_plan(idx, n)
        if kind == "ephemeral":
            return self.ephemeral_plan(idx, n, size)
        return self.read_write_plan(name, idx, n, size)

    def exists_plan(self, idx: int, n: int) -> Plan:
        tag = f"{self.base}/missing-p{self.proc}c{idx}-"
        reqs: list[Req] = [(Op.EXISTS, ExistsRequest(f"{tag}{i % 64}", False)) for i in range(n)]
        ok = {int(Err.NO_NODE)} | (set() if self.cfg.check else {0})
        return Plan(reqs, ok=frozenset(ok))

    def ephemeral_plan(self, idx: int, n: int, size: int) -> Plan:
        reqs: list[Req] = []
        for p in self.new_paths(idx, (n + 1) // 2, prefix="e-"):
            reqs.append((Op.CREATE, CreateRequest(p, payload(p, size, 0), OPEN_ACL,
                                                  int(CreateMode.EPHEMERAL))))
            reqs.append((Op.DELETE, DeleteRequest(p, -1)))
        return Plan(reqs[:n])

    def read_write_plan(self, name: str, idx: int, n: int, size: int) -> Plan:
        """gets (checked) and sets over the session's pool; a set's data names its generation."""
        paths = self.pool(idx, size)
        rng = random.Random(self.cfg.seed * 1_000_003 + self.proc * 1009 + idx)
        ratio = self.cfg.ratio_of(name)
        now = {p: self.content[p] for p in paths}
        gens: dict[str, int] = {}
        reqs: list[Req] = []
        checks: list[bytes | None] = []
        for i in range(n):
            path = paths[i % len(paths)]
            if ratio >= 1.0 or (ratio > 0.0 and rng.random() < ratio):
                reqs.append((Op.GET_DATA, GetDataRequest(path, False)))
                checks.append(now[path] if self.cfg.check else None)
            else:
                gens[path] = gens.get(path, 0) % 2 + 1
                data = payload(path, size, gens[path])
                now[path] = data
                reqs.append((Op.SET_DATA, SetDataRequest(path, data, -1)))
                checks.append(None)
        return Plan(reqs, checks=checks)

    async def prepare(self, name: str, shares: list[int]) -> None:
        """Untimed setup: give each session the nodes the workload will touch."""
        kind, size = SPECS[name].kind, self.cfg.size_of(name)
        if kind in ("create", "exists", "ephemeral"):
            return
        wants = [n if kind == "delete" else min(n, SETUP_POOL) for n in shares]
        await asyncio.gather(
            *(self.ensure_nodes(i, size, w) for i, w in enumerate(wants) if w)
        )

    def account(self, name: str, idx: int, plan: Plan, done: int) -> None:
        """Track which nodes exist, and what they hold, after ``done`` requests succeeded."""
        kind, size = SPECS[name].kind, self.cfg.size_of(name)
        if kind == "create":
            self.account_created(idx, size, plan.created[:done])
        elif kind == "delete":
            del self.pool(idx, size)[:done]
        elif kind in ("set", "mixed"):
            for op, rec in plan.reqs[:done]:
                if op == Op.SET_DATA and isinstance(rec, SetDataRequest):
                    self.content[rec.path] = rec.data or b""

    async def run_workload(self, name: str, sync: SyncPoint) -> RawResult:
        cfg = self.cfg
        shares = self.my_share(cfg.ops)
        await self.prepare(name, shares)
        plans = [self.build(name, i, n) for i, n in enumerate(shares)]
        await sync(self.sessions)
        if cfg.rate is not None:
            return await self.run_paced(name, plans, cfg.rate)
        done = asyncio.Event()
        finished = [0]
        end = [0]
        cpu0 = time.process_time()
        cpu = [0.0]
        start = time.monotonic_ns()
        deadline = time.monotonic() + cfg.max_seconds

        async def one(idx: int) -> PipeResult:
            s = self.sessions[idx]
            try:
                res = await s.pipeline(plans[idx], cfg.pipeline, deadline)
            finally:
                finished[0] += 1
                if finished[0] == len(self.sessions):
                    end[0] = time.monotonic_ns()
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
        return raw_from_pipes(name, cfg.ops, results, start, end[0], cpu[0])

    async def run_paced(self, name: str, plans: list[Plan], rate: float) -> RawResult:
        """The timed window of an open-loop run: requests sent on schedule at ``rate``/s."""
        cfg = self.cfg
        pacer = Pacer(self.sessions, plans, cfg.pipeline, rate, self.proc, self.nprocs)
        cpu0 = time.process_time()
        # the window starts at the first scheduled send; perf_counter is CLOCK_MONOTONIC
        # on Linux, as monotonic is, so the windows of several processes line up
        start = time.perf_counter_ns() + LEAD_NS
        try:
            results = await pacer.run(start, time.monotonic() + cfg.max_seconds)
        except BaseExceptionGroup as group:
            raise first_leaf(group) from None
        end = time.perf_counter_ns()
        for i, res in enumerate(results):
            self.account(name, i, plans[i], res.completed)
        raw = raw_from_pipes(name, cfg.ops, results, start, end, time.process_time() - cpu0)
        raw.offered_rate = rate
        return raw

    async def cleanup(self) -> int:
        """Delete every node this process made and still has (untimed)."""
        cfg = self.cfg
        deadline = time.monotonic() + max(cfg.max_seconds, 120.0)
        ok = frozenset({0, int(Err.NO_NODE)})

        async def one(idx: int) -> int:
            paths = [p for pool in self.pools[idx].values() for p in pool]
            plan = Plan([(Op.DELETE, DeleteRequest(p, -1)) for p in paths], ok=ok)
            res = await self.sessions[idx].pipeline(plan, max(cfg.pipeline, 64), deadline)
            if res.capped:
                raise BenchError("cleanup did not finish in time")
            self.pools[idx].clear()
            return res.completed - res.error_count

        counts = await asyncio.gather(*(one(i) for i in range(len(self.sessions))))
        return sum(counts)


def raw_from_pipes(
    name: str, requested: int, results: list[PipeResult], start: int, end: int, cpu: float
) -> RawResult:
    errors: dict[str, int] = {}
    for r in results:
        for err, count in r.errors.items():
            key = err_name(err)
            errors[key] = errors.get(key, 0) + count
    return RawResult(
        workload=name,
        requested=requested,
        ops=sum(r.completed for r in results),
        start_ns=start,
        end_ns=end,
        latencies_ns=[x for r in results for x in r.latencies_ns],
        errors=errors,
        check_failures=sum(r.check_failures for r in results),
        capped=any(r.capped for r in results),
        cpu_seconds=cpu,
        backlogged=sum(r.backlogged for r in results),
        send_lags_ns=[x for r in results for x in r.lags_ns],
    )
