"""Consul sessions, locks (acquire/release), lock-delay and TTL expiry on a standalone server."""

from __future__ import annotations

import time

import consul
import pytest
from conftest import Served

from roost.testing.wait import wait_until


def test_session_lifecycle(served: Served) -> None:
    c = served.consul()
    sid = c.session.create(name="worker", ttl=15, lock_delay=3, behavior="delete")
    _i, info = c.session.info(sid)
    assert info is not None
    assert info["ID"] == sid and info["Name"] == "worker" and info["TTL"] == "15s"
    assert info["Behavior"] == "delete" and info["LockDelay"] == 3_000_000_000
    assert info["CreateIndex"] >= 1
    _i, listed = c.session.list()
    assert sid in [s["ID"] for s in listed]
    renewed = c.session.renew(sid)
    assert renewed is not None and renewed["ID"] == sid
    assert c.session.destroy(sid) is True
    _i, info = c.session.info(sid)
    assert info is None
    with pytest.raises(consul.NotFound):
        c.session.renew(sid)
    _i, listed = c.session.list()
    assert sid not in [s["ID"] for s in listed]


def test_bad_session_requests(served: Served) -> None:
    assert served.put("/v1/session/create", b'{"TTL": "5s"}').status == 400
    assert served.put("/v1/session/create", b'{"Behavior": "nope"}').status == 400
    assert served.put("/v1/session/create", b"not json").status == 400
    assert served.put("/v1/session/renew/not-a-uuid").status == 400
    r = served.put("/v1/kv/k?acquire=00000000-0000-0000-0000-000000000001", b"x")
    assert r.status == 500 and b"invalid session" in r.body


def test_acquire_and_release(served: Served, prefix: str) -> None:
    c = served.consul()
    a = c.session.create(ttl=30, lock_delay=0)
    b = c.session.create(ttl=30, lock_delay=0)
    key = prefix + "lock"
    assert c.kv.put(key, b"a", acquire=a) is True
    assert c.kv.put(key, b"b", acquire=b) is False
    assert c.kv.put(key, b"a2", acquire=a) is True  # the holder may update
    _i, item = c.kv.get(key)
    assert item is not None
    assert item["Session"] == a and item["LockIndex"] == 1 and item["Value"] == b"a2"
    assert c.kv.put(key, b"x", release=b) is False  # not the holder
    assert c.kv.put(key, b"free", release=a) is True
    _i, item = c.kv.get(key)
    assert item is not None and "Session" not in item and item["Value"] == b"free"
    assert c.kv.put(key, b"b", acquire=b) is True  # explicit release: no lock-delay
    _i, item = c.kv.get(key)
    assert item is not None and item["Session"] == b and item["LockIndex"] == 2
    c.session.destroy(a)
    c.session.destroy(b)


def test_lock_delay_after_session_destroy(served: Served, prefix: str) -> None:
    c = served.consul()
    a = c.session.create(ttl=30, lock_delay=1)
    b = c.session.create(ttl=30, lock_delay=0)
    key = prefix + "delayed"
    assert c.kv.put(key, b"a", acquire=a) is True
    c.session.destroy(a)
    destroyed = time.monotonic()
    _i, item = c.kv.get(key)
    assert item is not None and "Session" not in item  # released at the session's end
    assert c.kv.put(key, b"b", acquire=b) is False  # ... but lock-delay holds it
    wait_until(lambda: c.kv.put(key, b"b", acquire=b), timeout=10, what="acquire after delay")
    assert time.monotonic() - destroyed >= 0.9
    _i, item = c.kv.get(key)
    assert item is not None and item["Session"] == b and item["LockIndex"] == 2
    c.session.destroy(b)


def test_delete_behavior_removes_held_keys(served: Served, prefix: str) -> None:
    c = served.consul()
    s = c.session.create(ttl=30, behavior="delete", lock_delay=0)
    assert c.kv.put(prefix + "eph", b"x", acquire=s) is True
    c.kv.put(prefix + "stays", b"y")
    c.session.destroy(s)
    _i, item = c.kv.get(prefix + "eph")
    assert item is None
    _i, keys = c.kv.get(prefix, keys=True)
    assert keys == [prefix + "stays"]
    tree = served.server.server.tree  # type: ignore[union-attr]
    wait_until(lambda: tree.get(f"/kv/{prefix}eph") is None, what="the sweep to delete it")


def test_sessions_by_node(served: Served) -> None:
    c = served.consul()
    mine = c.session.create(node="worker-7", ttl=20)
    other = c.session.create(ttl=20)
    _i, listed = c.session.node("worker-7")
    assert [s["ID"] for s in listed] == [mine]
    _i, default = c.session.node("roost-0")
    assert other in [s["ID"] for s in default] and mine not in [s["ID"] for s in default]
    c.session.destroy(mine)
    c.session.destroy(other)


def test_oversized_value_is_413(served: Served, prefix: str) -> None:
    limit = served.server.server.tree_config.max_data_bytes  # type: ignore[union-attr]
    assert served.put(f"/v1/kv/{prefix}big", b"x" * (limit - 60)).status == 200
    assert served.put(f"/v1/kv/{prefix}big", b"x" * (limit - 10)).status == 413
