"""On a 3-member ensemble: the seed's leader election over HTTP (three services, one on
each member), then the dashboard in headless Chromium through a leader failure."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import consul
import pytest
from conftest import http
from kazoo.client import KazooClient
from promql import exported_names, expressions, metric_names

from roost.testing.ensemble import RoostEnsemble
from roost.testing.wait import wait_until

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "roost.json"
SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
TTL = 10
#: the members run Consul's durations at half speed (http_time_scale_pct): a 10 s TTL is 5 s
SCALE = 0.5
LOCK_DELAY = 1
KEY = "service/leader"


@pytest.fixture(scope="module")
def ens() -> Iterator[RoostEnsemble]:
    with RoostEnsemble(3, subprocess=True, http=True, fsync=False,
                       http_time_scale_pct=int(SCALE * 100)) as e:
        yield e


def client(ens: RoostEnsemble, i: int) -> consul.Consul:
    return consul.Consul(host="127.0.0.1", port=ens.http_ports[i])


def test_status_on_every_member(ens: RoostEnsemble) -> None:
    leader = ens.members[ens.leader()]
    want = f"127.0.0.1:{leader.peer_port}"
    for i in range(3):
        wait_until(lambda i=i: client(ens, i).status.leader() == want, what="status/leader")
        assert len(client(ens, i).status.peers()) == 3


def test_grafana_dashboard_names_only_exported_metrics(ens: RoostEnsemble) -> None:
    """Every metric a PromQL expression of docs/grafana/roost.json selects is exported by
    a live ensemble (all three members' /metrics, after some traffic)."""
    zk = KazooClient(hosts=ens.hosts_of(0))
    zk.start(timeout=15)
    try:
        zk.ensure_path("/grafana")
        zk.get("/grafana")
    finally:
        zk.stop()
        zk.close()
    exported: set[str] = set()
    for port in ens.http_ports:
        r = http("GET", f"http://127.0.0.1:{port}/metrics")
        assert r.status == 200
        exported |= exported_names(r.body.decode())
    assert {"roost_raft_follower_lag", "roost_read_seconds_bucket", "process_cpu_seconds_total",
            "roost_build_info"} <= exported
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = list(expressions(dashboard))
    assert len(exprs) >= 20
    used = {name: expr for expr in exprs for name in metric_names(expr)}
    assert len(used) >= 20
    missing = {name: expr for name, expr in used.items() if name not in exported}
    assert missing == {}


def test_follower_dashboard_shows_the_leaders_replication_view(ens: RoostEnsemble) -> None:
    leader = ens.leader()
    lid = ens.members[leader].id
    follower = next(i for i in range(3) if i != leader)

    def view() -> dict[str, object]:
        r = http("GET", f"http://127.0.0.1:{ens.http_ports[follower]}/ui/api/cluster")
        out = r.json()
        assert r.status == 200 and isinstance(out, dict)
        return out

    wait_until(lambda: view().get("replication_from") == lid, what="the leader's view")
    members = view()["members"]
    assert isinstance(members, list)
    others = [m for m in members if m["id"] != lid]
    assert len(others) == 2
    assert all(isinstance(m["lag"], int) and m["lag"] >= 0 for m in others)
    assert all(m["active"] is True for m in others)
    assert [m["role"] for m in members if m["id"] == lid] == ["leader"]


def test_leader_election_with_sessions(ens: RoostEnsemble) -> None:
    services = [client(ens, i) for i in range(3)]
    sessions = [c.session.create(name=f"svc{i}", ttl=TTL, lock_delay=LOCK_DELAY)
                for i, c in enumerate(services)]
    start = threading.Barrier(3)
    won: list[bool] = [False] * 3

    def race(i: int) -> None:
        start.wait(10)
        won[i] = services[i].kv.put(KEY, f"svc{i}".encode(), acquire=sessions[i])

    threads = [threading.Thread(target=race, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert won.count(True) == 1, won
    w = won.index(True)
    # every member reads the same holder
    for c in services:
        _i, item = c.kv.get(KEY)
        assert item is not None and item["Session"] == sessions[w]
        assert item["Value"] == f"svc{w}".encode()
    # every service renews every TTL/2 through its own member; the winner stays leader
    # past twice the TTL, then stops renewing
    renewing = {0, 1, 2}
    last_renew = [time.monotonic()] * 3
    done = threading.Event()

    def renew() -> None:
        while not done.is_set():
            for i in sorted(renewing):
                services[i].session.renew(sessions[i])
                last_renew[i] = time.monotonic()
            done.wait(TTL * SCALE / 2)

    renewer = threading.Thread(target=renew)
    renewer.start()
    try:
        held_until = time.monotonic() + 2 * TTL * SCALE + 1
        losers = [i for i in range(3) if i != w]
        while time.monotonic() < held_until:
            for i in losers:
                assert services[i].kv.put(KEY, b"me", acquire=sessions[i]) is False
            done.wait(0.5)
        renewing.discard(w)
        stopped = last_renew[w]
        new_winner: list[int] = []

        def someone_wins() -> bool:
            for i in losers:
                if services[i].kv.put(KEY, f"svc{i}".encode(), acquire=sessions[i]):
                    new_winner.append(i)
                    return True
            return False

        expiry = 2 * TTL * SCALE  # Consul invalidates after twice the TTL
        wait_until(someone_wins, timeout=expiry + LOCK_DELAY + 10, what="a new leader")
        took = time.monotonic() - stopped
        # not before 2 x TTL and the lock-delay ran out; soon after (expiry is checked a
        # few times a second; the rest is request round trips on a busy machine)
        assert expiry + LOCK_DELAY - 0.5 <= took <= expiry + LOCK_DELAY + 4, took
        n = new_winner[0]
        _i, item = services[w].kv.get(KEY)
        assert item is not None and item["Session"] == sessions[n] and item["LockIndex"] == 2
        _i, info = services[n].session.info(sessions[w])
        assert info is None
        for i in losers:
            services[i].session.destroy(sessions[i])
    finally:
        done.set()
        renewer.join(10)


def test_dashboard_in_a_browser(ens: RoostEnsemble) -> None:
    from playwright.sync_api import sync_playwright

    leader = ens.leader()
    viewer = next(i for i in range(3) if i != leader)
    zk = KazooClient(hosts=ens.hosts_of(viewer))
    zk.start(timeout=15)
    zk.ensure_path("/browser-test")
    zk.create("/browser-test/greeting", b"hello from kazoo")
    shots = SHOTS
    shots.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots in {shots}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on("dialog", lambda d: d.accept())
            page.goto(f"http://127.0.0.1:{ens.http_ports[viewer]}/ui")
            leader_id = ens.members[leader].id
            page.wait_for_function(
                f"document.getElementById('leader').textContent.startsWith('member {leader_id}')",
                timeout=15000)
            page.fill("#path", "/browser-test")
            page.click("#goto button")
            page.click("#tree .name:text-is('greeting')")
            page.wait_for_function(
                "document.getElementById('znode-data').textContent === 'hello from kazoo'",
                timeout=10000)
            assert page.evaluate("location.hash") == "#/browser-test/greeting"
            page.fill("#edit-data", "edited in the browser")
            page.click("#set-btn")
            page.click("#confirm-set")
            page.wait_for_function(
                "document.getElementById('znode-data').textContent === 'edited in the browser'",
                timeout=10000)
            # a follower's page charts each follower's lag, as the leader reports it
            page.wait_for_function(
                "document.querySelectorAll('#chart-lag circle').length === 2"
                " && document.querySelectorAll('#chart-ops path').length > 0", timeout=15000)
            page.screenshot(path=str(shots / "ensemble-1-edited.png"), full_page=True)
            zk.sync("/browser-test/greeting")
            data, _stat = zk.get("/browser-test/greeting")
            assert data == b"edited in the browser"
            ens.kill(leader)
            page.wait_for_function(
                "(() => { const t = document.getElementById('leader').textContent;"
                f" return t.startsWith('member ') && !t.startsWith('member {leader_id} '); }})()",
                timeout=30000)
            page.screenshot(path=str(shots / "ensemble-2-new-leader.png"), full_page=True)
            shown = page.inner_text("#leader")
        finally:
            browser.close()
            zk.stop()
            zk.close()
    new_leader = ens.leader(exclude=(leader,))
    assert shown.startswith(f"member {ens.members[new_leader].id} ")
    assert (shots / "ensemble-1-edited.png").stat().st_size > 10_000
    assert (shots / "ensemble-2-new-leader.png").stat().st_size > 10_000


def test_not_ready_without_a_majority(ens: RoostEnsemble) -> None:
    """Runs last: after the browser test's kill, stop one more member; the one left has no
    leader, so /ready answers 503 and /v1/status/leader an empty string."""
    alive = [i for i in range(3) if ens.running[i]]
    assert len(alive) == 2
    ens.kill(alive[0])
    last = alive[1]
    url = f"http://127.0.0.1:{ens.http_ports[last]}"
    wait_until(lambda: http("GET", url + "/ready").status == 503, timeout=20,
               what="/ready to fail")
    assert http("GET", url + "/health").status == 200
    wait_until(lambda: http("GET", url + "/v1/status/leader").json() == "", timeout=20,
               what="no leader")
    r = http("GET", url + "/v1/kv/anything?stale")
    assert r.status == 404  # stale reads are still served from the member's copy
