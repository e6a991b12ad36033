"""One registry, two protocols, on a 3-member ensemble: a service registered through the
Consul API is seen by ZooKeeper clients (Curator's layout, read with kazoo, and roost's
ServiceDiscovery recipe), and instances registered by ZooKeeper clients appear in
/v1/catalog/service and /v1/health/service. Each side talks to a different member. The
members run Consul durations at 10% (http_time_scale_pct): a 10 s TTL check is 1 s here."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import consul
import pytest
from conftest import blocking_queries
from kazoo.client import KazooClient

from roost.client import Client
from roost.recipes import ServiceDiscovery, ServiceInstance, ServiceRegistry
from roost.testing.ensemble import RoostEnsemble
from roost.testing.wait import wait_until

SCALE = 0.1
CURATOR_JSON = (Path(__file__).parent.parent / "data" / "curator-service-instance.json"
                ).read_bytes()
CURATOR_FIELDS = {"name", "id", "address", "port", "sslPort", "payload", "registrationTimeUTC",
                  "serviceType", "uriSpec", "enabled"}


@pytest.fixture(scope="module")
def ens() -> Iterator[RoostEnsemble]:
    with RoostEnsemble(3, subprocess=True, http=True, fsync=False,
                       http_time_scale_pct=int(SCALE * 100)) as e:
        e.wait_settled()
        yield e


def agent(ens: RoostEnsemble, i: int) -> consul.Consul:
    return consul.Consul(host="127.0.0.1", port=ens.http_ports[i])


def kazoo(ens: RoostEnsemble, i: int) -> KazooClient:
    zk = KazooClient(hosts=ens.hosts_of(i))
    zk.start(timeout=15)
    return zk


def node_name(c: consul.Consul) -> str:
    return str(c.agent.self()["Config"]["NodeName"])


def healthy_ids(disco: ServiceDiscovery) -> list[str]:
    return sorted(i.id for i in disco.instances())


def test_every_member_is_an_agent_node(ens: RoostEnsemble) -> None:
    names = [node_name(agent(ens, i)) for i in range(3)]
    assert names == [f"roost-{m.id}" for m in ens.members]
    assert sorted(m["Name"] for m in agent(ens, 0).agent.members()) == sorted(names)
    wait_until(lambda: set(names) <= {n["Node"] for n in agent(ens, 2).catalog.nodes()[1]},
               what="every member's node in the catalog")


def test_consul_service_seen_by_zookeeper_clients(ens: RoostEnsemble) -> None:
    c = agent(ens, 0)
    me = node_name(c)
    c.agent.service.register("orders", service_id="o-1", address="10.0.0.1", port=9000,
                             tags=["eu"], meta={"version": "2"},
                             check=consul.Check.ttl("10s"))
    c.agent.check.ttl_pass("service:o-1")
    zk = kazoo(ens, 1)
    try:
        wait_until(lambda: zk.exists("/services/orders/o-1@" + me) is not None,
                   what="the instance on member 1")
        data, stat = zk.get("/services/orders/o-1@" + me)
        d = json.loads(data)
        assert set(d) >= CURATOR_FIELDS  # Curator's ServiceInstance reads it
        assert (d["name"], d["id"], d["address"], d["port"]) == (
            "orders", "o-1@" + me, "10.0.0.1", 9000)
        assert d["serviceType"] == "STATIC" and d["enabled"] is True
        assert d["registrationTimeUTC"] > 0 and stat.ephemeralOwner == 0
        assert d["tags"] == ["eu"] and d["metadata"] == {"version": "2"}
        assert d["health"] == "up"
    finally:
        zk.stop()
        zk.close()

    async def recipe() -> None:
        client = Client(ens.hosts_of(2))
        await client.start()
        try:
            disco = ServiceDiscovery(client, "orders")
            await disco.start()
            await disco.wait_for(1, timeout=10)
            (inst,) = disco.instances()
            assert (inst.id, inst.address, inst.port) == ("o-1@" + me, "10.0.0.1", 9000)
            assert inst.metadata == {"version": "2"}
            # the TTL check is not renewed: critical, and the recipe drops the instance
            await disco.wait_for(0, timeout=10)
            c.agent.check.ttl_pass("service:o-1")
            await disco.wait_for(1, timeout=10)
            await disco.stop()
        finally:
            await client.close()

    asyncio.run(recipe())
    c.agent.service.deregister("o-1")


def test_zookeeper_instances_in_the_consul_catalog(ens: RoostEnsemble) -> None:
    zk = kazoo(ens, 1)
    zk.create("/services/orders/curator-1", CURATOR_JSON, ephemeral=True, makepath=True)
    c = agent(ens, 0)

    async def register() -> tuple[Client, ServiceRegistry, ServiceInstance]:
        client = Client(ens.hosts_of(2))
        await client.start()
        reg = ServiceRegistry(client)
        inst = ServiceInstance("orders", "r-1", "10.0.0.2", 9100, {"zone": "b"})
        await reg.register(inst)
        return client, reg, inst

    loop = asyncio.new_event_loop()
    client, reg, inst = loop.run_until_complete(register())
    try:
        def ids() -> list[str]:
            return sorted(e["ServiceID"] for e in c.catalog.service("orders")[1])

        wait_until(lambda: ids() == ["curator-1", "r-1"], what="both instances in the catalog")
        entries = {e["ServiceID"]: e for e in c.catalog.service("orders")[1]}
        assert (entries["curator-1"]["ServiceAddress"], entries["curator-1"]["ServicePort"]) == (
            "10.9.8.7", 7001)
        assert entries["r-1"]["ServiceMeta"] == {"zone": "b"}
        index, healthy = c.health.service("orders", passing=True)
        assert sorted(h["Service"]["ID"] for h in healthy) == ["curator-1", "r-1"]
        assert {ch["CheckID"] for h in healthy for ch in h["Checks"]} == {"zookeeper"}
        # the recipe marks its instance down: Consul's health sees it critical
        loop.run_until_complete(reg.update(ServiceInstance("orders", "r-1", "10.0.0.2", 9100,
                                                           {"zone": "b"}, "down")))
        wait_until(lambda: [h["Service"]["ID"] for h in c.health.service(
            "orders", passing=True)[1]] == ["curator-1"], what="r-1 critical")
        # a blocking health query wakes when the Curator instance's session ends
        index, _h = c.health.service("orders")
        got: list[list[str]] = []

        def block() -> None:
            _i, nodes = agent(ens, 0).health.service("orders", index=index, wait="20s")
            got.append(sorted(n["Service"]["ID"] for n in nodes))

        t = threading.Thread(target=block)
        t.start()
        wait_until(lambda: blocking_queries(ens.http_ports[0]), what="the health query to block")
        zk.stop()
        zk.close()
        t.join(30)
        assert got == [["r-1"]]
    finally:
        loop.run_until_complete(reg.unregister(inst))
        loop.run_until_complete(client.close())
        loop.close()
    wait_until(lambda: c.catalog.service("orders")[1] == [], what="an empty catalog")


def test_session_bound_to_a_check_through_followers(ens: RoostEnsemble) -> None:
    """A session created through one follower on a check of that follower's node ends when
    the check fails (reported through the same member), and every member sees its lock
    released."""
    leader = ens.leader()
    f1, f2 = (i for i in range(3) if i != leader)
    a = agent(ens, f1)
    a.agent.check.register("worker", check=consul.Check.ttl("600s"))
    a.agent.check.ttl_pass("worker")
    sid = a.session.create(checks=["serfHealth", "worker"], lock_delay=0)
    assert a.kv.put("jobs/lock", b"w", acquire=sid) is True
    b = agent(ens, f2)
    wait_until(lambda: (b.kv.get("jobs/lock")[1] or {}).get("Session") == sid,
               what="member f2 to see the lock")
    a.agent.check.ttl_fail("worker")
    for c in (a, b, agent(ens, leader)):
        wait_until(lambda c=c: c.session.info(sid)[1] is None, what="the session to end")
        wait_until(lambda c=c: "Session" not in (c.kv.get("jobs/lock")[1] or {}),
                   what="the lock to be released")
    a.agent.check.deregister("worker")


def test_ttl_checks_survive_a_failover(ens: RoostEnsemble) -> None:
    """Runs last (kills the leader): a TTL check registered and passed through a follower
    goes critical on time under the next leader."""
    leader = ens.leader()
    follower = next(i for i in range(3) if i != leader)
    c = agent(ens, follower)
    c.agent.service.register("billing", service_id="b-1", port=9300,
                             check=consul.Check.ttl("30s"))  # 3 s here
    passed = time.monotonic()  # before the request: the TTL restarts later
    c.agent.check.ttl_pass("service:b-1")
    ens.kill(leader)
    assert ens.leader(exclude=(leader,)) != leader
    # the check, its status and its deadline were replicated: the new leader expires it
    assert "service:b-1" in c.agent.checks()
    wait_until(lambda: c.agent.checks()["service:b-1"]["Status"] == "critical", timeout=20,
               what="the new leader to expire the TTL check")
    assert time.monotonic() - passed >= 30 * SCALE - 0.05
    assert c.health.service("billing", passing=True)[1] == []
    c.agent.check.ttl_pass("service:b-1")
    assert [h["Service"]["ID"] for h in c.health.service("billing", passing=True)[1]] == ["b-1"]
