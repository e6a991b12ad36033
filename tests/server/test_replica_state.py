"""The replica's state with no I/O: entries in, tree changes, replies and watch events out."""

from __future__ import annotations

from roost.raft import Entry, EntryKind
from roost.replica.member import Member
from roost.replica.membership import Change
from roost.replica.state import ReplicaState
from roost.tree import TreeConfig
from roost.tree.txn import Kind, Txn, TxnResult
from roost.wire.opcodes import Op
from roost.wire.records import ACL, CreateRequest, Id

OPEN = [ACL(31, Id("world", "anyone"))]
M = {i: Member(i, "127.0.0.1", 2180 + i, 2880 + i) for i in (1, 2, 3, 4)}


def state(member: int, founders: dict[int, Member], applied: list[tuple[int, Txn, TxnResult]]
          ) -> ReplicaState:
    s = ReplicaState(member, 77, TreeConfig(), founders,
                     lambda z, t, r: applied.append((z, t, r)))
    s.load(b"", founders)
    return s


def create(path: str) -> Txn:
    req = CreateRequest(path, b"", OPEN, 0)
    return Txn(Kind.REQUEST, 0, 1000, (), int(Op.CREATE), req.to_bytes(), request=req)


def test_a_resent_txn_applies_once_and_is_answered_once() -> None:
    applied: list[tuple[int, Txn, TxnResult]] = []
    s = state(1, {1: M[1]}, applied)
    replies: list[tuple[int, int]] = []
    p = s.stamp(create("/a"), lambda z, r: replies.append((z, r.err)), None, now=0.0)
    wire = bytes(bytearray(p.txn))  # as it comes back from a leader: other bytes, same txn
    s.apply(Entry(1, 2, EntryKind.NORMAL, wire))
    s.apply(Entry(1, 3, EntryKind.NORMAL, wire))  # the resent copy, committed too
    assert replies == [(2, 0)]
    assert [z for z, _, _ in applied] == [2]
    assert applied[0][1] is p.obj  # our own txn, its request decoded once
    assert s.tree.last_zxid == 3 and s.last_index == 3 and not s.pending


def test_a_joiner_installing_an_older_image_is_not_removed() -> None:
    leader = state(1, {i: M[i] for i in (1, 2, 3)}, [])
    old_image = leader.image()  # taken before member 4 was added
    joiner = state(4, {}, [])
    assert not joiner.serving
    joiner.install(old_image, 10, {})
    assert not joiner.removed and not joiner.serving
    add = Txn(Kind.RECONFIG, body=Change((M[4],), ()).to_bytes(), origin=1, boot=5, seq=1)
    joiner.apply(Entry(2, 11, EntryKind.NORMAL, add.to_bytes()))
    assert joiner.serving and not joiner.removed
    assert b"server.4=" in joiner.config_text()
    drop = Txn(Kind.RECONFIG, body=Change((), (4,)).to_bytes(), origin=1, boot=5, seq=2)
    joiner.apply(Entry(2, 12, EntryKind.NORMAL, drop.to_bytes()))
    assert joiner.removed and not joiner.serving


def test_proposals_expire_and_abandoned_ones_are_not_resent() -> None:
    s = state(1, {1: M[1]}, [])
    a = s.stamp(create("/a"), None, None, now=0.0)
    s.stamp(create("/b"), None, lambda: True, now=5.0)
    assert s.to_resend() == [a]  # /b's client was told the outcome is unknown
    assert s.expire(now=6.0, timeout=5.0) == [a] and not s.pending

