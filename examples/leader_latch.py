"""Scenario 4: leader latch (as Apache Curator's LeaderLatch).

Five clients client#1..client#5 start a latch on /testZK/leader_latch. One is chosen and
its is_leader listener runs; the others wait. Client number n closes its latch and session
after n time units. Whenever the leader closes, another open client becomes leader. A shared
record checks that at most one client holds leadership at any time.

    python examples/leader_latch.py 127.0.0.1:2181 [--unit 0.3]
"""

from __future__ import annotations

import argparse
import asyncio

from roost.client import Client
from roost.recipes import CloseMode, LeaderLatch

BASE = "/examples/leader_latch"
PATH = "/testZK/leader_latch"

holders: set[str] = set()
most_at_once = 0


def on_leader(name: str, token_of: LeaderLatch) -> None:
    global most_at_once
    holders.add(name)
    most_at_once = max(most_at_once, len(holders))
    print(f"{name}: is_leader (fencing token {token_of.token})")


def on_not_leader(name: str) -> None:
    holders.discard(name)
    print(f"{name}: not_leader")


async def fresh_base(hosts: str) -> None:
    async with Client(hosts) as admin:
        if await admin.exists(BASE) is not None:
            await admin.delete(BASE, recursive=True)
        await admin.ensure_path(BASE)


async def run_client(n: int, zk: Client, latch: LeaderLatch, unit: float) -> None:
    name = f"client#{n}"
    await asyncio.sleep(n * unit)
    print(f"{name}: closing (has_leadership={latch.has_leadership()})")
    await latch.close()
    await zk.close()


async def main(hosts: str, unit: float) -> None:
    await fresh_base(hosts)
    latches = []
    clients = []
    for n in range(1, 6):
        name = f"client#{n}"
        zk = Client(hosts + BASE, session_timeout=10)
        await zk.start()
        latch = LeaderLatch(zk, PATH, name, close_mode=CloseMode.NOTIFY_LEADER)
        latch.add_listener(is_leader=lambda name=name, latch=latch: on_leader(name, latch),
                           not_leader=lambda name=name: on_not_leader(name))
        await latch.start()
        latches.append(latch)
        clients.append(zk)
    assert await latches[0].await_leadership(timeout=5)
    got = await latches[4].await_leadership(timeout=unit / 3)
    print(f"client#5: await_leadership(timeout) returned {got}")
    await asyncio.gather(*(run_client(n, zk, lt, unit)
                           for n, (zk, lt) in enumerate(zip(clients, latches, strict=True), 1)))
    print(f"at most {most_at_once} leader at any time")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("hosts", help="server address, e.g. 127.0.0.1:2181")
    parser.add_argument("--unit", type=float, default=0.3, help="one time unit in seconds")
    args = parser.parse_args()
    asyncio.run(main(args.hosts, args.unit))
