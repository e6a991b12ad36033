"""Scenario 7b: a distributed lock with fencing tokens.

Three workers take turns on the lock /locks/inventory (ephemeral sequential nodes; each
waiter watches only its predecessor) and write to a storage service that remembers the
largest fencing token it has seen. Then worker-1 takes the lock and freezes (its connection
goes silent through a local TCP proxy, as in a long GC pause). Its session expires, the
lock passes to worker-2 with a larger token, and when worker-1 wakes up and tries to write
with its old token the storage service refuses.

    python examples/lock.py 127.0.0.1:2181
"""

from __future__ import annotations

import argparse
import asyncio

from roost.client import Client
from roost.recipes import FencingGate, Lock, StaleTokenError
from roost.testing.proxy import TcpProxy

BASE = "/examples/lock"
SESSION = 4.0


class Storage:
    """A downstream store that checks fencing tokens."""

    def __init__(self) -> None:
        self.gate = FencingGate()
        self.writes: list[str] = []

    def write(self, who: str, token: int, value: str) -> None:
        self.gate.admit(token)  # raises StaleTokenError for a deposed holder
        self.writes.append(value)
        print(f"storage: accepted {value!r} from {who} (token {token})")


async def fresh_base(hosts: str) -> None:
    async with Client(hosts) as admin:
        if await admin.exists(BASE) is not None:
            await admin.delete(BASE, recursive=True)
        await admin.ensure_path(BASE)


async def main(hosts: str) -> None:
    await fresh_base(hosts)
    host, port = hosts.split(":")
    proxy = TcpProxy((host, int(port))).start()
    storage = Storage()
    clients = [Client(f"127.0.0.1:{proxy.port}{BASE}", session_timeout=SESSION),
               Client(hosts + BASE, session_timeout=SESSION),
               Client(hosts + BASE, session_timeout=SESSION)]
    locks = []
    for n, zk in enumerate(clients, 1):
        await zk.start()
        locks.append(Lock(zk, "/locks/inventory", f"worker-{n}"))

    async def turn(n: int) -> None:
        lock = locks[n - 1]
        async with lock:
            assert lock.token is not None
            print(f"worker-{n}: holds the lock")
            storage.write(f"worker-{n}", lock.token, f"count={n}")
            await asyncio.sleep(0.05)
        print(f"worker-{n}: released the lock")

    for n in (1, 2, 3):
        await turn(n)
    token1 = await locks[0].acquire()
    print("worker-1: holds the lock again, then freezes")
    proxy.blackhole()
    waiting = asyncio.ensure_future(locks[1].acquire())
    token2 = await asyncio.wait_for(waiting, 4 * SESSION)
    print(f"worker-2: holds the lock after worker-1's session expired "
          f"(token {token2} > {token1}: {token2 > token1})")
    storage.write("worker-2", token2, "count=20")
    print(f"worker-1: lock.is_held() would now say {locks[0].is_held()}, but it does not ask")
    print("worker-1: wakes up and writes, still believing it holds the lock")
    try:
        storage.write("worker-1", token1, "count=10")
    except StaleTokenError as e:
        print(f"storage: refused worker-1's write: {e}")
    await locks[1].release()
    proxy.stop()
    for zk in clients:
        await zk.close()
    print(f"storage holds {storage.writes[-1]!r}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("hosts", help="server address, e.g. 127.0.0.1:2181")
    asyncio.run(main(parser.parse_args().hosts))
