"""Exact Stat values after each kind of op (ZooKeeper 3.8 semantics, checked on a real 3.8)."""

from __future__ import annotations

from roost.tree import DataTree
from roost.wire.errors import Err
from roost.wire.opcodes import EventType, Perm
from roost.wire.records import ACL, Create2Response, Id, SetACLResponse, SetDataResponse, Stat

from .helpers import OPEN, Driver, node_at


def test_fresh_tree_stats_acls_and_data() -> None:
    tree = DataTree()
    zero = dict(czxid=0, mzxid=0, ctime=0, mtime=0, version=0, aversion=0, pzxid=0)
    assert tree.stat(node_at(tree, "/")) == Stat(**zero, cversion=-1, ephemeralOwner=0,
                                            dataLength=0, numChildren=1)
    assert tree.stat(node_at(tree, "/zookeeper")) == Stat(**zero, cversion=-2, ephemeralOwner=0,
                                                     dataLength=0, numChildren=2)
    quota = tree.stat(node_at(tree, "/zookeeper/quota"))
    assert (quota.cversion, quota.numChildren, quota.aversion) == (0, 0, 0)
    config = node_at(tree, "/zookeeper/config")
    # ZooKeeper 3.8 sets the config node's ACL with version -1: aversion shows -1
    assert tree.stat(config).aversion == -1
    assert config.acl == (ACL(int(Perm.READ), Id("world", "anyone")),)
    assert node_at(tree, "/").acl == (ACL(int(Perm.ALL), Id("world", "anyone")),)
    assert sorted(tree.children(node_at(tree, "/zookeeper"))) == ["config", "quota"]
    for path in ("/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"):
        assert node_at(tree, path).data == b""
    assert tree.last_zxid == 0
    assert tree.node_count() == 4


def test_create_sets_node_and_parent_stats() -> None:
    d = Driver()
    err, rec, events = d.create("/a", b"hello", op=15)
    assert err == Err.OK
    assert isinstance(rec, Create2Response)
    assert rec.path == "/a"
    assert rec.stat == Stat(1, 1, 1000, 1000, 0, 0, 0, 0, 5, 0, 1)
    root = d.tree.stat(node_at(d.tree, "/"))
    # parent: numChildren+1, visible cversion+1, pzxid = zxid; mzxid/mtime/version untouched
    assert (root.numChildren, root.cversion, root.pzxid) == (2, 0, 1)
    assert (root.mzxid, root.mtime, root.version) == (0, 0, 0)
    assert [(e.type, e.path) for e in events] == [
        (EventType.NODE_CREATED, "/a"),
        (EventType.NODE_CHILDREN_CHANGED, "/"),
    ]


def test_delete_bumps_visible_cversion_and_pzxid() -> None:
    d = Driver()
    d.create("/p")
    d.create("/p/c1")
    d.create("/p/c2")
    assert d.tree.stat(node_at(d.tree, "/p")).cversion == 2
    err, rec, events = d.delete("/p/c1")
    assert (err, rec) == (Err.OK, None)
    st = d.tree.stat(node_at(d.tree, "/p"))
    assert (st.cversion, st.numChildren, st.pzxid, st.mzxid) == (3, 1, 4, 1)
    assert [(e.type, e.path) for e in events] == [
        (EventType.NODE_DELETED, "/p/c1"),
        (EventType.NODE_CHILDREN_CHANGED, "/p"),
    ]
    d.delete("/p/c2")
    st = d.tree.stat(node_at(d.tree, "/p"))
    assert (st.cversion, st.numChildren, st.pzxid) == (4, 0, 5)


def test_set_data_changes_version_mzxid_mtime_even_when_identical() -> None:
    d = Driver()
    d.create("/s", b"x")
    err, rec, events = d.set("/s", b"x")
    assert err == Err.OK
    assert isinstance(rec, SetDataResponse)
    assert rec.stat == Stat(1, 2, 1000, 2000, 1, 0, 0, 0, 1, 0, 1)
    assert [(e.type, e.path) for e in events] == [(EventType.NODE_DATA_CHANGED, "/s")]
    err, rec, _ = d.set("/s", None, version=1)
    assert isinstance(rec, SetDataResponse)
    assert (rec.stat.version, rec.stat.dataLength, rec.stat.mzxid) == (2, 0, 3)
    assert node_at(d.tree, "/s").data is None


def test_set_acl_only_bumps_aversion() -> None:
    d = Driver()
    d.create("/s", b"x")
    err, rec, events = d.set_acl("/s", OPEN)
    assert err == Err.OK
    assert isinstance(rec, SetACLResponse)
    assert rec.stat == Stat(1, 1, 1000, 1000, 0, 0, 1, 0, 1, 0, 1)
    assert events == []
    assert d.tree.last_zxid == 2


def test_null_and_empty_data_stay_distinct() -> None:
    d = Driver()
    d.create("/n", None)
    d.create("/e", b"")
    assert node_at(d.tree, "/n").data is None
    assert node_at(d.tree, "/e").data == b""
    assert d.tree.stat(node_at(d.tree, "/n")).dataLength == 0


def test_failed_write_consumes_zxid_and_changes_nothing() -> None:
    d = Driver()
    d.create("/a")
    before = d.tree.digest()
    err, rec, events = d.create("/a")
    assert (err, rec, events) == (Err.NODE_EXISTS, None, [])
    assert d.tree.last_zxid == 2
    d.tree.last_zxid = 1
    assert d.tree.digest() == before


def test_counters_and_descendants() -> None:
    d = Driver()
    d.create("/a", b"12345")
    d.create("/a/b")
    d.create("/a/b/c")
    tree = d.tree
    assert tree.node_count() == 7
    assert tree.count_descendants(node_at(tree, "/")) == 6
    assert tree.count_descendants(node_at(tree, "/a")) == 2
    assert tree.count_descendants(node_at(tree, "/a/b/c")) == 0
    # 44 for the system nodes, then len(path) + len(data) per node
    assert tree.approximate_data_size() == 44 + (2 + 5) + 4 + 6
    d.set("/a", b"1")
    assert tree.approximate_data_size() == 44 + (2 + 1) + 4 + 6
    d.delete("/a/b/c")
    assert tree.approximate_data_size() == 44 + (2 + 1) + 4
    # ZooKeeper maps both "" and "/" to the root, so the root's data counts twice
    d.set("/", b"abc")
    assert tree.approximate_data_size() == 44 + 6 + (2 + 1) + 4


def test_version_wraps_like_a_java_int() -> None:
    d = Driver()
    d.create("/w")
    node_at(d.tree, "/w").version = 2**31 - 1
    _, rec, _ = d.set("/w", b"", version=2**31 - 1)
    assert isinstance(rec, SetDataResponse)
    assert rec.stat.version == -(2**31)


def test_reads_do_not_validate_paths() -> None:
    tree = DataTree()
    assert tree.get("/zookeeper/") is None
    assert tree.get("bad") is None
    assert tree.get("") is tree.get("/")
