"""/v1/txn with the KV verbs: atomic (one multi), Consul's result and error shapes."""

from __future__ import annotations

import asyncio
import base64
import json
import threading

import pytest
from conftest import Served
from consul.exceptions import ClientError

from roost.http.kv import KvApi
from roost.http.txn import KvOp, Planner, multi_error
from roost.node import http_api
from roost.wire.errors import Err
from roost.wire.multi import MultiRequest
from roost.wire.opcodes import Op


def b64(v: bytes) -> str:
    return base64.b64encode(v).decode()


def kv(verb: str, key: str, **fields: object) -> dict[str, object]:
    return {"KV": {"Verb": verb, "Key": key, **fields}}


def txn(served: Served, ops: list[dict[str, object]]) -> tuple[int, dict[str, object]]:
    r = served.put("/v1/txn", json.dumps(ops).encode())
    out = r.json()
    assert isinstance(out, dict), r.body
    return r.status, out


def test_sets_and_gets_apply_together(served: Served, prefix: str) -> None:
    c = served.consul()
    out = c.txn.put([kv("set", prefix + "a", Value=b64(b"1"), Flags=7),
                     kv("set", prefix + "b", Value=b64(b"2")),
                     kv("get", prefix + "a")])
    assert out["Errors"] is None
    (ra, rb, got) = [r["KV"] for r in out["Results"]]
    assert ra["Key"] == prefix + "a" and ra["Flags"] == 7 and ra["Value"] is None
    assert ra["ModifyIndex"] == rb["ModifyIndex"] == got["ModifyIndex"]  # one write
    assert got["Value"] == b64(b"1")
    _i, item = c.kv.get(prefix + "b")
    assert item is not None and item["Value"] == b"2"
    assert item["ModifyIndex"] == rb["ModifyIndex"]


def test_a_failed_check_rolls_everything_back(served: Served, prefix: str) -> None:
    c = served.consul()
    c.kv.put(prefix + "exists", b"x")
    c.kv.put(prefix + "other", b"y")
    status, out = txn(served, [kv("set", prefix + "new", Value=b64(b"1")),
                               kv("delete", prefix + "other"),
                               kv("check-not-exists", prefix + "exists")])
    assert status == 409
    assert out == {"Results": None,
                   "Errors": [{"OpIndex": 2, "What": f'key "{prefix}exists" exists'}]}
    assert c.kv.get(prefix + "new")[1] is None
    assert c.kv.get(prefix + "other")[1] is not None
    # verbs see what earlier verbs of the same transaction did
    status, out = txn(served, [kv("delete", prefix + "exists"),
                               kv("check-not-exists", prefix + "exists")])
    assert status == 200 and out["Results"] == []
    assert c.kv.get(prefix + "exists")[1] is None
    with pytest.raises(ClientError, match="409"):  # what py-consul makes of a 409
        c.txn.put([kv("get", prefix + "missing")])


def test_cas_check_index_and_delete_cas(served: Served, prefix: str) -> None:
    c = served.consul()
    c.kv.put(prefix + "k", b"v1")
    _i, item = c.kv.get(prefix + "k")
    assert item is not None
    idx = item["ModifyIndex"]
    status, out = txn(served, [kv("cas", prefix + "k", Value=b64(b"v2"), Index=idx - 1)])
    assert status == 409
    assert out["Errors"] == [{"OpIndex": 0,
                              "What": f'failed to set key "{prefix}k", index is stale'}]
    status, out = txn(served, [kv("check-index", prefix + "k", Index=idx + 1)])
    assert status == 409 and out["Errors"][0]["What"] == f"current modify index {idx} != {idx + 1}"
    status, out = txn(served, [kv("check-index", prefix + "k", Index=idx),
                               kv("cas", prefix + "k", Value=b64(b"v2"), Index=idx),
                               kv("cas", prefix + "fresh", Value=b64(b"f"), Index=0)])
    assert status == 200, out
    new_idx = out["Results"][1]["KV"]["ModifyIndex"]
    assert new_idx > idx
    status, out = txn(served, [kv("delete-cas", prefix + "k", Index=idx)])
    assert status == 409
    status, out = txn(served, [kv("delete-cas", prefix + "k", Index=new_idx),
                               kv("delete", prefix + "fresh")])
    assert status == 200 and out["Results"] == []
    assert c.kv.get(prefix, recurse=True)[1] is None


def test_lock_unlock_and_check_session(served: Served, prefix: str) -> None:
    c = served.consul()
    a = c.session.create(ttl=30, lock_delay=0)
    b = c.session.create(ttl=30, lock_delay=0)
    key = prefix + "lock"
    status, out = txn(served, [kv("lock", key, Value=b64(b"a"), Session=a),
                               kv("check-session", key, Session=a)])
    assert status == 200, out
    held = out["Results"][0]["KV"]
    assert held["Session"] == a and held["LockIndex"] == 1
    status, out = txn(served, [kv("lock", key, Value=b64(b"b"), Session=b)])
    assert status == 409
    assert out["Errors"][0]["What"] == f'failed to lock key "{key}", lock is already held'
    status, out = txn(served, [kv("unlock", key, Value=b64(b"x"), Session=b)])
    assert status == 409 and "lock isn't held" in out["Errors"][0]["What"]
    status, out = txn(served, [kv("check-session", key, Session=b)])
    assert status == 409 and "failed session check" in out["Errors"][0]["What"]
    status, out = txn(served, [kv("unlock", key, Value=b64(b"free"), Session=a),
                               kv("lock", key, Value=b64(b"b"), Session=b)])
    assert status == 200, out
    _i, item = c.kv.get(key)
    assert item is not None and item["Session"] == b and item["LockIndex"] == 2
    c.session.destroy(a)
    c.session.destroy(b)


def test_get_tree_and_delete_tree(served: Served, prefix: str) -> None:
    c = served.consul()
    for k in ("t/a", "t/b/c", "u"):
        c.kv.put(prefix + k, k.encode())
    status, out = txn(served, [kv("set", prefix + "t/new", Value=b64(b"n")),
                               kv("get-tree", prefix + "t/")])
    assert status == 200
    keys = [r["KV"]["Key"] for r in out["Results"][1:]]
    assert keys == [prefix + "t/a", prefix + "t/b/c", prefix + "t/new"]
    status, out = txn(served, [kv("delete-tree", prefix + "t/")])
    assert status == 200
    _i, left = c.kv.get(prefix, keys=True)
    assert left == [prefix + "u"]


def test_read_only_txn_carries_an_index(served: Served, prefix: str) -> None:
    served.consul().kv.put(prefix + "r", b"1")
    r = served.put("/v1/txn", json.dumps([kv("get", prefix + "r")]).encode())
    assert r.status == 200 and int(r.headers["X-Consul-Index"]) >= 1


def test_bad_transactions(served: Served, prefix: str) -> None:
    assert served.put("/v1/txn", b"{").status == 400
    assert served.put("/v1/txn", json.dumps([kv("frobnicate", "k")]).encode()).status == 400
    r = served.put("/v1/txn", json.dumps([{"Node": {"Verb": "get"}}]).encode())
    assert r.status == 400 and b"KV operations only" in r.body
    r = served.put("/v1/txn", json.dumps([kv("get", "k")] * 129).encode())
    assert r.status == 413 and b"too many operations" in r.body
    assert served.put("/v1/txn", json.dumps([kv("set", "k", Value="!!")]).encode()).status == 400


def test_concurrent_transactions_stay_atomic(served: Served, prefix: str) -> None:
    """Four threads move a unit between two keys with read-then-cas transactions; the sum
    never changes and every successful transfer is counted."""
    a, b = prefix + "acct-a", prefix + "acct-b"
    c = served.consul()
    c.txn.put([kv("set", a, Value=b64(b"100")), kv("set", b, Value=b64(b"0"))])
    moved = [0] * 4

    def worker(i: int) -> None:
        cl = served.consul()
        for _ in range(15):
            got = cl.txn.put([kv("get", a), kv("get", b)])["Results"]
            ra, rb = got[0]["KV"], got[1]["KV"]
            va = int(base64.b64decode(ra["Value"]))
            vb = int(base64.b64decode(rb["Value"]))
            status, _out = txn(served, [
                kv("cas", a, Value=b64(str(va - 1).encode()), Index=ra["ModifyIndex"]),
                kv("cas", b, Value=b64(str(vb + 1).encode()), Index=rb["ModifyIndex"])])
            assert status in (200, 409)
            moved[i] += status == 200

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    va = int(c.kv.get(a)[1]["Value"])
    vb = int(c.kv.get(b)[1]["Value"])
    assert va + vb == 100 and vb == sum(moved) > 0


def _plan(served: Served, ops: list[KvOp]) -> Planner:
    srv = served.server.server
    api = http_api(srv) if srv is not None else None
    assert srv is not None and api is not None
    kv_api = KvApi(srv, api.kv_root, api.sessions, api.changes, False)
    planner = Planner(kv_api, ())
    for op in ops:
        planner.apply(op)
    return planner


def _execute(served: Served, planner: Planner) -> int:
    srv = served.server.server
    loop = served.server._loop
    assert srv is not None and loop is not None

    async def run() -> int:
        _z, err, rec = await srv.execute(Op.MULTI, MultiRequest(tuple(planner.plan.writes)))
        return err or multi_error(rec)

    return asyncio.run_coroutine_threadsafe(run(), loop).result(30)


def test_a_plan_fails_when_what_it_read_changed(served: Served, prefix: str) -> None:
    """The multi guards what the plan read: a key found missing (check-not-exists) that is
    created before the multi applies, or a key read (get) that is changed, fail the multi,
    and nothing of it is written."""
    c = served.consul()
    c.kv.put(prefix + "read", b"1")
    absent = _plan(served, [KvOp("check-not-exists", prefix + "nope/deeper"),
                            KvOp("set", prefix + "w1", b"x")])
    read = _plan(served, [KvOp("get", prefix + "read"), KvOp("set", prefix + "w2", b"x")])
    c.kv.put(prefix + "nope/deeper", b"now it exists")
    c.kv.put(prefix + "read", b"2")
    assert _execute(served, absent) == Err.NODE_EXISTS
    assert _execute(served, read) == Err.BAD_VERSION
    assert c.kv.get(prefix + "w1")[1] is None and c.kv.get(prefix + "w2")[1] is None
    # unchanged, the same plans apply, and the guards leave nothing behind
    fresh = _plan(served, [KvOp("check-not-exists", prefix + "gone/deeper"),
                           KvOp("set", prefix + "w3", b"x")])
    assert _execute(served, fresh) == Err.OK
    assert c.kv.get(prefix + "w3")[1] is not None
    assert served.server.server.tree.get(f"/kv/{prefix}gone") is None  # type: ignore[union-attr]
