"""ServiceRegistry/ServiceDiscovery and GroupMembership against roost and ZooKeeper."""

from __future__ import annotations

import random

from roost.recipes import GroupMembership, ServiceDiscovery, ServiceInstance, ServiceRegistry
from roost.testing.wait import wait_until_async

from .helpers import SHORT_SESSION, Env, expire


def inst(i: int, health: str = "up") -> ServiceInstance:
    return ServiceInstance("api", f"i{i}", f"10.0.0.{i}", 8000 + i, {"zone": f"z{i % 2}"},
                           health)


async def test_discovery_sees_the_live_set_and_picks(env: Env) -> None:
    providers = [await env.client() for _ in range(3)]
    consumer = await env.client()
    regs = [ServiceRegistry(p) for p in providers]
    changes: list[list[str]] = []
    disco = ServiceDiscovery(consumer, "api", rng=random.Random(3),
                             on_change=lambda live: changes.append([i.id for i in live]))
    await disco.start()
    assert disco.pick() is None
    for i, r in enumerate(regs):
        await r.register(inst(i))
    live = await disco.wait_for(3, timeout=5)
    assert [(i.id, i.port, i.metadata["zone"]) for i in live] == [
        ("i0", 8000, "z0"), ("i1", 8001, "z1"), ("i2", 8002, "z0")]
    assert [disco.pick("round_robin").id for _ in range(6)] == [  # type: ignore[union-attr]
        "i0", "i1", "i2", "i0", "i1", "i2"]
    picks = {disco.pick("random").id for _ in range(30)}  # type: ignore[union-attr]
    assert picks == {"i0", "i1", "i2"}
    await regs[1].update(inst(1, health="down"))  # unhealthy instances are not picked
    await disco.wait_for(2, timeout=5)
    await providers[2].close()  # its ephemeral goes with its session
    live = await disco.wait_for(1, timeout=5)
    assert [i.id for i in live] == ["i0"]
    assert [i.id for i in disco.instances(healthy_only=False)] == ["i0", "i1"]
    await wait_until_async(lambda: changes and changes[-1] == ["i0"], what="change callback")
    await regs[0].unregister(inst(0))
    await disco.wait_for(0, timeout=5)
    await disco.stop()


async def test_registration_comes_back_after_session_expiry(env: Env) -> None:
    provider = await env.client(session_timeout=SHORT_SESSION)
    consumer = await env.client()
    reg = ServiceRegistry(provider)
    await reg.register(inst(7))
    disco = ServiceDiscovery(consumer, "api")
    await disco.start()
    await disco.wait_for(1, timeout=5)
    await expire(env.backend, provider)
    await wait_until_async(lambda: reg.reregistrations == 1, timeout=15, what="re-registration")
    live = await disco.wait_for(1, timeout=5)
    assert live[0].id == "i7"
    stat = await consumer.exists("/services/api/i7")
    assert stat is not None and stat.ephemeralOwner == provider.session_id
    await disco.stop()


async def test_group_members_join_and_leave(env: Env) -> None:
    clients = [await env.client() for _ in range(3)]
    groups = [GroupMembership(c, "/group", f"m{i}", f"d{i}".encode())
              for i, c in enumerate(clients)]
    for g in groups:
        await g.join()
    for g in groups:
        members = await g.wait_for(lambda m: len(m) == 3, timeout=5)
        assert members == {"m0": b"d0", "m1": b"d1", "m2": b"d2"}
    await groups[1].leave()
    await groups[0].wait_for(lambda m: set(m) == {"m0", "m2"}, timeout=5)
    await clients[2].close()
    assert await groups[0].wait_for(lambda m: set(m) == {"m0"}, timeout=5) == {"m0": b"d0"}
    await groups[0].leave()
