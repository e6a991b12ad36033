"""Consul sessions timed as Consul times them: invalidation after twice the TTL without
renewal, LockDelay's default, node association and checks. The server runs Consul's
durations at 10% (http_time_scale_pct) so that a 10 s TTL takes 1 s here."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import consul
import pytest
from conftest import Served, start_served

from roost.http.sessions import (
    CRITICAL,
    SERF_CHECK,
    Settings,
    failed_check,
    parse_settings,
    timeout_ms,
)
from roost.testing.wait import wait_until

SCALE = 0.1
TTL = 10  # what the clients ask for (Consul's minimum); 1 s of real time here


@pytest.fixture(scope="module")
def fast() -> Iterator[Served]:
    yield from start_served(http_time_scale_pct=int(SCALE * 100))


def test_timeout_is_twice_the_ttl() -> None:
    s = parse_settings(b'{"TTL": "10s"}', "n1")
    assert timeout_ms(s) == 20_000
    assert timeout_ms(s, 0.1) == 2_000
    assert s.lock_delay_s == 15.0  # Consul's default LockDelay
    assert s.node == "n1" and s.node_checks == (SERF_CHECK,) and s.checks == ()
    explicit = parse_settings(b'{"Checks": [], "Node": "web-1"}', "n1")
    assert explicit.all_checks() == () and explicit.node == "web-1"
    both = parse_settings(
        b'{"NodeChecks": ["a"], "ServiceChecks": [{"ID": "b", "Namespace": ""}]}', "n")
    assert both.all_checks() == ("a", "b")
    with pytest.raises(ValueError):
        parse_settings(b'{"ServiceChecks": [{"Namespace": "x"}]}', "n")


def test_failed_check_rules() -> None:
    s = Settings("", "n", None, "release", 0.0, ("c1",), (SERF_CHECK,))
    statuses = {("n", "c1"): "passing"}
    assert failed_check(s, lambda n, c: statuses.get((n, c))) is None  # serfHealth implicit
    statuses[("n", SERF_CHECK)] = CRITICAL
    assert "serfHealth" in (failed_check(s, lambda n, c: statuses.get((n, c))) or "")
    statuses[("n", SERF_CHECK)] = "passing"
    del statuses[("n", "c1")]
    assert "Missing check 'c1'" in (failed_check(s, lambda n, c: statuses.get((n, c))) or "")


def test_ttl_is_a_lower_bound(fast: Served) -> None:
    c = fast.consul()
    created = time.monotonic()  # before the request: the session's clock starts later
    sid = c.session.create(ttl=TTL, lock_delay=0)
    _i, info = c.session.info(sid)
    assert info is not None and info["TTL"] == "10s" and info["Checks"] == [SERF_CHECK]
    # alive past the TTL (1 s here) ... (a window of 1.5 s is what is tested: polled)
    while time.monotonic() - created < 1.5 * TTL * SCALE:
        assert c.session.info(sid)[1] is not None
        time.sleep(0.05)
    # ... gone soon after twice the TTL
    wait_until(lambda: c.session.info(sid)[1] is None, timeout=5, what="invalidation")
    assert time.monotonic() - created >= 2 * TTL * SCALE - 0.05


def test_seed_election_losers_get_false(fast: Served) -> None:
    """The seed's election: three participants with TTL 10 s race for a key; the two losers
    keep retrying acquire for 20 s (twice the TTL) without ever renewing. Every retry must
    answer false, never `500 invalid session`."""
    services = [fast.consul() for _ in range(3)]
    created = time.monotonic()  # before the requests: the sessions' clocks start later
    sessions = [c.session.create(name=f"svc{i}", ttl=TTL) for i, c in enumerate(services)]
    key = f"election-{time.monotonic_ns()}/leader"
    start = threading.Barrier(3)
    won = [False] * 3

    def race(i: int) -> None:
        start.wait(10)
        won[i] = services[i].kv.put(key, f"svc{i}".encode(), acquire=sessions[i])

    threads = [threading.Thread(target=race, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert won.count(True) == 1, won
    w = won.index(True)
    losers = [i for i in range(3) if i != w]
    tries = 0
    # (from the creation: the race itself may take a while on a loaded machine)
    while time.monotonic() - created < 2 * TTL * SCALE * 0.9:
        services[w].session.renew(sessions[w])  # the leader renews; the losers never do
        for i in losers:
            assert services[i].kv.put(key, b"me", acquire=sessions[i]) is False
            tries += 1
        time.sleep(0.02)  # pacing the retries over the window (the window is what is tested)
    assert tries >= 10
    _i, item = services[0].kv.get(key)
    assert item is not None and item["Session"] == sessions[w]
    # past twice the TTL the losers' sessions are gone: now acquire is an error, as in Consul
    for i in losers:
        wait_until(lambda i=i: services[i].session.info(sessions[i])[1] is None, timeout=5,
                   what="the loser's session to end")
        with pytest.raises(consul.ConsulException, match="invalid session"):
            services[i].kv.put(key, b"me", acquire=sessions[i])
    services[w].session.destroy(sessions[w])


def test_ttl_expiry_releases_the_lock(fast: Served) -> None:
    c = fast.consul()
    started = time.monotonic()  # before the holder's session starts its clock
    holder = c.session.create(ttl=TTL, lock_delay=0)
    other = c.session.create(ttl=TTL * 10, lock_delay=0)
    key = f"ttl-{time.monotonic_ns()}/lock"
    assert c.kv.put(key, b"h", acquire=holder) is True
    index, _item = c.kv.get(key)
    assert c.kv.put(key, b"o", acquire=other) is False
    # the holder is never renewed: a blocking query sees the release after 2 x TTL
    new_index, item = c.kv.get(key, index=index, wait="30s")
    assert item is not None and "Session" not in item and int(new_index) > int(index)
    elapsed = time.monotonic() - started
    assert 2 * TTL * SCALE <= elapsed < 2 * TTL * SCALE + 5
    assert c.session.info(holder)[1] is None
    assert c.kv.put(key, b"o", acquire=other) is True
    c.session.destroy(other)


def test_session_on_a_missing_check_is_refused(fast: Served) -> None:
    r = fast.put("/v1/session/create", b'{"Checks": ["no-such-check"]}')
    assert r.status == 500 and b"Missing check 'no-such-check' registration" in r.body


def test_sessions_by_node(fast: Served) -> None:
    c = fast.consul()
    mine = c.session.create(node="worker-7", ttl=TTL * 10)
    _i, listed = c.session.node("worker-7")
    assert [s["ID"] for s in listed] == [mine]
    assert listed[0]["Node"] == "worker-7" and listed[0]["LockDelay"] == 15_000_000_000
    c.session.destroy(mine)
    assert c.session.node("worker-7")[1] == []
