"""kazoo against both backends: CRUD, versions, errors, Stat fields, data and path rules."""

from __future__ import annotations

import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadArgumentsError,
    BadVersionError,
    NoAuthError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    ReconfigDisabledError,
)

from .conftest import Backend, ClientFactory

pytestmark = pytest.mark.compat


def now_ms() -> int:
    return int(time.time() * 1000)


def assert_in_window(value: int, start_ms: int, end_ms: int) -> None:
    # A few ms of slack: the JVM and Python read the same clock at different granularity.
    assert start_ms - 5 <= value <= end_ms + 5, (value, start_ms, end_ms)


def test_create_get_set_delete(zk: KazooClient) -> None:
    assert zk.create("/a", b"one") == "/a"
    data, stat = zk.get("/a")
    assert data == b"one"
    assert stat.version == 0
    stat2 = zk.set("/a", b"two")
    assert stat2.version == 1
    assert zk.get("/a")[0] == b"two"
    assert zk.exists("/a") == stat2
    zk.delete("/a")
    assert zk.exists("/a") is None
    with pytest.raises(NoNodeError):
        zk.get("/a")


def test_versions_are_enforced(zk: KazooClient) -> None:
    zk.create("/v", b"x")
    with pytest.raises(BadVersionError):
        zk.set("/v", b"y", version=3)
    assert zk.set("/v", b"y", version=0).version == 1
    assert zk.set("/v", b"z", version=-1).version == 2
    with pytest.raises(BadVersionError):
        zk.delete("/v", version=1)
    assert zk.get("/v")[0] == b"z"
    zk.delete("/v", version=2)
    assert zk.exists("/v") is None


def test_error_codes(zk: KazooClient) -> None:
    zk.create("/e", b"")
    with pytest.raises(NodeExistsError):
        zk.create("/e", b"")
    with pytest.raises(NoNodeError):
        zk.create("/missing/child", b"")
    with pytest.raises(NoNodeError):
        zk.set("/missing", b"")
    with pytest.raises(NoNodeError):
        zk.delete("/missing")
    with pytest.raises(NoNodeError):
        zk.get_children("/missing")
    zk.create("/e/kid", b"")
    with pytest.raises(NotEmptyError):
        zk.delete("/e")
    zk.create("/eph", b"", ephemeral=True)
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create("/eph/kid", b"")
    zk.delete("/e", recursive=True)
    assert zk.exists("/e") is None


def test_makepath_and_children(zk: KazooClient) -> None:
    zk.create("/p/q/r", b"deep", makepath=True)
    assert zk.get("/p/q/r")[0] == b"deep"
    for name in ("c", "a", "b"):
        zk.create(f"/p/{name}", b"")
    assert sorted(zk.get_children("/p")) == ["a", "b", "c", "q"]
    children, stat = zk.get_children("/p", include_data=True)
    assert sorted(children) == ["a", "b", "c", "q"]
    assert stat.numChildren == 4
    zk.ensure_path("/p/q/r")
    assert zk.exists("/p/q/r") is not None


def test_stat_after_create(zk: KazooClient) -> None:
    start = now_ms()
    zk.create("/s", b"hello")
    end = now_ms()
    _, st = zk.get("/s")
    assert st.czxid == st.mzxid == st.pzxid
    assert st.czxid > 0
    assert st.ctime == st.mtime
    assert_in_window(st.ctime, start, end)
    assert (st.version, st.cversion, st.aversion) == (0, 0, 0)
    assert st.ephemeralOwner == 0
    assert st.dataLength == 5
    assert st.numChildren == 0


def test_stat_after_set_data(zk: KazooClient) -> None:
    zk.create("/s", b"hello")
    _, before = zk.get("/s")
    start = now_ms()
    after = zk.set("/s", b"hello world")
    end = now_ms()
    assert after.version == 1
    assert after.mzxid > before.mzxid
    assert after.czxid == before.czxid
    assert after.pzxid == before.pzxid
    assert after.ctime == before.ctime
    assert_in_window(after.mtime, start, end)
    assert after.dataLength == 11
    # identical data still bumps the version and mzxid
    again = zk.set("/s", b"hello world")
    assert again.version == 2
    assert again.mzxid > after.mzxid


def test_parent_stat_tracks_children(zk: KazooClient) -> None:
    zk.create("/par", b"")
    p0 = zk.exists("/par")
    zk.create("/par/c1", b"")
    c1 = zk.exists("/par/c1")
    p1 = zk.exists("/par")
    assert p1.cversion == p0.cversion + 1
    assert p1.numChildren == 1
    assert p1.pzxid == c1.czxid
    assert p1.mzxid == p0.mzxid
    assert p1.version == p0.version
    assert p1.mtime == p0.mtime
    zk.create("/par/c2", b"")
    p2 = zk.exists("/par")
    assert p2.cversion == p0.cversion + 2
    assert p2.numChildren == 2
    # a child's setData does not touch the parent
    zk.set("/par/c1", b"changed")
    assert zk.exists("/par") == p2
    zk.delete("/par/c1")
    p3 = zk.exists("/par")
    assert p3.cversion == p0.cversion + 3  # deletes count too
    assert p3.numChildren == 1
    assert p3.pzxid > p2.pzxid
    assert p3.mzxid == p0.mzxid


def test_set_acls_bumps_only_aversion(zk: KazooClient) -> None:
    zk.create("/acl", b"x")
    before = zk.exists("/acl")
    acls, _ = zk.get_acls("/acl")
    after = zk.set_acls("/acl", acls)
    assert after.aversion == before.aversion + 1
    assert (after.version, after.cversion) == (before.version, before.cversion)
    assert (after.mzxid, after.mtime, after.pzxid) == (before.mzxid, before.mtime, before.pzxid)
    with pytest.raises(BadVersionError):
        zk.set_acls("/acl", acls, version=0)


def test_ephemeral_owner(zk: KazooClient) -> None:
    zk.create("/eph", b"", ephemeral=True)
    st = zk.exists("/eph")
    assert st.ephemeralOwner == zk.client_id[0]
    assert st.ephemeralOwner != 0


def test_null_and_empty_data(zk: KazooClient) -> None:
    zk.create("/null", None)
    data, st = zk.get("/null")
    assert data is None
    assert st.dataLength == 0
    zk.create("/empty", b"")
    data, st = zk.get("/empty")
    assert data == b""
    assert st.dataLength == 0
    zk.set("/empty", None)
    assert zk.get("/empty")[0] is None
    zk.set("/null", b"")
    assert zk.get("/null")[0] == b""


def test_binary_data_round_trips(zk: KazooClient) -> None:
    payload = bytes(range(256)) * 4
    zk.create("/bin", payload)
    data, st = zk.get("/bin")
    assert data == payload
    assert st.dataLength == len(payload)


def test_sequential_names(zk: KazooClient) -> None:
    zk.create("/seq", b"")
    assert zk.create("/seq/a", b"", sequence=True) == "/seq/a0000000000"
    assert zk.create("/seq/a", b"", sequence=True) == "/seq/a0000000001"
    zk.create("/seq/plain", b"")  # a plain child counts too
    zk.delete("/seq/a0000000000")  # deletions do not lower the counter
    assert zk.create("/seq/b", b"", sequence=True) == "/seq/b0000000003"
    assert zk.create("/seq/", b"", sequence=True) == "/seq/0000000004"
    assert sorted(zk.get_children("/seq")) == [
        "0000000004",
        "a0000000001",
        "b0000000003",
        "plain",
    ]


def test_sequential_counter_continues_after_all_deleted(zk: KazooClient) -> None:
    zk.create("/q", b"")
    for i in range(3):
        zk.delete(zk.create("/q/n", b"", sequence=True))
        assert zk.get_children("/q") == []
        assert zk.exists("/q").cversion == 2 * (i + 1)
    assert zk.create("/q/n", b"", sequence=True) == "/q/n0000000003"


def test_ephemeral_sequential(zk: KazooClient) -> None:
    zk.create("/es", b"")
    path = zk.create("/es/lock-", b"me", ephemeral=True, sequence=True)
    assert path == "/es/lock-0000000000"
    st = zk.exists(path)
    assert st.ephemeralOwner == zk.client_id[0]


@pytest.mark.parametrize("bad", ["/b\x00", "/b\x1e", "/b\x7f", "/b\x85"])
def test_invalid_paths_rejected(zk: KazooClient, bad: str) -> None:
    with pytest.raises(BadArgumentsError):
        zk.create(bad, b"")


def test_unicode_paths(zk: KazooClient) -> None:
    names = ["ä", "日本語", "ünïcödé-ß", "emoji-free-ñ"]
    zk.create("/u", b"")
    for name in names:
        zk.create(f"/u/{name}", name.encode())
    assert sorted(zk.get_children("/u")) == sorted(names)
    for name in names:
        assert zk.get(f"/u/{name}")[0] == name.encode()


def test_system_nodes(make_client: ClientFactory) -> None:
    zk = make_client(chroot=False)
    data, root = zk.get("/")
    assert data == b""  # the root holds empty data, not null
    assert (root.czxid, root.ctime, root.version) == (0, 0, 0)
    assert {"config", "quota"} <= set(zk.get_children("/zookeeper"))
    acls, _ = zk.get_acls("/zookeeper/config")
    assert [(a.perms, a.id.scheme, a.id.id) for a in acls] == [(1, "world", "anyone")]
    with pytest.raises(NoAuthError):
        zk.set("/zookeeper/config", b"x")
    for path in ("/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"):
        with pytest.raises(BadArgumentsError):
            zk.delete(path)


def test_reconfig_is_disabled_standalone(make_client: ClientFactory, backend: Backend) -> None:
    """Standalone servers refuse reconfig; an ensemble refuses it without WRITE on
    /zookeeper/config (only super has it, as in ZooKeeper)."""
    zk = make_client(chroot=False)
    with pytest.raises(NoAuthError if backend.is_ensemble else ReconfigDisabledError):
        zk.reconfig(joining=None, leaving="2", new_members=None)
    assert zk.exists("/") is not None


def test_async_pipelining(zk: KazooClient) -> None:
    zk.create("/many", b"")
    count = 300
    creates = [zk.create_async(f"/many/n{i:04d}", b"%d" % i) for i in range(count)]
    assert [r.get(timeout=30) for r in creates] == [f"/many/n{i:04d}" for i in range(count)]
    reads = [zk.get_async(f"/many/n{i:04d}") for i in range(count)]
    assert [r.get(timeout=30)[0] for r in reads] == [b"%d" % i for i in range(count)]
    children = zk.get_children("/many")
    assert sorted(children) == [f"n{i:04d}" for i in range(count)]
    st = zk.exists("/many")
    assert (st.numChildren, st.cversion) == (count, count)
    czxids = [zk.exists(f"/many/n{i:04d}").czxid for i in (0, 1, count - 1)]
    assert czxids == sorted(czxids)
    assert len(set(czxids)) == 3


def test_delete_checks_version_before_children(zk: KazooClient) -> None:
    zk.create("/d/kid", b"", makepath=True)
    with pytest.raises(BadVersionError):
        zk.delete("/d", version=3)
    with pytest.raises(NotEmptyError):
        zk.delete("/d", version=0)


def test_ephemeral_created_in_transaction(make_client: ClientFactory) -> None:
    zk = make_client()
    other = make_client()
    t = zk.transaction()
    t.create("/te", b"", ephemeral=True)
    t.create("/tp", b"")
    assert t.commit() == ["/te", "/tp"]
    assert other.exists("/te").ephemeralOwner == zk.client_id[0]
    zk.stop()
    assert other.exists("/te") is None
    assert other.exists("/tp") is not None


@pytest.mark.parametrize(
    ("method", "path", "outcome"),
    [
        ("exists", "/a\x00", BadArgumentsError),
        ("exists", "/a\x1e", None),  # exists only rejects NUL
        ("get", "/a\x00", NoNodeError),  # reads do not validate: no such node
        ("get", "/a\x1e", NoNodeError),
        ("get_children", "/a\x1e", NoNodeError),
        ("get_acls", "/a\x1e", NoNodeError),
        ("delete", "/a\x00", BadArgumentsError),
        ("delete", "/a\x1e", NoNodeError),  # delete only rejects NUL
        ("set", "/a\x1e", BadArgumentsError),
        ("set_acls", "/a\x1e", BadArgumentsError),
    ],
    ids=lambda v: repr(v) if isinstance(v, str) else getattr(v, "__name__", str(v)),
)
def test_path_validation_per_operation(
    zk: KazooClient, method: str, path: str, outcome: type[Exception] | None
) -> None:
    args: tuple[object, ...] = (path,)
    if method == "set":
        args = (path, b"")
    elif method == "set_acls":
        args = (path, [])
    call = getattr(zk, method)
    if outcome is None:
        assert call(*args) is None
    else:
        with pytest.raises(outcome):
            call(*args)
