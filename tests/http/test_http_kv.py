"""The KV API through py-consul (unmodified) and plain HTTP on a standalone server."""

from __future__ import annotations

import base64
import threading
import time

import consul
import pytest
from conftest import Served
from kazoo.client import KazooClient

from roost.http.envelope import decode
from roost.node import http_api
from roost.testing.wait import wait_until


def test_crud_with_py_consul(served: Served, prefix: str) -> None:
    c = served.consul()
    key = prefix + "config/db"
    assert c.kv.put(key, b"postgres://a", flags=42) is True
    index, item = c.kv.get(key)
    assert item is not None
    assert item["Value"] == b"postgres://a" and item["Flags"] == 42 and item["Key"] == key
    assert item["CreateIndex"] == item["ModifyIndex"] == int(index)
    assert "Session" not in item and item["LockIndex"] == 0
    assert c.kv.put(key, b"postgres://b") is True
    _i, item2 = c.kv.get(key)
    assert item2 is not None and item2["Value"] == b"postgres://b"
    assert item2["ModifyIndex"] > item["ModifyIndex"] and item2["Flags"] == 0
    assert item2["CreateIndex"] == item["CreateIndex"]
    assert c.kv.delete(key) is True
    _i, gone = c.kv.get(key)
    assert gone is None
    assert c.kv.delete(key) is True  # deleting a missing key is fine, as Consul's


def test_empty_value_and_raw(served: Served, prefix: str) -> None:
    c = served.consul()
    assert c.kv.put(prefix + "empty", b"") is True
    _i, item = c.kv.get(prefix + "empty")
    assert item is not None and item["Value"] is None
    c.kv.put(prefix + "bin", bytes(range(256)))
    r = served.get(f"/v1/kv/{prefix}bin?raw")
    assert r.status == 200 and r.body == bytes(range(256))
    assert int(r.headers["X-Consul-Index"]) >= 1


def test_missing_key_is_404_with_an_index(served: Served, prefix: str) -> None:
    r = served.get(f"/v1/kv/{prefix}nope")
    assert r.status == 404 and int(r.headers["X-Consul-Index"]) >= 1
    assert served.get("/v1/kv/a//b").status == 400
    assert served.get("/v1/kv/").status == 400


def test_cas(served: Served, prefix: str) -> None:
    c = served.consul()
    key = prefix + "counter"
    assert c.kv.put(key, b"1", cas=0) is True  # create only if absent
    assert c.kv.put(key, b"1", cas=0) is False
    _i, item = c.kv.get(key)
    assert item is not None
    mod = item["ModifyIndex"]
    assert c.kv.put(key, b"2", cas=mod + 1000) is False
    assert c.kv.put(key, b"2", cas=mod) is True
    assert c.kv.put(key, b"3", cas=mod) is False  # the index moved on
    _i, item = c.kv.get(key)
    assert item is not None and item["Value"] == b"2"
    assert c.kv.delete(key, cas=mod) is False
    assert c.kv.delete(key, cas=item["ModifyIndex"]) is True
    _i, item = c.kv.get(key)
    assert item is None


def test_concurrent_cas_increments_lose_nothing(served: Served, prefix: str) -> None:
    key = prefix + "n"
    served.consul().kv.put(key, b"0")
    per_thread, threads = 15, 3

    def bump() -> None:
        c = served.consul()
        done = 0
        while done < per_thread:
            _i, item = c.kv.get(key)
            assert item is not None
            if c.kv.put(key, str(int(item["Value"]) + 1).encode(), cas=item["ModifyIndex"]):
                done += 1

    ts = [threading.Thread(target=bump) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    _i, item = served.consul().kv.get(key)
    assert item is not None and int(item["Value"]) == per_thread * threads


def test_recurse_keys_and_separator(served: Served, prefix: str) -> None:
    c = served.consul()
    for k in ("svc/a", "svc/b/x", "svc/b/y", "svcx", "other/z"):
        c.kv.put(prefix + k, k.encode())
    _i, items = c.kv.get(prefix + "svc", recurse=True)
    assert items is not None
    assert [i["Key"] for i in items] == [prefix + k for k in ("svc/a", "svc/b/x", "svc/b/y",
                                                               "svcx")]
    assert [i["Value"] for i in items] == [b"svc/a", b"svc/b/x", b"svc/b/y", b"svcx"]
    _i, keys = c.kv.get(prefix + "svc/", keys=True)
    assert keys == [prefix + "svc/a", prefix + "svc/b/x", prefix + "svc/b/y"]
    _i, keys = c.kv.get(prefix, keys=True, separator="/")
    assert keys == [prefix + "other/", prefix + "svc/", prefix + "svcx"]
    assert c.kv.delete(prefix + "svc/", recurse=True) is True
    _i, keys = c.kv.get(prefix, keys=True)
    assert keys == [prefix + "other/z", prefix + "svcx"]


def test_folder_keys(served: Served, prefix: str) -> None:
    c = served.consul()
    c.kv.put(prefix + "dir/", None)
    c.kv.put(prefix + "dir/child", b"c")
    _i, keys = c.kv.get(prefix, keys=True)
    assert keys == [prefix + "dir/", prefix + "dir/child"]
    _i, item = c.kv.get(prefix + "dir/")
    assert item is not None and item["Key"] == prefix + "dir/"
    _i, plain = c.kv.get(prefix + "dir")
    assert plain is None


def _blocking_get(served: Served, key: str, index: str, wait: str,
                  out: dict[str, object]) -> None:
    started = time.monotonic()
    out["result"] = served.consul().kv.get(key, index=index, wait=wait)
    out["seconds"] = time.monotonic() - started


def _waiting(served: Served) -> int:
    srv = served.server.server
    api = http_api(srv) if srv is not None else None
    assert api is not None
    return int(api.changes.waiting)


def test_blocking_query_wakes_on_change(served: Served, prefix: str) -> None:
    c = served.consul()
    key = prefix + "watched"
    c.kv.put(key, b"v1")
    index, _item = c.kv.get(key)
    out: dict[str, object] = {}
    t = threading.Thread(target=_blocking_get, args=(served, key, index, "20s", out))
    t.start()
    wait_until(lambda: _waiting(served) >= 1, what="the blocking query to wait")
    c.kv.put(prefix + "unrelated", b"x")  # another key: the query keeps waiting
    c.kv.put(key, b"v2")
    t.join(20)
    new_index, item = out["result"]  # type: ignore[misc]
    assert int(new_index) > int(index)
    assert item["Value"] == b"v2"
    assert float(out["seconds"]) < 10  # type: ignore[arg-type]


def test_blocking_query_on_prefix_wakes_on_delete(served: Served, prefix: str) -> None:
    c = served.consul()
    c.kv.put(prefix + "p/a", b"1")
    c.kv.put(prefix + "p/b", b"2")
    index, items = c.kv.get(prefix + "p/", recurse=True)
    assert items is not None and len(items) == 2
    out: dict[str, object] = {}

    def run() -> None:
        out["result"] = served.consul().kv.get(prefix + "p/", recurse=True, index=index,
                                               wait="20s")

    t = threading.Thread(target=run)
    t.start()
    wait_until(lambda: _waiting(served) >= 1, what="the blocking query to wait")
    c.kv.delete(prefix + "p/a")
    t.join(20)
    new_index, items = out["result"]  # type: ignore[misc]
    assert int(new_index) > int(index)
    assert [i["Key"] for i in items] == [prefix + "p/b"]


def test_blocking_query_times_out_without_change(served: Served, prefix: str) -> None:
    c = served.consul()
    key = prefix + "still"
    c.kv.put(key, b"same")
    index, _item = c.kv.get(key)
    out: dict[str, object] = {}
    _blocking_get(served, key, index, "1s", out)
    new_index, item = out["result"]  # type: ignore[misc]
    assert new_index == index and item["Value"] == b"same"
    assert 0.9 <= float(out["seconds"]) < 5  # type: ignore[arg-type]


def test_same_data_through_zookeeper(served: Served, prefix: str) -> None:
    c = served.consul()
    c.kv.put(prefix + "shared", b"from-http", flags=7)
    zk = KazooClient(hosts=served.server.hosts)
    zk.start(timeout=10)
    try:
        data, stat = zk.get(f"/kv/{prefix}shared")
        entry = decode(data)
        assert entry is not None and entry.value == b"from-http" and entry.flags == 7
        _i, item = c.kv.get(prefix + "shared")
        assert item is not None and item["ModifyIndex"] == stat.mzxid
        assert item["CreateIndex"] == stat.czxid
        zk.create(f"/kv/{prefix}from-zk", b"plain")
        _i, item = c.kv.get(prefix + "from-zk")
        assert item is not None and item["Value"] == b"plain" and item["Flags"] == 0
    finally:
        zk.stop()
        zk.close()


def test_token_maps_to_a_digest_identity(served: Served, prefix: str) -> None:
    from kazoo.security import make_digest_acl

    zk = KazooClient(hosts=served.server.hosts)
    zk.start(timeout=10)
    try:
        zk.ensure_path(f"/kv/{prefix.rstrip('/')}")
        acl = [make_digest_acl("alice", "pw", all=True)]
        zk.create(f"/kv/{prefix}secret", b"s3cret", acl=acl)
    finally:
        zk.stop()
        zk.close()
    anon, alice, bob = served.consul(), served.consul("alice:pw"), served.consul("bob:pw")
    with pytest.raises(consul.ACLPermissionDenied):
        anon.kv.get(prefix + "secret")
    with pytest.raises(consul.ACLPermissionDenied):
        bob.kv.put(prefix + "secret", b"x")
    _i, item = alice.kv.get(prefix + "secret")
    assert item is not None and item["Value"] == b"s3cret"
    assert alice.kv.put(prefix + "secret", b"new") is True
    _i, keys = anon.kv.get(prefix, keys=True)
    assert keys is None  # listing skips keys the token may not read
    superuser = served.consul("super:secret")
    _i, item = superuser.kv.get(prefix + "secret")
    assert item is not None and item["Value"] == b"new"
    r = served.get(f"/v1/kv/{prefix}secret", headers={"X-Consul-Token": "no-colon"})
    assert r.status == 403


def test_body_is_json_with_consul_field_names(served: Served, prefix: str) -> None:
    served.put(f"/v1/kv/{prefix}j?flags=3", b"val")
    r = served.get(f"/v1/kv/{prefix}j")
    assert r.status == 200 and r.headers["Content-Type"].startswith("application/json")
    [item] = r.json()  # type: ignore[misc]
    assert set(item) == {"LockIndex", "Key", "Flags", "Value", "CreateIndex", "ModifyIndex"}
    assert base64.b64decode(item["Value"]) == b"val" and item["Flags"] == 3
    assert served.put(f"/v1/kv/{prefix}j?cas=1").body == b"false"
