"""Node operations, Stat, create modes, typed errors, transactions and multiRead."""

from __future__ import annotations

import asyncio

import pytest

from roost.client import (
    BadArgumentsError,
    BadVersionError,
    ClientClosedError,
    ClientState,
    KeeperError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    RuntimeInconsistencyError,
    StateChange,
    SyncClient,
)
from roost.client.errors import ERRORS, error_for
from roost.testing.wait import wait_until_async
from roost.wire.errors import Err

from .helpers import Env


async def test_create_get_set_delete_round_trip(env: Env) -> None:
    zk = await env.client()
    assert await zk.create("/n", b"hello") == "/n"
    data, stat = await zk.get("/n")
    assert data == b"hello"
    assert (stat.version, stat.dataLength, stat.numChildren, stat.ephemeralOwner) == (0, 5, 0, 0)
    assert stat.czxid == stat.mzxid > 0
    stat2 = await zk.set("/n", b"bye!")
    assert stat2.version == 1 and stat2.mzxid > stat.mzxid and stat2.czxid == stat.czxid
    assert (await zk.get("/n"))[0] == b"bye!"
    await zk.delete("/n", version=1)
    assert await zk.exists("/n") is None


async def test_null_and_empty_data_stay_distinct(env: Env) -> None:
    zk = await env.client()
    await zk.create("/null", None)
    await zk.create("/empty", b"")
    assert (await zk.get("/null"))[0] is None
    assert (await zk.get("/empty"))[0] == b""


async def test_children_and_stat(env: Env) -> None:
    zk = await env.client()
    await zk.create("/p")
    for name in ("c", "a", "b"):
        await zk.create(f"/p/{name}")
    assert sorted(await zk.children("/p")) == ["a", "b", "c"]
    names, stat = await zk.children_with_stat("/p")
    assert sorted(names) == ["a", "b", "c"] and stat.numChildren == 3 and stat.cversion == 3
    assert await zk.children("/p/a") == []


async def test_sequential_ephemeral_and_make_parents(env: Env) -> None:
    zk = await env.client()
    first = await zk.create("/q/job-", b"1", sequence=True, make_parents=True)
    second = await zk.create("/q/job-", b"2", sequence=True)
    assert (first, second) == ("/q/job-0000000000", "/q/job-0000000001")
    eph = await zk.create("/q/me", ephemeral=True)
    stat = await zk.exists(eph)
    assert stat is not None and stat.ephemeralOwner == zk.session_id
    assert await zk.ephemerals("/q") == ["/q/me"]
    deep = await zk.create("/x/y/z", b"deep", make_parents=True)
    assert deep == "/x/y/z" and (await zk.get("/x/y"))[0] == b""


async def test_container_and_ttl_nodes(env: Env) -> None:
    zk = await env.client()
    assert await zk.create("/box", container=True) == "/box"
    stat = await zk.exists("/box")
    assert stat is not None and stat.ephemeralOwner == 0
    assert await zk.create("/ttl", b"t", ttl=60_000) == "/ttl"
    assert await zk.create("/ttl-", ttl=60_000, sequence=True) == "/ttl-0000000002"
    with pytest.raises(ValueError):
        await zk.create("/bad", container=True, ephemeral=True)
    with pytest.raises(ValueError):
        await zk.create("/bad", ttl=0)
    # A container goes away once it has had a child and is empty again (1 s sweep).
    await zk.create("/box/child")
    await zk.delete("/box/child")
    async def swept() -> bool:
        return await zk.exists("/box") is None

    await wait_until_async(swept, 15, interval=0.1, what="the container to be swept")


async def test_recursive_delete_and_descendant_count(env: Env) -> None:
    zk = await env.client()
    for p in ("/t/a/1", "/t/a/2", "/t/b/1/x", "/t/c"):
        await zk.create(p, make_parents=True)
    assert await zk.count_descendants("/t") == 7
    with pytest.raises(NotEmptyError):
        await zk.delete("/t")
    await zk.delete("/t", recursive=True)
    assert await zk.exists("/t") is None
    with pytest.raises(NoNodeError):
        await zk.delete("/t", recursive=True)


async def test_typed_errors(env: Env) -> None:
    zk = await env.client()
    with pytest.raises(NoNodeError) as e1:
        await zk.get("/missing")
    assert e1.value.code == Err.NO_NODE and e1.value.path == "/missing"
    assert str(e1.value) == "Node does not exist: /missing"
    await zk.create("/e", b"")
    with pytest.raises(NodeExistsError):
        await zk.create("/e")
    with pytest.raises(BadVersionError):
        await zk.set("/e", b"x", version=7)
    with pytest.raises(BadVersionError):
        await zk.delete("/e", version=3)
    await zk.create("/eph", ephemeral=True)
    with pytest.raises(NoChildrenForEphemeralsError):
        await zk.create("/eph/kid")
    with pytest.raises(BadArgumentsError):
        await zk.create("/bad\x01name")
    with pytest.raises(ValueError):
        await zk.get("relative")
    for exc in (NoNodeError, NodeExistsError, BadVersionError):
        assert issubclass(exc, KeeperError)


def test_error_table_covers_every_code() -> None:
    for code in Err:
        err = error_for(code, "/p")
        assert err.code == code and type(err) is ERRORS[code]
    unknown = error_for(-999, "/p")
    assert isinstance(unknown, KeeperError) and unknown.code == -999


async def test_transaction_commits_atomically(env: Env) -> None:
    zk = await env.client()
    await zk.create("/acct", b"0")
    results = await (
        zk.transaction().create("/acct/a", b"1").set("/acct", b"1").check("/acct", 1)
        .delete("/acct/a").commit()
    )
    assert results[0] == "/acct/a" and results[1].version == 1 and results[2:] == [True, True]
    txn = zk.transaction().create("/acct/b").set("/acct", b"2", version=99).create("/acct/c")
    with pytest.raises(BadVersionError) as exc:
        await txn.commit()
    res = exc.value.results
    assert res is not None
    assert isinstance(res[0], RolledBackError) and isinstance(res[2], RuntimeInconsistencyError)
    assert await zk.children("/acct") == []
    res2 = await zk.transaction().create("/acct").commit(raise_on_error=False)
    assert isinstance(res2[0], NodeExistsError)


async def test_multi_read(env: Env) -> None:
    zk = await env.client()
    await zk.create("/r", b"root")
    await zk.create("/r/k", b"kid")
    out = await zk.multi_read().get("/r").children("/r").get("/nope").execute()
    assert out[0][0] == b"root" and out[0][1].numChildren == 1
    assert out[1] == ["k"]
    assert isinstance(out[2], NoNodeError)


async def test_pipelining_1000_concurrent_requests(env: Env) -> None:
    zk = await env.client()
    await zk.create("/hot", b"v")
    results = await asyncio.gather(*(zk.get("/hot") for _ in range(1000)))
    assert len(results) == 1000 and all(d == b"v" for d, _ in results)
    # Writes are applied in send order: the last one wins, versions are 1..200.
    stats = await asyncio.gather(*(zk.set("/hot", str(i).encode()) for i in range(200)))
    assert [s.version for s in stats] == list(range(1, 201))
    assert (await zk.get("/hot"))[0] == b"199"


async def test_sync_and_who_am_i(env: Env) -> None:
    zk = await env.client()
    assert await zk.sync("/") == "/"
    ids = await zk.who_am_i()
    assert ("ip", "127.0.0.1") in ids and all(scheme != "digest" for scheme, _ in ids)
    authed = await env.client(auth=[("digest", "carol:pw")])
    assert ("digest", "carol") in await authed.who_am_i()


async def test_chroot_is_invisible_to_the_client(env: Env) -> None:
    zk = await env.client()
    root = await env.client(chroot=False)
    assert await zk.create("/c/seq-", sequence=True, make_parents=True) == "/c/seq-0000000000"
    assert await root.children(env.base + "/c") == ["seq-0000000000"]
    events: list[object] = []
    await zk.exists("/c/w", watch=events.append)
    await root.create(env.base + "/c/w")
    await wait_until_async(lambda: events, what="exists watch")
    assert [getattr(e, "path", None) for e in events] == ["/c/w"]
    assert await zk.sync("/c") == "/c"
    assert sorted(await zk.children("/")) == ["c"]


def test_runs_on_uvloop(env: Env) -> None:
    import uvloop

    async def body() -> None:
        try:
            zk = await env.client()
            await zk.create("/uv", b"fast")
            results = await asyncio.gather(*(zk.get("/uv") for _ in range(100)))
            assert {d for d, _ in results} == {b"fast"}
        finally:
            await env.aclose()

    uvloop.run(body())


def test_sync_facade_api(env: Env) -> None:
    changes: list[StateChange] = []
    zk = SyncClient(env.backend.hosts + env.base, session_timeout=10.0)
    zk.add_listener(changes.append)
    with SyncClient(env.backend.hosts) as root:
        root.ensure_path(env.base)
    with zk:
        assert zk.create("/s", b"1") == "/s"
        assert zk.set("/s", b"2").version == 1
        assert zk.get("/s")[0] == b"2"
        results = zk.transaction().create("/s/a").check("/s", 1).commit()
        assert results == ["/s/a", True]
        assert zk.multi_read().children("/s").get("/s/a").execute()[0] == ["a"]
        assert zk.children_with_stat("/s")[1].numChildren == 1
        assert zk.count_descendants("/") == 2 and zk.sync("/s") == "/s"
        assert 0 < zk.lease_remaining() <= 10
        zk.delete("/s", recursive=True)
        assert zk.exists("/s") is None
    assert [c.state for c in changes] == [ClientState.CONNECTED, ClientState.CLOSED]
    with pytest.raises(ClientClosedError):
        zk.get("/")
