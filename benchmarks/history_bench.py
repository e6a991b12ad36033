"""Watch history: events replayed per second, and history memory per 100k events.

    python benchmarks/history_bench.py --events 100000

1. Memory: an `EventHistory` filled with N events (paths of ~20 characters, 64-byte
   values; one event per zxid, and two per zxid as a create makes: created + the
   parent's children-changed), measured with tracemalloc next to the history's own
   byte estimate (what `history_max_bytes` bounds).
2. Replay: a standalone roost server (a subprocess, fsync off) gets N/2 creates under
   /bench (N events); then the roost asyncio client opens `watch_history` from before
   them and counts the events until all N arrived (non-recursive on /bench: the N/2
   children-changed events; recursive: the N/2 creates; with and without data).
   Rate = events / (first request to last event), best of --rounds.
3. Write-path cost: recording one create txn in the history (`StreamHub.record`, no
   stream open) next to applying it to the tree (`apply_txn`), in-process, best of 7.
4. The history saved with each snapshot: the image of N events (one per zxid), its size,
   the time to encode it (in the forked snapshot child) and to load it (at start-up or
   a snapshot install), and the loaded history's memory (tracemalloc).
5. Replay after a restart: the server of 2. is stopped (a clean stop writes a snapshot,
   which carries the history) and started again; one replay (recursive, with data).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import tracemalloc

from roost.client import Client
from roost.server.history import EventHistory, HistoryEvent, Limits, decode, encode
from roost.server.streams import StreamHub
from roost.testing.server import RoostServer
from roost.tree import DataTree
from roost.tree.txn import Kind, Txn, apply_txn
from roost.wire.opcodes import EventType, Op
from roost.wire.records import ACL, CreateRequest, Id

BIG = Limits(10**9, 10**12, 10**12)
OPEN = (ACL(31, Id("world", "anyone")),)


def filled(n: int, per_zxid: int) -> EventHistory:
    rng = random.Random(1)
    h = EventHistory(BIG)
    for zxid, i in enumerate(range(0, n, per_zxid), 1):
        h.append(zxid, 0, [
            HistoryEvent(int(EventType.NODE_CREATED if j == 0 else
                             EventType.NODE_CHILDREN_CHANGED),
                         f"/app/config/n{i + j:07d}", rng.randbytes(64) if j == 0 else None,
                         OPEN)
            for j in range(per_zxid)])
    return h


def memory(n: int, per_zxid: int) -> tuple[int, int]:
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        h = filled(n, per_zxid)
        used = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    return used, h.bytes


def image_cost(n: int) -> tuple[int, float, float, int]:
    """(image bytes, encode s, decode s, loaded history's memory) for n events, one per
    zxid; times best of 3."""
    h = filled(n, 1)
    best_enc = best_dec = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        image = encode(h, h.last)
        t1 = time.perf_counter()
        decode(image, BIG)
        t2 = time.perf_counter()
        best_enc, best_dec = min(best_enc, t1 - t0), min(best_dec, t2 - t1)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        loaded = decode(image, BIG)
        used = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert loaded.events == n
    return len(image), best_enc, best_dec, used


def record_cost(n: int = 5000) -> tuple[float, float]:
    """(apply, record) seconds per create txn, best of 7."""
    acl = [ACL(31, Id("world", "anyone"))]
    best_apply = best_record = float("inf")
    for _ in range(7):
        tree, hub = DataTree(), StreamHub(Limits())
        txns = [Txn(Kind.REQUEST, 0, 1000, (), Op.CREATE, b"",
                    request=CreateRequest(f"/n{i}", bytes(100), acl, 0)) for i in range(n)]
        t0 = time.perf_counter()
        results = [apply_txn(tree, zxid, t) for zxid, t in enumerate(txns, 1)]
        t1 = time.perf_counter()
        for zxid, (t, r) in enumerate(zip(txns, results, strict=True), 1):
            hub.record(zxid, t, r, tree)
        t2 = time.perf_counter()
        best_apply, best_record = min(best_apply, (t1 - t0) / n), min(best_record, (t2 - t1) / n)
    return best_apply, best_record


async def fill(hosts: str, creates: int) -> int:
    async with Client(hosts) as zk:
        await zk.create("/bench", b"")
        z0 = zk.last_zxid
        for start in range(0, creates, 500):
            await asyncio.gather(*(zk.create(f"/bench/n{i:07d}", bytes(64))
                                   for i in range(start, min(creates, start + 500))))
        return z0


async def replay(hosts: str, since: int, want: int, recursive: bool, data: bool) -> float:
    async with Client(hosts) as zk:
        t0 = time.perf_counter()
        stream = zk.watch_history("/bench", since=since, recursive=recursive, with_data=data)
        got = 0
        async with asyncio.timeout(300):
            async for _ in stream:
                got += 1
                if got == want:
                    break
        elapsed = time.perf_counter() - t0
        await stream.aclose()
    return want / elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    n = args.events
    print(f"history memory, {n} events (tracemalloc; estimate = what history_max_bytes bounds)")
    for per in (1, 2):
        used, est = memory(n, per)
        print(f"  {per} event(s) per zxid: measured {used / 2**20:.1f} MiB "
              f"({used / n:.0f} B/event), estimated {est / 2**20:.1f} MiB")
    applied, recorded = record_cost()
    print(f"write path, one create txn: apply {applied * 1e6:.2f} us, "
          f"history record {recorded * 1e6:.2f} us (best of 7)")
    size, enc, dec, used = image_cost(n)
    print(f"snapshot image of {n} events: {size / 2**20:.1f} MiB, encode {enc:.3f} s, "
          f"load {dec:.3f} s (best of 3); loaded history {used / 2**20:.1f} MiB")
    creates = n // 2
    with RoostServer(subprocess=True, fsync=False, history_max_events=4 * n,
                     history_max_bytes=1 << 30, outgoing_hard_limit=1 << 30) as srv:
        since = asyncio.run(fill(srv.hosts, creates))
        print(f"replay of {creates} events from a server holding {n} (best of {args.rounds})")
        for recursive in (False, True):
            for data in (False, True):
                best = max(asyncio.run(replay(srv.hosts, since, creates, recursive, data))
                           for _ in range(args.rounds))
                kind = "recursive" if recursive else "node     "
                print(f"  {kind} with_data={data!s:<5}: {best:,.0f} events/s")
        srv.restart()  # a clean stop: the snapshot it writes carries the history
        rate = asyncio.run(replay(srv.hosts, since, creates, True, True))
        print(f"  after a restart, recursive with_data=True: {rate:,.0f} events/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
