"""Scenario 7e: a lock holder that stops before anyone else can start (the session lease).

worker-1 takes the lock /locks/report and works in small steps, asking `lock.is_held()`
before each one. Then its connection goes silent (through a local TCP proxy, as when a
network link breaks). `is_held()` turns False once the client's session lease runs out: the
send time of its last answered ping plus the lease span (docs/client.md), which ends before
the server can expire the session. Only after the expiry is worker-2 granted the lock, so
worker-1's last step comes before worker-2's first: their tenures never overlap.

    python examples/lease_lock.py 127.0.0.1:2181
"""

from __future__ import annotations

import argparse
import asyncio

from roost.client import Client
from roost.client.lease import lease_span
from roost.recipes import Lock
from roost.testing.proxy import TcpProxy

BASE = "/examples/lease_lock"
SESSION = 4.0


async def fresh_base(hosts: str) -> None:
    async with Client(hosts) as admin:
        if await admin.exists(BASE) is not None:
            await admin.delete(BASE, recursive=True)
        await admin.ensure_path(BASE)


async def main(hosts: str) -> None:
    await fresh_base(hosts)
    host, port = hosts.split(":")
    proxy = TcpProxy((host, int(port))).start()
    zk1 = Client(f"127.0.0.1:{proxy.port}{BASE}", session_timeout=SESSION)
    zk2 = Client(hosts + BASE, session_timeout=SESSION)
    await zk1.start()
    await zk2.start()
    print(f"lease span for a {zk1.session_timeout:.1f} s session: "
          f"{lease_span(zk1.session_timeout, 0.02):.2f} s after each answered ping")
    loop = asyncio.get_running_loop()
    lock1, lock2 = Lock(zk1, "/locks/report", "worker-1"), Lock(zk2, "/locks/report", "worker-2")
    await lock1.acquire()
    print("worker-1: holds the lock")
    await asyncio.sleep(1.0)  # a ping or two renew its lease
    proxy.blackhole()
    frozen = loop.time()
    print("worker-1: its connection goes silent")
    granted: list[float] = []

    async def contend() -> None:
        await lock2.acquire()
        granted.append(loop.time())

    contender = asyncio.ensure_future(contend())
    steps, last_step = 0, frozen
    while lock1.is_held():  # asked before every step of work
        steps += 1
        last_step = loop.time()
        await asyncio.sleep(0.02)
    print(f"worker-1: is_held() is False {last_step - frozen:.2f} s after the silence began; "
          f"it stops working")
    await asyncio.wait_for(contender, 4 * SESSION)
    print(f"worker-2: holds the lock {granted[0] - frozen:.2f} s after the silence began")
    print(f"worker-1 stopped before worker-2 started: {last_step < granted[0]}")
    await lock2.release()
    proxy.stop()
    await zk1.close()
    await zk2.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("hosts", help="server address, e.g. 127.0.0.1:2181")
    asyncio.run(main(parser.parse_args().hosts))
