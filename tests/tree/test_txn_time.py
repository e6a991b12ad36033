"""Txn times never go backwards along zxids (members' clocks differ), and the last applied
time survives a snapshot."""

from __future__ import annotations

import msgpack

from roost.tree import DataTree
from roost.tree.txn import Kind, Txn, apply_txn
from roost.wire.opcodes import Op
from roost.wire.records import ACL, CreateRequest, Id, SetDataRequest

OPEN = [ACL(31, Id("world", "anyone"))]


def create(path: str, t: int) -> Txn:
    body = CreateRequest(path, b"", OPEN, 0).to_bytes()
    return Txn(Kind.REQUEST, 0, t, (), int(Op.CREATE), body)


def test_a_txn_from_a_member_whose_clock_is_behind_applies_at_the_previous_time() -> None:
    tree = DataTree()
    apply_txn(tree, 1, create("/a", 5_000))
    apply_txn(tree, 2, create("/b", 3_000))  # proposed by a member 2 s behind
    a, b = tree.get("/a"), tree.get("/b")
    assert a is not None and b is not None
    assert (a.ctime, b.ctime) == (5_000, 5_000)
    body = SetDataRequest("/a", b"x", -1).to_bytes()
    apply_txn(tree, 3, Txn(Kind.REQUEST, 0, 7_000, (), int(Op.SET_DATA), body))
    assert a.mtime == 7_000 and tree.last_time_ms == 7_000
    # and every member computes the same: a copy loaded from a snapshot goes on identically
    copy = DataTree.from_bytes(tree.to_bytes())
    assert copy.last_time_ms == 7_000
    for t in (tree, copy):
        apply_txn(t, 4, create("/c", 6_000))
    c1, c2 = tree.get("/c"), copy.get("/c")
    assert c1 is not None and c2 is not None and c1.ctime == c2.ctime == 7_000
    assert tree.to_bytes() == copy.to_bytes()


def test_a_format_1_snapshot_takes_the_newest_node_time() -> None:
    tree = DataTree()
    apply_txn(tree, 1, create("/a", 5_000))
    raw = msgpack.unpackb(tree.to_bytes(), raw=False, use_list=True, strict_map_key=False)
    assert raw[1] == 2
    del raw[3]  # format 1 had no last time
    raw[1] = 1
    old = DataTree.from_bytes(msgpack.packb(raw, use_bin_type=True))
    assert old.last_time_ms == 5_000
