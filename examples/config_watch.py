"""Scenario 1: centralised configuration with change notification.

Three service instances follow /config/database_url with a ConfigWatcher. The node does not
exist at first: each instance waits for it. An operator then creates it and changes it five
times quickly; every instance applies each value it sees ("reconnects its database pool")
and all of them end on the last value.

    python examples/config_watch.py 127.0.0.1:2181
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable

from roost.client import Client
from roost.recipes import ConfigWatcher

BASE = "/examples/config_watch"
NODE = "/config/database_url"


async def fresh_base(hosts: str) -> None:
    async with Client(hosts) as admin:
        if await admin.exists(BASE) is not None:
            await admin.delete(BASE, recursive=True)
        await admin.ensure_path(BASE)


applied: dict[str, str] = {}


def applier(name: str) -> Callable[[str | None, int], None]:
    def apply(value: str | None, version: int) -> None:
        if version >= 0 and value is not None:
            print(f"{name}: reconnecting the database pool to {value}")
            applied[name] = value
    return apply


def applied_is(name: str, value: str) -> Callable[[], bool]:
    return lambda: applied.get(name) == value


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise SystemExit("timed out")
        await asyncio.sleep(0.01)


async def main(hosts: str, instances: int) -> None:
    await fresh_base(hosts)
    clients = [Client(hosts + BASE, session_timeout=10) for _ in range(instances)]
    watchers = []
    for i, c in enumerate(clients, 1):
        await c.start()
        w = ConfigWatcher(c, NODE, "str", on_change=applier(f"instance-{i}"))
        await w.start()
        print(f"instance-{i}: {NODE} does not exist yet, waiting for it")
        watchers.append(w)
    async with Client(hosts + BASE) as operator:
        await operator.create(NODE, b"postgres://db0/app", make_parents=True)
        print("operator: created the value postgres://db0/app")
        for w in watchers:
            await w.wait_until("postgres://db0/app", timeout=10)
        for n in range(1, 6):
            await operator.set(NODE, f"postgres://db{n}/app".encode())
        print("operator: changed the value five times quickly, last postgres://db5/app")
        for i, w in enumerate(watchers, 1):
            await until(applied_is(f"instance-{i}", "postgres://db5/app"))
            print(f"instance-{i}: current value is {w.value} (read {w.reads} times)")
    for w in watchers:
        await w.stop()
    for c in clients:
        await c.close()
    print("all instances ended on the last value")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("hosts", help="server address, e.g. 127.0.0.1:2181")
    parser.add_argument("--instances", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.hosts, args.instances))
