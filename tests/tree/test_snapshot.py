"""to_bytes/from_bytes round trips, determinism and the divergence digest."""

from __future__ import annotations

import gc
import random

import msgpack
import pytest

from roost.tree import DataTree, TreeConfig
from roost.tree.snapshot import SnapshotError
from roost.wire.opcodes import Op
from roost.wire.records import ACL, Id

from .helpers import Driver, node_at


def populated() -> Driver:
    d = Driver()
    d.tree.create_session(d.ctx(), 0x77, 9000, b"secret-password!")
    d.session = 0x77
    d.create("/a", b"data")
    d.create("/a/n", None)
    d.create("/a/e", flags=1)
    d.create("/a/s-", flags=2)
    d.create("/c", op=Op.CREATE_CONTAINER, flags=4)
    d.create("/c/x")
    d.create_ttl("/t", 12345)
    d.create("/ip", acl=[ACL(31, Id("ip", "10.0.0.0/8"))])
    d.set("/a", b"more")
    d.delete("/a/s-0000000002")
    return d


def test_round_trip_keeps_everything() -> None:
    d = populated()
    raw = d.tree.to_bytes()
    copy = DataTree.from_bytes(raw)
    assert copy.to_bytes() == raw
    assert copy.digest() == d.tree.digest()
    assert copy.last_zxid == d.tree.last_zxid
    for path, node in d.tree.nodes.items():
        twin = copy.get(path)
        assert twin is not None
        assert copy.stat(twin) == d.tree.stat(node)
        assert (twin.data, twin.acl, twin.kind, twin.owner) == (
            node.data,
            node.acl,
            node.kind,
            node.owner,
        )
    assert node_at(copy, "/a/n").data is None
    assert copy.sessions[0x77].passwd == b"secret-password!"
    assert copy.ephemerals(0x77, None) == ["/a/e"]
    assert copy.ephemeral_count() == 1
    assert copy.containers == {"/c"}
    assert copy.ttls == {"/t"}
    assert copy.approximate_data_size() == d.tree.approximate_data_size()
    assert len(copy.acl_cache) == len(d.tree.acl_cache)
    # the restored tree continues exactly like the original
    for tree in (d.tree, copy):
        Driver(tree=tree, zxid=100).create("/a/s-", flags=2)
    assert copy.get("/a/s-0000000003") is not None
    assert copy.to_bytes() == d.tree.to_bytes()


def test_digest_detects_any_difference() -> None:
    a, b = populated(), populated()
    assert a.tree.digest() == b.tree.digest()
    node_at(b.tree, "/a").mtime += 1
    assert a.tree.digest() != b.tree.digest()
    c = populated()
    c.tree.sessions[0x77].timeout_ms += 1
    assert a.tree.digest() != c.tree.digest()
    e = populated()
    e.tree.last_zxid += 1
    assert a.tree.digest() != e.tree.digest()
    f = populated()
    node_at(f.tree, "/a/n").data = b""
    assert a.tree.digest() != f.tree.digest()


def test_digest_ignores_insertion_order() -> None:
    one, two = Driver(), Driver()
    one.create("/x")
    one.create("/y")
    two.create("/y", op=Op.CREATE)
    two.create("/x")
    # same nodes but different zxids; align the stats, then the states are equal
    for path in ("/x", "/y"):
        src, dst = node_at(one.tree, path), node_at(two.tree, path)
        dst.czxid, dst.mzxid, dst.pzxid = src.czxid, src.mzxid, src.pzxid
        dst.ctime, dst.mtime = src.ctime, src.mtime
    assert one.tree.digest() == two.tree.digest()
    assert one.tree.to_bytes() == two.tree.to_bytes()


def test_config_is_taken_from_the_caller() -> None:
    copy = DataTree.from_bytes(populated().tree.to_bytes(), TreeConfig(ttl_enabled=False))
    assert copy.config.ttl_enabled is False


def test_corrupt_snapshots_raise_snapshot_error() -> None:
    raw = populated().tree.to_bytes()
    with pytest.raises(SnapshotError):
        DataTree.from_bytes(b"")
    with pytest.raises(SnapshotError):
        DataTree.from_bytes(msgpack.packb(["other", 1]))
    with pytest.raises(SnapshotError):
        DataTree.from_bytes(msgpack.packb(["roost-tree", 99, 0, [], [], []]))
    with pytest.raises(SnapshotError):
        DataTree.from_bytes(raw[: len(raw) // 2])
    orphan = msgpack.packb(
        [
            "roost-tree",
            1,
            0,
            [[[31, "world", "anyone"]]],
            [],
            [
                ["/", b"", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                ["/x/y", b"", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            ],
        ],
        use_bin_type=True,
    )
    with pytest.raises(SnapshotError):
        DataTree.from_bytes(orphan)
    # random bit flips: either rejected with SnapshotError or a self-consistent tree
    rng = random.Random(7)
    rejected = 0
    for _ in range(200):
        blob = bytearray(raw)
        blob[rng.randrange(len(blob))] ^= 1 << rng.randrange(8)
        try:
            tree = DataTree.from_bytes(bytes(blob))
        except SnapshotError:
            rejected += 1
            continue
        assert DataTree.from_bytes(tree.to_bytes()).digest() == tree.digest()
    assert rejected > 0


# --- hand-made images: every damaged row is refused with a reason ---------------------------

OPEN_ROW = [[31, "world", "anyone"]]


def row(path: str, **fields: object) -> list[object]:
    """A node row of the v1 layout with every stat at 1000 unless given."""
    values: dict[str, object] = {
        "data": b"d",
        "acl": 0,
        "czxid": 1000,
        "mzxid": 1000,
        "ctime": 1000,
        "mtime": 1000,
        "version": 0,
        "cversion": 0,
        "aversion": 0,
        "kind": 0,
        "owner": 0,
        "pzxid": 1000,
    }
    values.update(fields)
    return [path, *values.values()]


def image(
    rows: list[list[object]],
    sessions: list[list[object]] | None = None,
    count: int | None = None,
    tail: bytes = b"",
    acls: list[list[list[object]]] | None = None,
) -> bytes:
    packer = msgpack.Packer(use_bin_type=True)
    head = ["roost-tree", 2, 1000, 0, acls or [OPEN_ROW], sessions or []]
    out = packer.pack_array_header(7) + b"".join(packer.pack(v) for v in head)
    out += packer.pack_array_header(len(rows) if count is None else count)
    return out + b"".join(packer.pack(r) for r in rows) + tail


def test_hand_made_image_loads() -> None:
    tree = DataTree.from_bytes(image([row("/"), row("/a"), row("/a-c"), row("/a/b"), row("/a/c")]))
    assert sorted(tree.nodes) == ["/", "/a", "/a-c", "/a/b", "/a/c"]
    assert tree.children(node_at(tree, "/a")) == ["b", "c"]
    assert sorted(tree.children(node_at(tree, "/"))) == ["a", "a-c"]


def test_loaded_nodes_share_equal_acls_and_release_them() -> None:
    ip = [[31, "ip", "10.0.0.0/8"]]
    rows = [row("/"), row("/a", acl=1), row("/b", acl=2), row("/c", acl=1), row("/d")]
    tree = DataTree.from_bytes(image(rows, acls=[OPEN_ROW, ip, ip]))  # ip twice
    a, b, c = (node_at(tree, p).acl for p in ("/a", "/b", "/c"))
    assert a is b is c
    assert a == (ACL(31, Id("ip", "10.0.0.0/8")),)
    assert len(tree.acl_cache) == 2
    d = Driver(tree=tree, zxid=2000)
    for path in ("/a", "/b"):
        assert d.delete(path)[0] == 0
    assert len(tree.acl_cache) == 2  # /c still uses it
    assert d.delete("/c")[0] == 0
    assert len(tree.acl_cache) == 1  # three users counted, three released
    assert node_at(tree, "/d").acl is node_at(tree, "/").acl


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (image([]), "no root"),
        (image([row("/a"), row("/")]), "not the root"),
        (image([row("/"), row("/b"), row("/a")]), "out of order"),
        (image([row("/"), row("/a"), row("/a")]), "out of order"),
        (image([row("/"), row("/a/b")]), "no parent"),
        (image([row("/"), row("//a")]), "bad node path"),
        (image([row("/"), row("/a"), row("/a/")]), "bad node path"),
        (image([row("/"), row("a")]), "bad node path"),
        (image([row("/"), row("/a", kind=9)]), "bad node row after '/'"),
        (image([row("/"), row("/a", kind=-1)]), "bad node row after '/'"),
        (image([row("/"), row("/a", acl=1)]), "bad node row after '/'"),
        (image([row("/"), row("/a", acl=-1)]), "bad node row after '/'"),
        (image([row("/"), row("/a", czxid=True)]), "bad node row for '/a'"),
        (image([row("/"), row("/a", mtime=1.5)]), "bad node row for '/a'"),
        (image([row("/"), row("/a", data="text")]), "bad node row for '/a'"),
        (image([row("/"), row("/a", owner=None)]), "bad node row for '/a'"),
        (image([row("/"), row("/a")[:-1]]), "bad node row after '/'"),
        (image([row("/"), [7]]), "bad node row after '/'"),
        (image([row("/"), row("/e", kind=1, owner=5)]), "unknown session"),
        (image([row("/")], sessions=[[1, "x", b"p"]]), "bad session row"),
        (image([row("/"), row("/a")], count=3), "truncated"),
        (image([row("/"), row("/a")], tail=b"\x00"), "bytes after the end"),
        (image([row("/"), row("/a")])[:-3], "truncated"),
    ],
)
def test_damaged_rows_are_refused_naming_the_problem(raw: bytes, reason: str) -> None:
    with pytest.raises(SnapshotError, match=reason):
        DataTree.from_bytes(raw)


def test_loading_shares_equal_stat_ints_and_restores_the_collector() -> None:
    big = 1 << 40  # far outside the small-int cache: equal values would be distinct objects
    same_ms = {"ctime": big + 1, "mtime": big + 1}
    raw = image(
        [
            row("/"),
            row("/a", czxid=big, mzxid=big, pzxid=big, **same_ms),
            row("/b", czxid=big + 5, mzxid=big + 5, pzxid=big + 9, **same_ms),
            row("/c", ctime=big + 2, mtime=big + 3),
        ]
    )
    assert gc.isenabled()
    tree = DataTree.from_bytes(raw)
    a, b, c = (node_at(tree, p) for p in ("/a", "/b", "/c"))
    assert a.mzxid is a.czxid and a.pzxid is a.czxid
    assert a.mtime is a.ctime
    assert b.ctime is a.ctime and b.mtime is a.ctime  # created in the same millisecond
    assert b.mzxid is b.czxid and b.pzxid == big + 9
    assert (c.ctime, c.mtime) == (big + 2, big + 3)
    assert tree.to_bytes() == raw
    assert gc.isenabled()
    with pytest.raises(SnapshotError):
        DataTree.from_bytes(raw[:-2])
    assert gc.isenabled()


def test_a_view_into_a_larger_buffer_loads() -> None:
    raw = populated().tree.to_bytes()
    view = memoryview(b"header" + raw)[6:]
    assert DataTree.from_bytes(view).to_bytes() == raw


def assert_consistent(tree: DataTree) -> None:
    """The indexes a loaded tree keeps agree with its nodes."""
    linked = 0
    for path, node in tree.nodes.items():
        if path == "/":
            continue
        parent_path, name = path.rsplit("/", 1)
        parent = tree.nodes[parent_path or "/"]
        assert parent.children is not None and parent.children[name] is node
        linked += 1
    assert linked == sum(n.num_children for n in tree.nodes.values())
    size = sum(len(p) + n.data_length for p, n in tree.nodes.items())
    assert tree.approximate_data_size() == size + tree.nodes["/"].data_length
    for sid, info in tree.sessions.items():
        mine = {p for p, n in tree.nodes.items() if n.kind == 1 and n.owner == sid}
        assert info.ephemerals == mine
    assert tree.containers == {p for p, n in tree.nodes.items() if n.kind == 2}
    assert tree.ttls == {p for p, n in tree.nodes.items() if n.kind == 3}


def test_random_damage_is_refused_or_loads_a_consistent_tree() -> None:
    d = populated()
    for i in range(40):
        d.create(f"/a/k{i:02d}", bytes([i]) * i)
    raw = d.tree.to_bytes()
    assert_consistent(DataTree.from_bytes(raw))
    rng = random.Random(11)
    refused = 0
    for _ in range(400):
        blob = bytearray(raw)
        for _ in range(rng.randint(1, 3)):
            blob[rng.randrange(len(blob))] = rng.randrange(256)
        if rng.random() < 0.2:
            del blob[rng.randrange(len(blob)) :]
        try:
            tree = DataTree.from_bytes(bytes(blob))
        except SnapshotError:
            refused += 1
            continue
        assert_consistent(tree)
        assert DataTree.from_bytes(tree.to_bytes()).digest() == tree.digest()
    assert refused > 200
