"""Create modes, sequential names, path validation and the order of checks."""

from __future__ import annotations

import pytest

from roost.tree import DataTree, Kind, TreeConfig
from roost.wire.errors import Err
from roost.wire.opcodes import Op, Perm
from roost.wire.records import ACL, Create2Response, CreateResponse, Id

from .helpers import OPEN, READ_ONLY, Driver, node_at


def created_path(result: tuple[int, object, object]) -> str:
    err, rec, _ = result
    assert err == Err.OK
    assert isinstance(rec, CreateResponse | Create2Response)
    return rec.path


def test_sequence_names_use_stored_creation_count() -> None:
    d = Driver()
    d.create("/folder")
    assert created_path(d.create("/folder/a", flags=2)) == "/folder/a0000000000"
    assert created_path(d.create("/folder/a", flags=2)) == "/folder/a0000000001"
    assert created_path(d.create("/folder/", flags=2)) == "/folder/0000000002"
    d.delete("/folder/a0000000000")
    d.delete("/folder/a0000000001")
    # deletions do not lower the counter, though the visible cversion is 5 now
    assert d.tree.stat(node_at(d.tree, "/folder")).cversion == 5
    assert created_path(d.create("/folder/b-", flags=2)) == "/folder/b-0000000003"


def test_sequential_under_root_and_trailing_slash_only_with_suffix() -> None:
    d = Driver()
    # the root's stored count is 0 on a fresh tree (/zookeeper does not count)
    assert created_path(d.create("/", flags=2)) == "/0000000000"
    assert d.create("/x/")[0] == Err.NO_NODE
    d.create("/x")
    assert d.create("/x/")[0] == Err.BAD_ARGUMENTS
    assert d.create("/")[0] == Err.NODE_EXISTS


def test_create_response_type_follows_opcode() -> None:
    d = Driver()
    assert isinstance(d.create("/a", op=Op.CREATE)[1], CreateResponse)
    assert isinstance(d.create("/b", op=Op.CREATE2)[1], Create2Response)
    assert isinstance(d.create("/c", op=Op.CREATE_CONTAINER, flags=4)[1], Create2Response)
    assert isinstance(d.create_ttl("/d", 100)[1], Create2Response)


def test_ephemeral_needs_a_live_session_and_records_owner() -> None:
    d = Driver(session=0x1234)
    assert d.create("/e", flags=1)[0] == Err.SESSION_EXPIRED
    d.tree.create_session(d.ctx(), 0x1234, 30000, b"p" * 16)
    err, rec, _ = d.create("/e", flags=1, op=Op.CREATE2)
    assert err == Err.OK
    assert isinstance(rec, Create2Response)
    assert rec.stat.ephemeralOwner == 0x1234
    assert node_at(d.tree, "/e").ephemeral_owner == 0x1234
    assert d.tree.ephemeral_count() == 1
    assert d.create("/e/child")[0] == Err.NO_CHILDREN_FOR_EPHEMERALS
    assert d.create("/e/", flags=2)[0] == Err.NO_CHILDREN_FOR_EPHEMERALS


def test_container_and_ttl_show_zero_owner() -> None:
    d = Driver(session=7)
    d.tree.create_session(d.ctx(), 7, 30000, b"")
    _, rec, _ = d.create("/c", op=Op.CREATE_CONTAINER, flags=4)
    assert isinstance(rec, Create2Response)
    assert rec.stat.ephemeralOwner == 0
    assert node_at(d.tree, "/c").kind == Kind.CONTAINER
    _, rec, _ = d.create_ttl("/t", 5000)
    assert isinstance(rec, Create2Response)
    assert rec.stat.ephemeralOwner == 0
    assert (node_at(d.tree, "/t").kind, node_at(d.tree, "/t").owner) == (Kind.TTL, 5000)
    # containers and TTL nodes may have children
    assert d.create("/c/x")[0] == Err.OK
    assert d.create("/t/x")[0] == Err.OK
    # a sequential TTL node gets a suffix
    assert created_path(d.create_ttl("/t/s", 10, flags=6)) == "/t/s0000000001"


def test_container_flag_on_plain_create_makes_a_persistent_node() -> None:
    # ZooKeeper 3.8 creates a plain node for flags 4 sent with opcode create/create2
    d = Driver()
    assert d.create("/p", flags=4)[0] == Err.OK
    assert node_at(d.tree, "/p").kind == Kind.PERSISTENT


@pytest.mark.parametrize("flags", [-1, 7, 8, 100])
def test_bad_flags(flags: int) -> None:
    assert Driver().create("/a", flags=flags)[0] == Err.BAD_ARGUMENTS


def test_ttl_rules() -> None:
    d = Driver()
    assert d.create_ttl("/t", 0)[0] == Err.BAD_ARGUMENTS
    assert d.create_ttl("/t", 0xFF_FFFF_FFFF + 1)[0] == Err.BAD_ARGUMENTS
    assert d.create_ttl("/t", 0xFF_FFFF_FFFF)[0] == Err.OK
    # TTL mode through a non-TTL opcode has no ttl; non-TTL mode through createTTL
    assert d.create("/u", flags=5)[0] == Err.BAD_ARGUMENTS
    assert d.create_ttl("/u", 100, flags=0)[0] == Err.BAD_ARGUMENTS
    assert d.create_ttl("/u", -1, flags=0)[0] == Err.BAD_ARGUMENTS
    off = Driver(DataTree(TreeConfig(ttl_enabled=False)))
    assert off.create_ttl("/t", 100)[0] == Err.UNIMPLEMENTED
    assert off.create("/t", flags=6)[0] == Err.UNIMPLEMENTED
    # flags are checked before TTL support
    assert off.create_ttl("/t", 100, flags=9)[0] == Err.BAD_ARGUMENTS


@pytest.mark.parametrize(
    "path",
    ["/b\x00", "/b\x1e", "//b", "/a/.", "/a/..", "/\x7f", "/\ud800", "/\U0001f600", "/a\ufff0"],
)
def test_invalid_paths_are_bad_arguments(path: str) -> None:
    d = Driver()
    d.create("/a")
    assert d.create(path)[0] == Err.BAD_ARGUMENTS


def test_unicode_path_is_fine() -> None:
    assert created_path(Driver().create("/ä-ö")) == "/ä-ö"


def test_data_larger_than_limit_is_bad_arguments() -> None:
    d = Driver(DataTree(TreeConfig(max_data_bytes=4)))
    assert d.create("/a", b"12345")[0] == Err.BAD_ARGUMENTS
    assert d.create("/a", b"1234")[0] == Err.OK
    assert d.set("/a", b"12345")[0] == Err.BAD_ARGUMENTS


class TestOrderOfChecks:
    """When several errors apply, the first in ZooKeeper's order wins."""

    def test_flags_before_ttl_before_session(self) -> None:
        d = Driver(DataTree(TreeConfig(ttl_enabled=False)))
        assert d.create("nope", flags=99)[0] == Err.BAD_ARGUMENTS
        assert d.create("nope", flags=5)[0] == Err.UNIMPLEMENTED
        assert d.create("nope", flags=1)[0] == Err.SESSION_EXPIRED

    def test_path_shape_before_acl_before_parent(self) -> None:
        d = Driver()
        bad_acl = [ACL(31, Id("world", "bogus"))]
        assert d.create("no-slash", acl=bad_acl)[0] == Err.BAD_ARGUMENTS
        assert d.create("/x\x00/y", acl=bad_acl)[0] == Err.BAD_ARGUMENTS
        assert d.create("/missing/x", acl=bad_acl)[0] == Err.INVALID_ACL
        assert d.create("/missing/x", acl=[])[0] == Err.INVALID_ACL

    def test_parent_before_auth_before_full_validation(self) -> None:
        d = Driver()
        d.create("/locked", acl=READ_ONLY)
        assert d.create("/missing/x\x01")[0] == Err.NO_NODE
        # the parent of "/locked//x" is "/locked/", which does not exist
        assert d.create("/locked//x")[0] == Err.NO_NODE
        assert d.create("/locked/x\x01")[0] == Err.NO_AUTH
        assert d.create("/locked/x")[0] == Err.NO_AUTH

    def test_validation_before_exists_before_ephemeral_parent(self) -> None:
        d = Driver(session=5)
        d.tree.create_session(d.ctx(), 5, 1000, b"")
        d.create("/e", flags=1)
        node_at(d.tree, "/e").children = None
        assert d.create("/e/.")[0] == Err.BAD_ARGUMENTS
        assert d.create("/e")[0] == Err.NODE_EXISTS
        assert d.create("/e/x")[0] == Err.NO_CHILDREN_FOR_EPHEMERALS

    def test_delete_order(self) -> None:
        d = Driver()
        d.create("/p", acl=[ACL(int(Perm.ALL & ~Perm.DELETE), Id("world", "anyone"))])
        d.create("/p/c")
        d.create("/q")
        d.create("/q/c")
        d.create("/q/c/g")
        assert d.delete("/zookeeper")[0] == Err.BAD_ARGUMENTS
        assert d.delete("/")[0] == Err.BAD_ARGUMENTS
        assert d.delete("x")[0] == Err.BAD_ARGUMENTS
        assert d.delete("/nope/c", version=5)[0] == Err.NO_NODE
        assert d.delete("/p/missing", version=5)[0] == Err.NO_AUTH
        assert d.delete("/q/missing", version=5)[0] == Err.NO_NODE
        assert d.delete("/q/c", version=5)[0] == Err.BAD_VERSION
        assert d.delete("/q/c", version=0)[0] == Err.NOT_EMPTY

    def test_set_data_order(self) -> None:
        d = Driver(DataTree(TreeConfig(max_data_bytes=2)))
        d.create("/ro", acl=READ_ONLY)
        d.create("/rw")
        assert d.set("/ro/", b"123", version=9)[0] == Err.BAD_ARGUMENTS
        assert d.set("/none", b"123", version=9)[0] == Err.NO_NODE
        assert d.set("/ro", b"123", version=9)[0] == Err.NO_AUTH
        assert d.set("/rw", b"123", version=9)[0] == Err.BAD_ARGUMENTS
        assert d.set("/rw", b"12", version=9)[0] == Err.BAD_VERSION

    def test_set_acl_order(self) -> None:
        d = Driver()
        d.create("/noadmin", acl=[ACL(int(Perm.READ | Perm.WRITE), Id("world", "anyone"))])
        assert d.set_acl("bad", [], version=9)[0] == Err.BAD_ARGUMENTS
        assert d.set_acl("/none", [], version=9)[0] == Err.INVALID_ACL
        assert d.set_acl("/none", OPEN, version=9)[0] == Err.NO_NODE
        assert d.set_acl("/noadmin", OPEN, version=9)[0] == Err.NO_AUTH
        d.create("/adm")
        assert d.set_acl("/adm", OPEN, version=9)[0] == Err.BAD_VERSION
        assert d.set_acl("/adm", OPEN, version=0)[0] == Err.OK
        assert d.set_acl("/adm", OPEN, version=0)[0] == Err.BAD_VERSION

    def test_check_order(self) -> None:
        d = Driver()
        d.create("/noread", acl=[ACL(int(Perm.WRITE), Id("world", "anyone"))])
        d.create("/r")
        assert d.check("/r/", 9)[0] == Err.BAD_ARGUMENTS
        assert d.check("/none", 9)[0] == Err.NO_NODE
        assert d.check("/noread", 9)[0] == Err.NO_AUTH
        assert d.check("/r", 9)[0] == Err.BAD_VERSION
        assert d.check("/r", 0) == (Err.OK, None, [])


def test_system_nodes_cannot_be_deleted() -> None:
    d = Driver()
    for path in ("/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"):
        assert d.delete(path)[0] == Err.BAD_ARGUMENTS
    assert d.tree.node_count() == 4


def test_unknown_opcode_and_wrong_record() -> None:
    d = Driver()
    assert d.apply(Op.GET_DATA, OPEN[0])[0] == Err.UNIMPLEMENTED
    assert d.apply(Op.DELETE, OPEN[0])[0] == Err.MARSHALLING_ERROR
    assert d.tree.node_count() == 4
