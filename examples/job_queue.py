"""Scenario 7c: a distributed FIFO queue.

Two producers add ten jobs as PERSISTENT_SEQUENTIAL nodes under /queue/jobs. Three consumers
take the smallest item each time and claim it by deleting it (in one transaction with a
claim marker, so a lost reply cannot make a job vanish or be taken twice). Every job is
taken exactly once, and each consumer sees its jobs in queue order.

    python examples/job_queue.py 127.0.0.1:2181
"""

from __future__ import annotations

import argparse
import asyncio

from roost.client import Client
from roost.recipes import DistributedQueue

BASE = "/examples/queue"


async def fresh_base(hosts: str) -> None:
    async with Client(hosts) as admin:
        if await admin.exists(BASE) is not None:
            await admin.delete(BASE, recursive=True)
        await admin.ensure_path(BASE)


async def main(hosts: str, jobs: int) -> None:
    await fresh_base(hosts)
    clients = [Client(hosts + BASE) for _ in range(5)]
    for zk in clients:
        await zk.start()
    producers = [DistributedQueue(zk, "/queue/jobs") for zk in clients[:2]]
    for n in range(1, jobs + 1):
        name = await producers[n % 2].put(f"job-{n}".encode())
        print(f"producer-{n % 2 + 1}: put job-{n} as {name}")
    taken: dict[str, list[int]] = {}

    async def consume(k: int, q: DistributedQueue) -> None:
        name = f"consumer-{k}"
        while (item := await q.get(timeout=0.5 if taken else 5)) is not None:
            taken.setdefault(name, []).append(int(item.decode().split("-")[1]))
            print(f"{name}: took {item.decode()}")
            await asyncio.sleep(0.01)

    consumers = [DistributedQueue(zk, "/queue/jobs") for zk in clients[2:]]
    results = await asyncio.gather(*(consume(k, q) for k, q in enumerate(consumers, 1)),
                                   return_exceptions=True)
    for r in results:
        if not isinstance(r, TimeoutError):  # AcquireTimeout: the queue is empty
            raise SystemExit(f"consumer failed: {r!r}")
    everything = sorted(n for got in taken.values() for n in got)
    once = everything == list(range(1, jobs + 1))
    fifo = all(got == sorted(got) for got in taken.values())
    print(f"{len(everything)} jobs taken, each exactly once: {once}; in queue order: {fifo}")
    for zk in clients:
        await zk.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("hosts", help="server address, e.g. 127.0.0.1:2181")
    parser.add_argument("--jobs", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.hosts, args.jobs))
