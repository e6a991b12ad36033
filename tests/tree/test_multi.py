"""multi: per-op results, result types, atomicity and rollback."""

from __future__ import annotations

from roost.tree import DataTree, TreeConfig
from roost.wire.errors import Err
from roost.wire.multi import MultiRequest, MultiResponse, OpResult
from roost.wire.opcodes import EventType, Op
from roost.wire.records import (
    CheckVersionRequest,
    Create2Response,
    CreateRequest,
    CreateResponse,
    CreateTTLRequest,
    DeleteRequest,
    SetACLRequest,
    SetDataRequest,
    SetDataResponse,
)

from .helpers import OPEN, READ_ONLY, Driver, node_at


def cr(path: str, flags: int = 0, data: bytes | None = b"") -> CreateRequest:
    return CreateRequest(path, data, OPEN, flags)


def test_failed_multi_results_and_nothing_applied() -> None:
    d = Driver()
    before = d.tree.to_bytes()
    res = d.multi(
        (Op.CREATE, cr("/m1")),
        (Op.CHECK, CheckVersionRequest("/m1", 0)),
        (Op.CREATE, cr("/nonode/x")),
        (Op.CREATE, cr("/m2")),
    )
    assert res.results == (
        OpResult(Op.ERROR, Err.OK),
        OpResult(Op.ERROR, Err.OK),
        OpResult(Op.ERROR, Err.NO_NODE),
        OpResult(Op.ERROR, Err.RUNTIME_INCONSISTENCY),
    )
    # the wire form carries -1 headers with ErrorResponse bodies
    assert MultiResponse.from_bytes(res.to_bytes()).results == res.results
    assert d.tree.get("/m1") is None
    assert d.tree.last_zxid == 1
    d.tree.last_zxid = 0
    assert d.tree.to_bytes() == before


def test_successful_multi_result_types_and_shared_zxid() -> None:
    d = Driver()
    d.create("/s", b"old")
    err, rec, events = d.apply(
        Op.MULTI,
        MultiRequest(
            (
                (Op.CREATE, cr("/a")),
                (Op.CREATE2, cr("/a/b")),
                (Op.CREATE_CONTAINER, cr("/c", flags=4)),
                (Op.CREATE_TTL, CreateTTLRequest("/t", b"", OPEN, 5, 100)),
                (Op.SET_DATA, SetDataRequest("/s", b"new", 0)),
                (Op.CHECK, CheckVersionRequest("/s", 1)),
                (Op.DELETE, DeleteRequest("/a/b", 0)),
            )
        ),
    )
    assert err == Err.OK
    assert isinstance(rec, MultiResponse)
    types = [r.type for r in rec.results]
    c2 = Op.CREATE2
    assert types == [Op.CREATE, c2, c2, c2, Op.SET_DATA, Op.CHECK, Op.DELETE]
    assert rec.results[0].record == CreateResponse("/a")
    second = rec.results[1].record
    assert isinstance(second, Create2Response)
    assert (second.path, second.stat.czxid) == ("/a/b", 2)
    set_rec = rec.results[4].record
    assert isinstance(set_rec, SetDataResponse)
    assert (set_rec.stat.version, set_rec.stat.mzxid) == (1, 2)
    for path in ("/a", "/c", "/t"):
        assert node_at(d.tree, path).czxid == 2
    assert d.tree.get("/a/b") is None
    assert d.tree.stat(node_at(d.tree, "/a")).cversion == 2
    assert [(e.type, e.path) for e in events] == [
        (EventType.NODE_CREATED, "/a"),
        (EventType.NODE_CHILDREN_CHANGED, "/"),
        (EventType.NODE_CREATED, "/a/b"),
        (EventType.NODE_CHILDREN_CHANGED, "/a"),
        (EventType.NODE_CREATED, "/c"),
        (EventType.NODE_CHILDREN_CHANGED, "/"),
        (EventType.NODE_CREATED, "/t"),
        (EventType.NODE_CHILDREN_CHANGED, "/"),
        (EventType.NODE_DATA_CHANGED, "/s"),
        (EventType.NODE_DELETED, "/a/b"),
        (EventType.NODE_CHILDREN_CHANGED, "/a"),
    ]


def test_rollback_restores_every_kind_of_change() -> None:
    d = Driver(session=9)
    d.tree.create_session(d.ctx(), 9, 1000, b"")
    d.create("/p")
    d.create("/p/old", b"v")
    d.create("/seq")
    d.create("/e1", flags=1)
    snap, dig = d.tree.to_bytes(), d.tree.digest()
    res = d.multi(
        (Op.CREATE, cr("/seq/n", flags=2)),
        (Op.CREATE, cr("/e2", flags=1)),
        (Op.CREATE2, cr("/p/new")),
        (Op.SET_DATA, SetDataRequest("/p/old", None, 0)),
        (Op.DELETE, DeleteRequest("/p/old", 1)),
        (Op.DELETE, DeleteRequest("/e1", 0)),
        (Op.CREATE, cr("/c", flags=4)),
        (Op.CREATE_CONTAINER, cr("/cont")),
        (Op.CREATE, cr("/p/new")),  # NodeExists
    )
    assert [r.err for r in res.results] == [0] * 8 + [Err.NODE_EXISTS]
    d.tree.last_zxid -= 1
    assert d.tree.digest() == dig
    assert d.tree.to_bytes() == snap
    assert d.tree.ephemerals(9, None) == ["/e1"]
    assert d.tree.ephemeral_count() == 1
    assert d.tree.containers == set()
    assert d.tree.approximate_data_size() == DataTree.from_bytes(snap).approximate_data_size()
    # the sequence counter was restored too
    assert d.create("/seq/n", flags=2)[1] == CreateResponse("/seq/n0000000000")


def test_ops_see_earlier_ops_of_the_same_multi() -> None:
    d = Driver()
    res = d.multi(
        (Op.CREATE, cr("/q")),
        (Op.CREATE, cr("/q/x-", flags=2)),
        (Op.CREATE, cr("/q/x-", flags=2)),
        (Op.DELETE, DeleteRequest("/q/x-0000000000", 0)),
        (Op.CREATE, cr("/q/x-0000000000")),
    )
    paths = [r.record.path for r in res.results if isinstance(r.record, CreateResponse)]
    assert paths == ["/q", "/q/x-0000000000", "/q/x-0000000001", "/q/x-0000000000"]
    assert d.tree.stat(node_at(d.tree, "/q")).cversion == 4


def test_acl_checks_use_the_trial_state() -> None:
    d = Driver()
    res = d.multi(
        (Op.CREATE, CreateRequest("/ro", b"", READ_ONLY, 0)),
        (Op.CREATE, cr("/ro/child")),
    )
    assert [r.err for r in res.results] == [Err.OK, Err.NO_AUTH]
    assert d.tree.get("/ro") is None


def test_first_op_failing_and_empty_multi() -> None:
    d = Driver()
    res = d.multi((Op.DELETE, DeleteRequest("/none", -1)), (Op.CREATE, cr("/a")))
    assert res.results == (
        OpResult(Op.ERROR, Err.NO_NODE),
        OpResult(Op.ERROR, Err.RUNTIME_INCONSISTENCY),
    )
    assert d.multi().results == ()


def test_invalid_op_type_is_marshalling_error() -> None:
    d = Driver()
    err, rec, events = d.apply(
        Op.MULTI, MultiRequest(((Op.CREATE, cr("/a")), (Op.SET_ACL, SetACLRequest("/", OPEN, -1))))
    )
    assert (err, rec, events) == (Err.MARSHALLING_ERROR, None, [])
    assert d.tree.get("/a") is None


def test_creates_in_a_multi_are_typed_by_their_flags() -> None:
    # ZooKeeper 3.8.4 (MultiOperationRecord): container/TTL flags pick the op; createTTL
    # with non-TTL flags becomes a plain create (the ttl is dropped)
    d = Driver()
    res = d.multi(
        (Op.CREATE, cr("/c1", flags=4)),
        (Op.CREATE_TTL, CreateTTLRequest("/p1", b"", OPEN, 0, 100)),
        (Op.CREATE_TTL, CreateTTLRequest("/c2", b"", OPEN, 4, 100)),
        (Op.CREATE_CONTAINER, cr("/c3", flags=0)),
        (Op.CREATE2, cr("/p2", flags=2)),
    )
    assert [r.type for r in res.results] == [Op.CREATE2, Op.CREATE, Op.CREATE2, Op.CREATE2,
                                             Op.CREATE2]
    assert res.results[1].record == CreateResponse("/p1")
    assert d.tree.containers == {"/c1", "/c2", "/c3"}
    assert d.tree.ttls == set()
    assert d.tree.get("/p20000000004") is not None


def test_bad_create_flags_in_a_multi() -> None:
    d = Driver()
    err, rec, _ = d.apply(Op.MULTI, MultiRequest(((Op.CREATE, cr("/a", flags=9)),)))
    assert (err, rec) == (Err.MARSHALLING_ERROR, None)
    res = d.multi((Op.CREATE, cr("/a")), (Op.CREATE_TTL, CreateTTLRequest("/b", b"", OPEN, 9, 1)))
    assert [r.err for r in res.results] == [Err.OK, Err.BAD_ARGUMENTS]
    # a TTL mode without a ttl field fails the TTL checks
    res = d.multi((Op.CREATE2, cr("/t", flags=5)),)
    assert [r.err for r in res.results] == [Err.BAD_ARGUMENTS]
    off = Driver(DataTree(TreeConfig(ttl_enabled=False)))
    assert [r.err for r in off.multi((Op.CREATE, cr("/t", flags=6))).results] == [
        Err.UNIMPLEMENTED
    ]
    assert d.tree.get("/a") is None
