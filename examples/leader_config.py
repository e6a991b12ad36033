"""Scenario 3: the leader updates the configuration, followers follow.

Three nodes run a LeaderLatch on /election and a ConfigWatcher on /config/database_url. The
leader writes the value (create if absent, else a compare-and-set with the version it
read); followers print every value they see. Each leader writes twice and then dies (closes
its session); the next leader takes over writing, and the followers' watches carry on.

    python examples/leader_config.py 127.0.0.1:2181
"""

from __future__ import annotations

import argparse
import asyncio

from roost.client import BadVersionError, Client, NodeExistsError, NoNodeError
from roost.recipes import ConfigWatcher, LeaderLatch

BASE = "/examples/leader_config"
NODE = "/config/database_url"


async def fresh_base(hosts: str) -> None:
    async with Client(hosts) as admin:
        if await admin.exists(BASE) is not None:
            await admin.delete(BASE, recursive=True)
        await admin.ensure_path(BASE)


async def write_config(zk: Client, value: str) -> None:
    """Create the node if it is absent, else setData with the version just read."""
    while True:
        try:
            _, stat = await zk.get(NODE)
        except NoNodeError:
            try:
                await zk.create(NODE, value.encode(), make_parents=True)
                return
            except NodeExistsError:
                continue
        try:
            await zk.set(NODE, value.encode(), stat.version)
            return
        except BadVersionError:
            continue


class Node:
    def __init__(self, name: str, hosts: str) -> None:
        self.name = name
        self.zk = Client(hosts + BASE, session_timeout=10)
        self.latch = LeaderLatch(self.zk, "/election", name)
        self.watcher = ConfigWatcher(self.zk, NODE, "str", on_change=self.saw)
        self.leading = False

    def saw(self, value: str | None, version: int) -> None:
        if version >= 0 and not self.leading:
            print(f"{self.name} (follower) sees {value}")

    async def start(self) -> None:
        await self.zk.start()
        await self.watcher.start()
        await self.latch.start()

    async def lead(self, writes: int, pause: float) -> None:
        self.leading = True
        print(f"{self.name} is the leader")
        for n in range(1, writes + 1):
            value = f"postgres://db-{self.name}-{n}/app"
            await write_config(self.zk, value)
            print(f"{self.name} (leader) wrote {value}")
            await asyncio.sleep(pause)
        print(f"{self.name} dies")
        await self.watcher.stop()
        await self.latch.close()
        await self.zk.close()


async def main(hosts: str, unit: float) -> None:
    await fresh_base(hosts)
    nodes = [Node(f"node-{i}", hosts) for i in range(1, 4)]
    for node in nodes:
        await node.start()
    for _ in range(len(nodes)):
        leader = None
        for _ in range(500):
            leader = next((n for n in nodes if n.latch.has_leadership()), None)
            if leader is not None:
                break
            await asyncio.sleep(0.02)
        if leader is None:
            raise SystemExit("no leader elected")
        await leader.lead(2, unit)
        nodes.remove(leader)
        await asyncio.sleep(unit)
    print("done")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("hosts", help="server address, e.g. 127.0.0.1:2181")
    parser.add_argument("--unit", type=float, default=0.2, help="seconds between writes")
    args = parser.parse_args()
    asyncio.run(main(args.hosts, args.unit))
