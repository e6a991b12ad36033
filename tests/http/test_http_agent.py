"""The agent, catalog and health endpoints with py-consul: TTL checks going critical and
passing again, health queries blocking until that change, sessions invalidated by their
failing check, catalog register/deregister. The server runs Consul durations at 10%
(http_time_scale_pct), so a 10 s TTL check goes critical after 1 s here."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import consul
import pytest
from conftest import Served, blocking_queries, start_served

from roost.http.registry import Check, overdue
from roost.node import http_api
from roost.testing.wait import wait_until

SCALE = 0.1
TTL = "10s"  # 1 s of real time here


@pytest.fixture(scope="module")
def fast() -> Iterator[Served]:
    yield from start_served(http_time_scale_pct=int(SCALE * 100))


def status_of(c: consul.Consul, check_id: str) -> str:
    return str(c.agent.checks()[check_id]["Status"])


def test_overdue_is_decided_by_the_time_given() -> None:
    ttl = Check("n", "a", status="passing", ttl_ms=1000, deadline_ms=5000)
    static = Check("n", "b", status="passing")
    gone = Check("n", "c", status="critical", ttl_ms=1000, deadline_ms=10)
    assert overdue([ttl, static, gone], 4999) == []
    assert overdue([ttl, static, gone], 5000) == [ttl]


def test_agent_self_and_members(fast: Served) -> None:
    c = fast.consul()
    me = c.agent.self()
    assert me["Config"]["NodeName"] == "roost-0" and me["Config"]["Datacenter"] == "dc1"
    assert [m["Name"] for m in c.agent.members()] == ["roost-0"]
    wait_until(lambda: "roost-0" in [n["Node"] for n in c.catalog.nodes()[1]],
               what="the agent's node in the catalog")


def test_ttl_check_goes_critical_and_passes_again(fast: Served) -> None:
    c = fast.consul()
    assert c.agent.service.register("api", service_id="api-1", port=8080, tags=["v1"],
                                    check=consul.Check.ttl(TTL)) is True
    assert c.agent.services()["api-1"]["Port"] == 8080
    assert status_of(c, "service:api-1") == "critical"  # a TTL check starts critical
    _i, nodes = c.health.service("api", passing=True)
    assert nodes == []
    passed = time.monotonic()  # before the request: the TTL restarts later
    c.agent.check.ttl_pass("service:api-1", "all good")
    check = c.agent.checks()["service:api-1"]
    assert check["Status"] == "passing" and check["Output"] == "all good"
    _i, nodes = c.health.service("api", passing=True)
    assert [n["Service"]["ID"] for n in nodes] == ["api-1"]
    # not updated within its TTL: critical, decided by the leader's timer
    wait_until(lambda: status_of(c, "service:api-1") == "critical", timeout=10,
               what="the TTL check to expire")
    assert time.monotonic() - passed >= 10 * SCALE - 0.05
    assert c.agent.checks()["service:api-1"]["Output"] == "TTL expired"
    assert c.health.service("api", passing=True)[1] == []
    c.agent.check.ttl_warn("service:api-1")
    assert status_of(c, "service:api-1") == "warning"
    c.agent.check.ttl_pass("service:api-1")
    assert status_of(c, "service:api-1") == "passing"
    assert c.agent.service.deregister("api-1") is True
    assert "api-1" not in c.agent.services()
    assert "service:api-1" not in c.agent.checks()


def test_health_query_blocks_until_the_check_changes(fast: Served) -> None:
    c = fast.consul()
    c.agent.service.register("blk", service_id="blk-1", check=consul.Check.ttl("600s"))
    index, nodes = c.health.service("blk")
    assert nodes[0]["Checks"][-1]["Status"] == "critical"

    def later() -> None:  # once the query is parked on the server
        wait_until(lambda: blocking_queries(fast.http_port), what="the health query to block")
        fast.consul().agent.check.ttl_pass("service:blk-1")

    assert blocking_queries(fast.http_port) == 0
    t = threading.Thread(target=later)
    started = time.monotonic()
    t.start()
    new_index, nodes = c.health.service("blk", index=index, wait="20s", passing=True)
    took = time.monotonic() - started
    t.join()
    assert took < 10, took
    assert int(new_index) > int(index)
    assert [n["Service"]["ID"] for n in nodes] == ["blk-1"]
    # a query at the current index (the pass and the instance's health update are written
    # by the time ttl_pass returns) waits out its wait when nothing changes
    current, _nodes = c.health.service("blk")
    started = time.monotonic()
    same, _nodes = c.health.service("blk", index=current, wait="1s")
    assert same == current and time.monotonic() - started >= 0.9
    c.agent.service.deregister("blk-1")


def test_session_invalidated_by_its_failing_check(fast: Served) -> None:
    c = fast.consul()
    c.agent.check.register("lease", check=consul.Check.ttl("600s"))
    c.agent.check.ttl_pass("lease")
    sid = c.session.create(checks=["serfHealth", "lease"], lock_delay=0)
    _i, info = c.session.info(sid)
    assert info is not None and info["Checks"] == ["serfHealth", "lease"]
    key = f"guarded-{time.monotonic_ns()}"
    assert c.kv.put(key, b"mine", acquire=sid) is True
    c.agent.check.ttl_fail("lease", "disk full")
    assert c.session.info(sid)[1] is None
    _i, item = c.kv.get(key)
    assert item is not None and "Session" not in item  # released (Behavior release)
    # while the check is critical no new session may name it
    r = fast.put("/v1/session/create", b'{"Checks": ["lease"]}')
    assert r.status == 500 and b"critical" in r.body
    # a delete-behavior session bound to a TTL check that expires: its key goes
    c.agent.check.ttl_pass("lease")
    c.agent.check.register("short", check=consul.Check.ttl(TTL))
    c.agent.check.ttl_pass("short")
    eph = c.session.create(checks=["short"], behavior="delete", lock_delay=0)
    assert c.kv.put(key + "-eph", b"x", acquire=eph) is True
    wait_until(lambda: c.session.info(eph)[1] is None, timeout=10,
               what="the session to end with its TTL check")
    assert c.kv.get(key + "-eph")[1] is None
    c.agent.check.deregister("lease")
    c.agent.check.deregister("short")


def test_catalog_register_and_deregister(fast: Served) -> None:
    c = fast.consul()
    assert c.catalog.register(
        "db-host", "10.1.2.3", service={"Service": "db", "ID": "db-1", "Port": 5432,
                                        "Tags": ["primary"]},
        check={"CheckID": "db-alive", "Name": "db alive", "Status": "passing",
               "ServiceID": "db-1"}) is True
    assert c.catalog.register("db-host", "10.1.2.3",
                              service={"Service": "db", "ID": "db-2", "Port": 5433}) is True
    _i, nodes = c.catalog.nodes()
    assert {"Node": "db-host", "Address": "10.1.2.3"}.items() <= next(
        n for n in nodes if n["Node"] == "db-host").items()
    _i, services = c.catalog.services()
    assert services["db"] == ["primary"]
    _i, entries = c.catalog.service("db")
    assert sorted((e["ServiceID"], e["ServicePort"]) for e in entries) == [
        ("db-1", 5432), ("db-2", 5433)]
    _i, tagged = c.catalog.service("db", tag="primary")
    assert [e["ServiceID"] for e in tagged] == ["db-1"]
    _i, node = c.catalog.node("db-host")
    assert node is not None and set(node["Services"]) == {"db-1", "db-2"}
    _i, checks = c.health.node("db-host")
    assert [ch["CheckID"] for ch in checks] == ["db-alive"]
    _i, checks = c.health.checks("db")
    assert [ch["CheckID"] for ch in checks] == ["db-alive"]
    _i, passing = c.health.state("passing")
    assert "db-alive" in [ch["CheckID"] for ch in passing]
    held = c.session.create(node="db-host", checks=[], lock_delay=0)
    assert c.catalog.deregister("db-host", service_id="db-2") is True
    assert [e["ServiceID"] for e in c.catalog.service("db")[1]] == ["db-1"]
    assert c.session.info(held)[1] is not None
    assert c.catalog.deregister("db-host") is True
    assert c.session.info(held)[1] is None  # a node's sessions end with it
    assert c.catalog.service("db")[1] == []
    assert c.catalog.node("db-host")[1] is None
    assert "db-host" not in [n["Node"] for n in c.catalog.nodes()[1]]


def test_bad_registrations_and_unserved_endpoints(fast: Served) -> None:
    c = fast.consul()
    with pytest.raises(consul.ConsulException):  # py-consul raises on the 5xx
        c.agent.maintenance(True)
    r = fast.get("/v1/acl/tokens")
    assert r.status == 501 and b"roost does not serve GET /v1/acl/tokens" in r.body
    r = fast.put("/v1/agent/service/register",
                 b'{"Name": "x", "Check": {"HTTP": "http://x", "Interval": "10s"}}')
    assert r.status == 400 and b"TTL check" in r.body
    r = fast.put("/v1/agent/check/pass/no-such-check")
    assert r.status == 404 and b"Unknown check ID" in r.body
    assert fast.put("/v1/catalog/register", b'{"Node": "n"}').status == 400
    assert fast.get("/v1/health/state/sideways").status == 400
    assert fast.get("/v1/kv/missing-key").status == 404  # KV keeps its 404
    r = fast.get("/v1/txn")  # a served path with another method
    assert r.status == 405 and "PUT" in r.headers["Allow"]


BAD_BODIES = [b"", b"null", b"[]", b"{", b'"x"', b"1", b'{"Name": 5}',
              b'{"Name": "a", "Port": "x"}',
              b'{"Name": "a", "Port": 99999}', b'{"Name": "a", "Tags": "x"}',
              b'{"Name": "a", "Meta": [1]}', b'{"Name": "a", "Check": {"TTL": "bogus"}}',
              b'{"Name": "a", "Check": [1]}', b'{"Name": "a", "Checks": {"a": 1}}',
              b'{"Name": "a", "Check": {"TTL": "1e400"}}',
              b'{"Name": "a", "Check": {"TTL": "nan"}}',
              b'{"Name": "a", "Check": {"TTL": "1s", "Status": "weird"}}',
              b'{"Node": "n", "Address": "a", "Service": {"Service": "x", "Port": 1e400}}',
              b'{"Node": "n", "Address": "a", "Checks": [{"CheckID": "c", "ServiceID": "no"}]}',
              b'{"Node": "n", "Address": "a", "NodeMeta": [1]}', b'{"Node": ["x"], "Address": "a"}',
              b'{"Node": "n", "Address": "a", "Check": {"CheckID": 5}}', b'{"Status": 5}',
              b'{"Status": "passing", "Output": 7}', b'{"Node": "n", "ServiceID": 3}']


def test_bad_bodies_are_400_and_change_nothing(fast: Served) -> None:
    c = fast.consul()
    wait_until(lambda: "roost-0" in [n["Node"] for n in c.catalog.nodes()[1]],
               what="the agent's node in the catalog")
    before = (c.catalog.services()[1], c.health.state("any")[1], c.catalog.nodes()[1])
    paths = ["/v1/agent/service/register", "/v1/agent/check/register", "/v1/catalog/register",
             "/v1/agent/check/update/serfHealth"]
    for path in paths:
        for body in BAD_BODIES:
            r = fast.put(path, body)
            assert r.status == 400, (path, body, r.status, r.body)
    assert (c.catalog.services()[1], c.health.state("any")[1], c.catalog.nodes()[1]) == before


def test_ttl_expiry_in_simulated_time(fast: Served) -> None:
    """The leader's timer is `Registry.expire_ttl(now_ms)`: given the time, a check expires
    exactly at its stored deadline, however much real time passed."""
    srv, loop = fast.server.server, fast.server._loop
    api = http_api(srv) if srv is not None else None
    assert api is not None and loop is not None
    registry = api.registry
    c = fast.consul()
    c.agent.check.register("sim", check=consul.Check.ttl("600s"))  # 60 s here
    c.agent.check.ttl_pass("sim")
    check = registry.check("roost-0", "sim")
    assert check is not None and check.status == "passing"

    def expire_at(now_ms: int) -> int:
        return asyncio.run_coroutine_threadsafe(registry.expire_ttl(now_ms), loop).result(10)

    assert expire_at(check.deadline_ms - 1) == 0
    assert status_of(c, "sim") == "passing"
    assert expire_at(check.deadline_ms) == 1
    assert status_of(c, "sim") == "critical"
    assert c.agent.checks()["sim"]["Output"] == "TTL expired"
    assert expire_at(check.deadline_ms + 10**9) == 0  # critical already: nothing to do
    c.agent.check.deregister("sim")
