"""Scenario 6: Consul-style election with a session and a TTL.

Each service opens a session with a TTL (the session timeout, here 4 s) and tries to acquire
the key /leader by creating it as an ephemeral node whose value is its session id. Success
means leader; failure means poll and retry in the background. The client renews the session
by itself (a heartbeat every TTL/3). Before each business action the leader checks that it
still holds the key and that its session is certainly alive (its lease has not run out).
Then the leader stops renewing (its connection goes silent through a local TCP proxy): the
session expires, the key is released, and another service acquires it. The old leader, which
cannot confirm its session any more, skips its business actions.

    python examples/ttl_election.py 127.0.0.1:2181
"""

from __future__ import annotations

import argparse
import asyncio

from roost.client import Client, ClientState, KeeperError, NodeExistsError
from roost.testing.proxy import TcpProxy

BASE = "/examples/ttl_election"
TTL = 4.0


async def fresh_base(hosts: str) -> None:
    async with Client(hosts) as admin:
        if await admin.exists(BASE) is not None:
            await admin.delete(BASE, recursive=True)
        await admin.ensure_path(BASE)


class Service:
    def __init__(self, name: str, hosts: str) -> None:
        self.name = name
        self.zk = Client(hosts + BASE, session_timeout=TTL, retry_delay=0.05,
                         retry_max_delay=0.2)
        self.actions = 0
        self.skipped = 0
        self.holds_key = False

    async def try_acquire(self) -> bool:
        me = f"{self.zk.session_id:#x}".encode()
        try:
            await self.zk.create("/leader", me, ephemeral=True)
            print(f"{self.name}: acquired /leader with session {me.decode()}")
            self.holds_key = True
            return True
        except NodeExistsError:
            return False

    async def still_leader(self) -> bool:
        """Check before acting: the key holds our session id and our lease is still valid."""
        if self.zk.state is not ClientState.CONNECTED and self.zk.lease_remaining() <= 0:
            return False
        try:
            data, _ = await asyncio.wait_for(self.zk.get("/leader"), max(0.05,
                                             self.zk.lease_remaining()))
        except (KeeperError, TimeoutError):  # no node, connection loss, session expired
            return False
        return data == f"{self.zk.session_id:#x}".encode()

    async def run(self, stop: asyncio.Event, poll: float) -> None:
        while not stop.is_set():
            if not self.holds_key and not await self.try_acquire():
                await asyncio.sleep(poll)  # someone else leads: poll and retry
                continue
            if await self.still_leader():
                self.actions += 1
                print(f"{self.name}: still leader, business action {self.actions}")
            elif self.actions:
                self.skipped += 1
                if self.skipped == 1:
                    print(f"{self.name}: cannot confirm leadership, skipping business actions")
            await asyncio.sleep(poll)


async def main(hosts: str, poll: float) -> None:
    await fresh_base(hosts)
    host, port = hosts.split(":")
    proxy = TcpProxy((host, int(port))).start()
    services = [Service("service-A", f"127.0.0.1:{proxy.port}"),
                Service("service-B", hosts), Service("service-C", hosts)]
    for s in services:
        await s.zk.start()
    stop = asyncio.Event()
    first = services[0]
    await first.try_acquire()
    tasks = [asyncio.ensure_future(s.run(stop, poll)) for s in services]
    while first.actions < 3:
        await asyncio.sleep(0.01)
    print("service-A: stops renewing its session")
    proxy.blackhole()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 4 * TTL
    while not any(s.actions >= 2 for s in services[1:]):
        if loop.time() > deadline:
            raise SystemExit("nobody took over")
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.gather(*tasks)
    new = next(s for s in services[1:] if s.actions)
    print(f"{new.name} took over after service-A's session expired")
    proxy.stop()
    for s in services:
        await s.zk.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("hosts", help="server address, e.g. 127.0.0.1:2181")
    parser.add_argument("--poll", type=float, default=0.25, help="retry interval in seconds")
    args = parser.parse_args()
    asyncio.run(main(args.hosts, args.poll))
