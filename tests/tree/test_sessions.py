"""Sessions, ephemerals, close_session, getEphemerals, container and TTL reaping."""

from __future__ import annotations

from roost.tree import DataTree, TreeConfig, TxnContext
from roost.wire.errors import Err
from roost.wire.opcodes import EventType, Op

from .helpers import Driver, node_at


def with_sessions(*sids: int) -> Driver:
    d = Driver()
    for sid in sids:
        d.tree.create_session(d.ctx(), sid, 10000, bytes([sid % 256]) * 16)
    return d


def test_create_session_is_replicated_state() -> None:
    d = with_sessions(1)
    assert d.tree.sessions[1].timeout_ms == 10000
    assert d.tree.sessions[1].passwd == b"\x01" * 16
    assert d.tree.last_zxid == 1
    d.tree.create_session(d.ctx(), 1, 20000, b"x")
    assert (d.tree.sessions[1].timeout_ms, d.tree.sessions[1].passwd) == (20000, b"x")


def test_close_session_deletes_ephemerals_in_sorted_order() -> None:
    d = with_sessions(1, 2)
    d.create("/dir")
    d.session = 1
    for path in ("/dir/b", "/a", "/dir/a"):
        assert d.create(path, flags=1)[0] == Err.OK
    d.session = 2
    d.create("/dir/other", flags=1)
    assert d.tree.ephemeral_count() == 4
    d.session = 0
    ctx = d.ctx()
    events = d.tree.close_session(ctx, 1)
    assert [(e.type, e.path) for e in events] == [
        (EventType.NODE_DELETED, "/a"),
        (EventType.NODE_CHILDREN_CHANGED, "/"),
        (EventType.NODE_DELETED, "/dir/a"),
        (EventType.NODE_CHILDREN_CHANGED, "/dir"),
        (EventType.NODE_DELETED, "/dir/b"),
        (EventType.NODE_CHILDREN_CHANGED, "/dir"),
    ]
    assert 1 not in d.tree.sessions
    assert sorted(d.tree.children(node_at(d.tree, "/dir"))) == ["other"]
    st = d.tree.stat(node_at(d.tree, "/dir"))
    assert (st.pzxid, st.cversion) == (ctx.zxid, 5)
    assert d.tree.ephemeral_count() == 1
    assert d.tree.last_zxid == ctx.zxid
    # closing an unknown (or already closed) session is a no-op that still uses its zxid
    assert d.tree.close_session(d.ctx(), 1) == []
    assert d.tree.last_zxid == ctx.zxid + 1
    # the closed session can no longer create ephemerals
    d.session = 1
    assert d.create("/late", flags=3)[0] == Err.SESSION_EXPIRED


def test_deleting_an_ephemeral_updates_its_session() -> None:
    d = with_sessions(3)
    d.session = 3
    d.create("/e", flags=1)
    d.delete("/e")
    assert d.tree.sessions[3].ephemerals == set()
    assert d.tree.ephemeral_count() == 0
    assert d.tree.close_session(d.ctx(), 3) == []


def test_get_ephemerals_prefix_rules() -> None:
    d = with_sessions(4)
    d.session = 4
    d.create("/app")
    for path in ("/app/x", "/apple", "/b"):
        d.create(path, flags=1)
    every = ["/app/x", "/apple", "/b"]
    assert d.tree.ephemerals(4, None) == every
    assert d.tree.ephemerals(4, "") == every
    assert d.tree.ephemerals(4, "/") == every
    assert d.tree.ephemerals(4, " / ") == every
    assert d.tree.ephemerals(4, "/app") == ["/app/x", "/apple"]
    assert d.tree.ephemerals(4, "/app/") == ["/app/x"]
    assert d.tree.ephemerals(99, None) == []


def test_container_reaped_only_after_it_had_a_child() -> None:
    d = Driver()
    d.create("/c", op=Op.CREATE_CONTAINER, flags=4)
    assert d.tree.reap_candidates(10**12) == []
    assert d.tree.reap(d.ctx(), "/c") == []
    assert d.tree.get("/c") is not None
    d.create("/c/child")
    assert d.tree.reap_candidates(10**12) == []
    d.delete("/c/child")
    assert d.tree.reap_candidates(0) == ["/c"]
    ctx = d.ctx()
    events = d.tree.reap(ctx, "/c")
    assert [(e.type, e.path) for e in events] == [
        (EventType.NODE_DELETED, "/c"),
        (EventType.NODE_CHILDREN_CHANGED, "/"),
    ]
    assert d.tree.get("/c") is None
    assert d.tree.stat(node_at(d.tree, "/")).pzxid == ctx.zxid
    assert d.tree.reap_candidates(10**12) == []
    assert d.tree.last_zxid == ctx.zxid


def test_never_used_container_interval() -> None:
    d = Driver(DataTree(TreeConfig(container_max_never_used_ms=500)))
    d.create("/c", op=Op.CREATE_CONTAINER, flags=4)
    mtime = node_at(d.tree, "/c").mtime
    assert d.tree.reap_candidates(mtime + 500) == []
    assert d.tree.reap(TxnContext(50, mtime + 500, 0), "/c") == []
    assert d.tree.reap_candidates(mtime + 501) == ["/c"]
    assert len(d.tree.reap(TxnContext(51, mtime + 501, 0), "/c")) == 2


def test_ttl_node_expiry_uses_mtime_and_children() -> None:
    d = Driver()
    d.create_ttl("/t", 1000)
    node = node_at(d.tree, "/t")
    assert d.tree.reap_candidates(node.mtime + 1000) == []
    assert d.tree.reap_candidates(node.mtime + 1001) == ["/t"]
    # setData refreshes mtime
    d.set("/t", b"again")
    assert d.tree.reap_candidates(node.mtime + 1000) == []
    d.create("/t/kid")
    assert d.tree.reap_candidates(node.mtime + 10**9) == []
    # a reap proposed earlier is re-checked when applied: a child appeared, so no-op
    assert d.tree.reap(TxnContext(d.zxid + 1, node.mtime + 10**9, 0), "/t") == []
    assert d.tree.get("/t") is not None
    d.delete("/t/kid")
    events = d.tree.reap(TxnContext(d.zxid + 2, node.mtime + 10**9, 0), "/t")
    assert [e.type for e in events] == [EventType.NODE_DELETED, EventType.NODE_CHILDREN_CHANGED]
    assert d.tree.ttls == set()


def test_reap_never_touches_other_nodes_and_respects_limit() -> None:
    d = Driver()
    d.create("/plain")
    assert d.tree.reap(d.ctx(), "/plain") == []
    assert d.tree.reap(d.ctx(), "/missing") == []
    assert d.tree.reap(d.ctx(), "/zookeeper") == []
    for i in range(5):
        d.create_ttl(f"/t{i}", 1)
    assert d.tree.reap_candidates(10**9, limit=3) == ["/t0", "/t1", "/t2"]
    assert d.tree.get("/plain") is not None
