"""Scenario 2: leader election with ephemeral sequential nodes (the raw protocol).

Three candidates each create /election/node- as EPHEMERAL_SEQUENTIAL. The smallest sequence
number leads; every other candidate watches only its predecessor and checks again when that
node goes. The leader's process then "dies": its connection goes silent (through a local
TCP proxy), so it stops heartbeating, the server expires its session, its node vanishes and
the next candidate leads within the session timeout.

    python examples/election.py 127.0.0.1:2181
"""

from __future__ import annotations

import argparse
import asyncio

from roost.client import Client
from roost.testing.proxy import TcpProxy

BASE = "/examples/election"
SESSION = 4.0  # seconds: the shortest session a server with tickTime 2000 allows


async def fresh_base(hosts: str) -> None:
    async with Client(hosts) as admin:
        if await admin.exists(BASE) is not None:
            await admin.delete(BASE, recursive=True)
        await admin.ensure_path(BASE + "/election")


async def campaign(name: str, zk: Client, leaders: asyncio.Queue[str]) -> None:
    me = await zk.create("/election/node-", ephemeral=True, sequence=True)
    mine = me.rsplit("/", 1)[1]
    print(f"{name}: joined as {mine}")
    while True:
        kids = sorted(await zk.children("/election"))
        if mine not in kids:
            print(f"{name}: my node is gone (session expired)")
            return
        index = kids.index(mine)
        if index == 0:
            print(f"{name}: I am the leader ({mine})")
            await leaders.put(name)
            return
        pred = kids[index - 1]
        print(f"{name}: watching my predecessor {pred}")
        gone = asyncio.Event()

        async def wake(_: object, gone: asyncio.Event = gone) -> None:
            gone.set()

        if await zk.exists(f"/election/{pred}", watch=wake) is not None:
            await gone.wait()
            print(f"{name}: predecessor {pred} is gone, checking again")


async def main(hosts: str) -> None:
    await fresh_base(hosts)
    host, port = hosts.split(":")
    proxy = TcpProxy((host, int(port))).start()
    first = Client(f"127.0.0.1:{proxy.port}{BASE}", session_timeout=SESSION)
    others = [Client(hosts + BASE, session_timeout=SESSION) for _ in range(2)]
    leaders: asyncio.Queue[str] = asyncio.Queue()
    tasks = []
    for name, zk in zip(["candidate-1", "candidate-2", "candidate-3"], [first, *others],
                        strict=True):
        await zk.start()
        tasks.append(asyncio.ensure_future(campaign(name, zk, leaders)))
        await asyncio.sleep(0.05)  # join in order, so candidate-1 gets the smallest number
    leader = await asyncio.wait_for(leaders.get(), 10)
    loop = asyncio.get_running_loop()
    print(f"{leader} crashes: its connection goes silent")
    proxy.blackhole()
    died = loop.time()
    nxt = await asyncio.wait_for(leaders.get(), 3 * SESSION)
    waited = loop.time() - died
    print(f"{nxt} took over {'within' if waited < 2 * SESSION else 'after'} "
          f"twice the session timeout")
    for t in tasks:
        t.cancel()
    proxy.stop()
    for zk in [first, *others]:
        await zk.close()
    print("done")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("hosts", help="server address, e.g. 127.0.0.1:2181")
    asyncio.run(main(parser.parse_args().hosts))
