"""Scenario: an audit feed that never misses a change, even while it is down.

An auditor follows every change under /orders with `watch_history` (a roost extension)
and remembers the zxid it has processed. It stops; orders keep changing; a new auditor
starts from the remembered zxid and receives exactly the changes it missed, then live
ones: no gap, no duplicate. If the server's history no longer reached that zxid, the
auditor would get CompactedError and resync (read everything, go on from that read).

    python examples/change_feed.py 127.0.0.1:2181

Against Apache ZooKeeper it says that the server lacks the feature.
"""

from __future__ import annotations

import argparse
import asyncio

from roost.client import Client, CompactedError, EventType, HistoryUnsupportedError

BASE = "/examples/change_feed"


async def resync(zk: Client, seen: list[str]) -> int:
    """Read the whole state (after a CompactedError) and return the zxid to go on from."""
    await zk.sync("/orders")
    since = zk.last_zxid
    for name in sorted(await zk.children("/orders")):
        data, _ = await zk.get(f"/orders/{name}")
        seen.append(f"resync /orders/{name}={data!r}")
    return since


async def audit(hosts: str, name: str, since: int, stop_after: int, seen: list[str]) -> int:
    """Print changes until `stop_after` of them; return the zxid to resume from."""
    async with Client(hosts + BASE) as zk:
        while True:
            feed = zk.watch_history("/orders", since=since, recursive=True, with_data=True)
            try:
                async for ev in feed:
                    line = f"{EventType(ev.type).name.lower()} {ev.path}"
                    if ev.data is not None:
                        line += f"={ev.data.decode()}"
                    print(f"{name}: zxid {ev.zxid}: {line}")
                    seen.append(line)
                    if len(seen) >= stop_after:
                        return feed.resume_zxid
            except CompactedError as e:
                print(f"{name}: history compacted at {e.zxid}: resyncing")
                since = await resync(zk, seen)
            finally:
                await feed.aclose()


async def orders(zk: Client, first: int, count: int) -> None:
    for i in range(first, first + count):
        await zk.create(f"/orders/o{i}", b"new")
        await zk.set(f"/orders/o{i}", b"paid")


async def main(hosts: str) -> None:
    async with Client(hosts) as admin:
        if await admin.exists(BASE) is not None:
            await admin.delete(BASE, recursive=True)
        await admin.ensure_path(BASE + "/orders")
    async with Client(hosts + BASE) as shop:
        await shop.sync("/orders")
        start = shop.last_zxid  # the feed starts after everything up to here
        seen: list[str] = []
        await orders(shop, 0, 2)  # 4 changes
        try:
            resume = await audit(hosts, "auditor-1", start, 4, seen)
        except HistoryUnsupportedError as e:
            print(f"the server lacks watch history: {e}")
            return
        print(f"auditor-1 stops at zxid {resume}")
        await orders(shop, 2, 3)  # 6 changes while nobody audits
        print("3 more orders while no auditor runs")
        await audit(hosts, "auditor-2", resume, 10, seen)
        want = [f"{kind} /orders/o{i}" + f"={v}"
                for i in range(5) for kind, v in (("node_created", "new"),
                                                  ("node_data_changed", "paid"))]
        print("every change exactly once" if seen == want else f"MISMATCH {seen}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("hosts", nargs="?", default="127.0.0.1:2181")
    asyncio.run(main(ap.parse_args().hosts))
