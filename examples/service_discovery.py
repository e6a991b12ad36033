"""Scenario 7a: service discovery.

Three instances of the "orders" service register /services/orders/<id> (ephemeral; JSON with
address, port, metadata and health). A consumer keeps the live set with a watch and picks an
instance round-robin for each call. One instance reports itself unhealthy, another one stops
(its session ends and its node goes); the consumer's set follows each change.

    python examples/service_discovery.py 127.0.0.1:2181
"""

from __future__ import annotations

import argparse
import asyncio

from roost.client import Client
from roost.recipes import ServiceDiscovery, ServiceInstance, ServiceRegistry

BASE = "/examples/service_discovery"


async def fresh_base(hosts: str) -> None:
    async with Client(hosts) as admin:
        if await admin.exists(BASE) is not None:
            await admin.delete(BASE, recursive=True)
        await admin.ensure_path(BASE)


def show(instances: list[ServiceInstance]) -> str:
    return ", ".join(f"{i.id}@{i.address}:{i.port}" for i in instances) or "(none)"


async def main(hosts: str) -> None:
    await fresh_base(hosts)
    providers = [Client(hosts + BASE) for _ in range(3)]
    instances = [ServiceInstance("orders", f"orders-{n}", "127.0.0.1", 9000 + n,
                                 {"version": "1.4", "zone": f"zone-{n % 2}"})
                 for n in range(1, 4)]
    registries = []
    async with Client(hosts + BASE) as consumer:
        discovery = ServiceDiscovery(consumer, "orders")
        await discovery.start()
        for zk, inst in zip(providers, instances, strict=True):
            await zk.start()
            reg = ServiceRegistry(zk)
            await reg.register(inst)
            registries.append(reg)
            print(f"{inst.id}: registered at {inst.address}:{inst.port}")
        live = await discovery.wait_for(3, timeout=10)
        print(f"consumer: live instances: {show(live)}")
        for call in range(1, 5):
            pick = discovery.pick("round_robin")
            assert pick is not None
            print(f"consumer: call {call} goes to {pick.id}")
        sick = ServiceInstance(**{**instances[1].__dict__, "health": "down"})
        await registries[1].update(sick)
        print("orders-2: reports itself unhealthy")
        live = await discovery.wait_for(2, timeout=10)
        print(f"consumer: live instances: {show(live)}")
        await providers[2].close()
        print("orders-3: stopped")
        live = await discovery.wait_for(1, timeout=10)
        print(f"consumer: live instances: {show(live)}")
        pick = discovery.pick("random")
        print(f"consumer: call 5 goes to {pick.id if pick else 'nobody'}")
        await discovery.stop()
    for zk in providers:
        await zk.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("hosts", help="server address, e.g. 127.0.0.1:2181")
    asyncio.run(main(parser.parse_args().hosts))
