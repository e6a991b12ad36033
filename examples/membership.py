"""Scenario 7d: cluster membership, a counter and a double barrier.

Four members join /cluster/members as ephemeral children and each one watches the group.
Every member counts its work on a shared CAS counter, then they meet at a double barrier:
nobody starts before all four have arrived and nobody leaves before all four are done.
Finally member-4 crashes (its session ends) and the others see it leave the group.

    python examples/membership.py 127.0.0.1:2181
"""

from __future__ import annotations

import argparse
import asyncio

from roost.client import Client
from roost.recipes import Counter, DoubleBarrier, GroupMembership

BASE = "/examples/membership"
MEMBERS = 4


async def fresh_base(hosts: str) -> None:
    async with Client(hosts) as admin:
        if await admin.exists(BASE) is not None:
            await admin.delete(BASE, recursive=True)
        await admin.ensure_path(BASE)


async def member(n: int, zk: Client, log: list[str]) -> GroupMembership:
    name = f"member-{n}"
    group = GroupMembership(zk, "/cluster/members", name, f"host-{n}".encode())
    await group.join()
    members = await group.wait_for(lambda m: len(m) == MEMBERS, timeout=10)
    print(f"{name}: sees the group {sorted(members)}")
    barrier = DoubleBarrier(zk, "/cluster/barrier", MEMBERS, name)
    await asyncio.sleep(0.02 * n)
    log.append(f"arrive {name}")
    await barrier.enter(timeout=10)
    log.append(f"enter {name}")
    total = 0
    for _ in range(5):
        total = await Counter(zk, "/cluster/jobs-done").add(1)
    log.append(f"done {name}")
    await barrier.leave(timeout=10)
    log.append(f"leave {name}")
    print(f"{name}: did 5 jobs (the shared counter read {total} after its last one)")
    return group


async def main(hosts: str) -> None:
    await fresh_base(hosts)
    clients = [Client(hosts + BASE) for _ in range(MEMBERS)]
    for zk in clients:
        await zk.start()
    log: list[str] = []
    groups = await asyncio.gather(*(member(n, zk, log) for n, zk in enumerate(clients, 1)))
    first_enter = min(i for i, e in enumerate(log) if e.startswith("enter"))
    last_arrive = max(i for i, e in enumerate(log) if e.startswith("arrive"))
    first_leave = min(i for i, e in enumerate(log) if e.startswith("leave"))
    last_done = max(i for i, e in enumerate(log) if e.startswith("done"))
    print(f"double barrier: all arrived before anyone entered: {last_arrive < first_enter}")
    print(f"double barrier: all done before anyone left: {last_done < first_leave}")
    total = await Counter(clients[0], "/cluster/jobs-done").value()
    print(f"counter: {total} jobs done in all")
    await clients[-1].close()
    print("member-4: crashed")
    for n, group in enumerate(groups[:-1], 1):
        members = await group.wait_for(lambda m: len(m) == MEMBERS - 1, timeout=10)
        print(f"member-{n}: sees the group {sorted(members)}")
    for zk in clients[:-1]:
        await zk.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("hosts", help="server address, e.g. 127.0.0.1:2181")
    asyncio.run(main(parser.parse_args().hosts))
