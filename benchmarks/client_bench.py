#!/usr/bin/env python3
"""Pipelined get/set throughput of the roost client next to kazoo's async API.

    python benchmarks/client_bench.py --ops 20000 --outstanding 64

For each server (roost as a subprocess, then Apache ZooKeeper from Debian's package;
one at a time, each fresh on a free 127.0.0.1 port with a temporary data directory)
it fills ``--nodes`` nodes of ``--size`` bytes, then runs each client on each workload:

- ``roost``: one asyncio `roost.client.Client` (on uvloop when installed, as the
  ``fast`` extra provides), ``--outstanding`` coroutines each issuing requests back to
  back, so that many requests are in flight on the one connection at all times.
- ``kazoo``: one `KazooClient` (threading handler), ``get_async``/``set_async`` with a
  sliding window of ``--outstanding`` requests in flight (a semaphore released by each
  completion callback).

Every workload starts with an untimed warm-up of ``--warmup`` requests. Paths are
chosen round-robin over the nodes. Results are printed as a table (ops/s), or as JSON
with ``--json``. The clients run in this process, the server in its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Protocol

BASE = "/client-bench"
SERVERS = ("roost", "zookeeper")
CLIENTS = ("roost", "kazoo")
WORKLOADS = ("get", "set")


class Server(Protocol):
    @property
    def hosts(self) -> str: ...


@dataclass
class Result:
    server: str
    client: str
    workload: str
    ops: int
    seconds: float

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.seconds if self.seconds > 0 else 0.0


# --- servers --------------------------------------------------------------------------


@contextlib.contextmanager
def start_server(kind: str) -> Iterator[Server]:
    if kind == "roost":
        from roost.testing.server import RoostServer

        with RoostServer(data_dir=None, port=0, subprocess=True) as srv:
            yield srv
    else:
        from roost.testing.zookeeper import ZooKeeperServer

        with ZooKeeperServer() as zk:
            yield zk


# --- the roost client -------------------------------------------------------------------


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


async def _roost_run(hosts: str, workload: str, paths: list[str], ops: int, warmup: int,
                     outstanding: int, payload: bytes) -> float:
    from roost.client import Client

    async with Client(hosts) as zk:

        def op(i: int) -> Any:
            path = paths[i % len(paths)]
            return zk.get(path) if workload == "get" else zk.set(path, payload)

        async def burst(count: int) -> None:
            counter = iter(range(count))

            async def worker() -> None:
                for i in counter:  # shared: each index is taken by exactly one worker
                    await op(i)

            await asyncio.gather(*(worker() for _ in range(min(outstanding, count))))

        await burst(warmup)
        start = time.perf_counter()
        await burst(ops)
        return time.perf_counter() - start


def bench_roost(hosts: str, workload: str, paths: list[str], args: argparse.Namespace) -> float:
    loop = _new_loop()
    try:
        return loop.run_until_complete(_roost_run(hosts, workload, paths, args.ops, args.warmup,
                                                  args.outstanding, b"y" * args.size))
    finally:
        loop.close()


# --- kazoo ------------------------------------------------------------------------------


def bench_kazoo(hosts: str, workload: str, paths: list[str], args: argparse.Namespace) -> float:
    from kazoo.client import KazooClient

    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=15)
    payload = b"y" * args.size
    errors: list[BaseException] = []

    def burst(count: int) -> None:
        window = threading.Semaphore(args.outstanding)

        def done(result: Any) -> None:
            try:
                result.get_nowait()
            except BaseException as e:  # reported after the burst
                errors.append(e)
            window.release()

        for i in range(count):
            window.acquire()
            path = paths[i % len(paths)]
            res = zk.get_async(path) if workload == "get" else zk.set_async(path, payload)
            res.rawlink(done)
        for _ in range(args.outstanding):  # wait for the last ones
            window.acquire()
        if errors:
            raise RuntimeError(f"kazoo {workload} failed: {errors[0]!r}")

    try:
        burst(args.warmup)
        start = time.perf_counter()
        burst(args.ops)
        return time.perf_counter() - start
    finally:
        zk.stop()
        zk.close()


RUNNERS: dict[str, Callable[[str, str, list[str], argparse.Namespace], float]] = {
    "roost": bench_roost,
    "kazoo": bench_kazoo,
}


# --- setup and report -------------------------------------------------------------------


async def _fill(hosts: str, nodes: int, size: int) -> list[str]:
    from roost.client import Client

    async with Client(hosts) as zk:
        await zk.ensure_path(BASE)
        paths = [f"{BASE}/n{i:05d}" for i in range(nodes)]
        for i in range(0, nodes, 500):
            await asyncio.gather(*(zk.create(p, b"x" * size) for p in paths[i : i + 500]))
        return paths


def run_server(kind: str, args: argparse.Namespace) -> list[Result]:
    out: list[Result] = []
    with start_server(kind) as srv:
        paths = asyncio.run(_fill(srv.hosts, args.nodes, args.size))
        for workload in args.workloads:
            for client in args.clients:
                seconds = RUNNERS[client](srv.hosts, workload, paths, args)
                out.append(Result(kind, client, workload, args.ops, seconds))
                if not args.json:
                    r = out[-1]
                    print(f"  {kind:<9} {client:<6} {workload:<4} {r.ops_per_s:>10,.0f} ops/s",
                          flush=True)
    return out


def table(results: list[Result], servers: list[str], clients: list[str],
          workloads: list[str]) -> str:
    cols = [(s, w) for s in servers for w in workloads]
    head = "| client | " + " | ".join(f"{s} {w} ops/s" for s, w in cols) + " |"
    rule = "| --- | " + " | ".join("---:" for _ in cols) + " |"
    rows = [head, rule]
    for c in clients:
        cells = []
        for s, w in cols:
            hit = [r for r in results if (r.server, r.client, r.workload) == (s, c, w)]
            cells.append(f"{hit[0].ops_per_s:,.0f}" if hit else "-")
        rows.append(f"| {c} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--ops", type=int, default=20000, help="timed requests per workload")
    p.add_argument("--warmup", type=int, default=2000, help="untimed requests first")
    p.add_argument("--outstanding", type=int, default=64, help="requests in flight")
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--size", type=int, default=64, help="bytes of data per node")
    p.add_argument("--servers", default=",".join(SERVERS))
    p.add_argument("--clients", default=",".join(CLIENTS))
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    args = p.parse_args(argv)
    for name, allowed in (("servers", SERVERS), ("clients", CLIENTS), ("workloads", WORKLOADS)):
        items = [x for x in getattr(args, name).split(",") if x]
        bad = [x for x in items if x not in allowed]
        if bad or not items:
            p.error(f"--{name}: choose from {', '.join(allowed)}")
        setattr(args, name, items)
    if min(args.ops, args.outstanding, args.nodes) < 1 or args.warmup < 0:
        p.error("--ops, --outstanding and --nodes must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results: list[Result] = []
    for kind in args.servers:
        results += run_server(kind, args)
    if args.json:
        print(json.dumps([asdict(r) | {"ops_per_s": r.ops_per_s} for r in results], indent=2))
    else:
        print()
        print(f"{args.ops} ops per cell, {args.outstanding} outstanding, "
              f"{args.size}-byte values over {args.nodes} nodes")
        print(table(results, args.servers, args.clients, args.workloads))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
