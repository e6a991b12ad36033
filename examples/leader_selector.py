"""Scenario 5: leader selector with auto-requeue (as Apache Curator's LeaderSelector).

Five clients run a selector on /testZK/leader_selector. The chosen client's
take_leadership() works for 3 time units and then returns, which releases leadership; with
auto-requeue the client queues again at the back, so leadership rotates among all clients.
client#1 connects through a local TCP proxy: during its second term the proxy drops the
connection, the client goes SUSPENDED and its take_leadership() is cancelled at once; after
it reconnects it queues again.

    python examples/leader_selector.py 127.0.0.1:2181 [--unit 0.1] [--terms 12]
"""

from __future__ import annotations

import argparse
import asyncio

from roost.client import Client, ClientState, StateChange
from roost.recipes import LeaderSelector
from roost.testing.proxy import TcpProxy

BASE = "/examples/leader_selector"
PATH = "/testZK/leader_selector"


async def fresh_base(hosts: str) -> None:
    async with Client(hosts) as admin:
        if await admin.exists(BASE) is not None:
            await admin.delete(BASE, recursive=True)
        await admin.ensure_path(BASE)


class Demo:
    def __init__(self, unit: float, terms: int, proxy: TcpProxy) -> None:
        self.unit = unit
        self.terms = terms
        self.proxy = proxy
        self.leading: set[str] = set()
        self.most_at_once = 0
        self.order: list[str] = []
        self.done = asyncio.Event()

    async def take_leadership(self, sel: LeaderSelector) -> None:
        name = sel.id
        self.leading.add(name)
        self.most_at_once = max(self.most_at_once, len(self.leading))
        self.order.append(name)
        print(f"{name}: takes leadership (term {len(self.order)}, token {sel.token})")
        try:
            if name == "client#1" and sel.terms == 2:
                await asyncio.sleep(self.unit)
                print("client#1: its connection drops")
                self.proxy.cut()
            await asyncio.sleep(3 * self.unit)
            print(f"{name}: done, releasing leadership")
        except asyncio.CancelledError:
            print(f"{name}: take_leadership cancelled")
            raise
        finally:
            self.leading.discard(name)
            if len(self.order) >= self.terms:
                self.done.set()


async def main(hosts: str, unit: float, terms: int) -> None:
    await fresh_base(hosts)
    host, port = hosts.split(":")
    proxy = TcpProxy((host, int(port))).start()
    demo = Demo(unit, terms, proxy)
    clients, selectors = [], []
    for n in range(1, 6):
        via = f"127.0.0.1:{proxy.port}" if n == 1 else hosts
        zk = Client(via + BASE, session_timeout=10, retry_delay=0.05, retry_max_delay=0.2)
        if n == 1:
            def on_state(change: StateChange) -> None:
                if change.state is ClientState.SUSPENDED:
                    print("client#1: connection SUSPENDED")
                    asyncio.get_running_loop().call_later(unit, proxy.heal)
                elif change.previous is ClientState.SUSPENDED:
                    print("client#1: RECONNECTED, queueing again")
            zk.add_listener(on_state)
        await zk.start()
        sel = LeaderSelector(zk, PATH, demo.take_leadership, f"client#{n}", auto_requeue=True)
        clients.append(zk)
        selectors.append(sel)
    for sel in selectors:
        await sel.start()
        await asyncio.sleep(0.02)  # queue in order
    await asyncio.wait_for(demo.done.wait(), 30 + terms * 4 * unit)
    for sel in selectors:
        await sel.close()
    for zk in clients:
        await zk.close()
    proxy.stop()
    print(f"leadership order: {', '.join(demo.order)}")
    print(f"at most {demo.most_at_once} leader at any time")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("hosts", help="server address, e.g. 127.0.0.1:2181")
    parser.add_argument("--unit", type=float, default=0.1, help="one time unit in seconds")
    parser.add_argument("--terms", type=int, default=12)
    args = parser.parse_args()
    asyncio.run(main(args.hosts, args.unit, args.terms))
