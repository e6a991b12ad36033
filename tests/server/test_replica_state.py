"""The replica's state with no I/O: entries in, tree changes, replies and watch events out."""

from __future__ import annotations

from roost.raft import Entry, EntryKind
from roost.replica.member import Member
from roost.replica.membership import Change
from roost.replica.state import Dedupe, ReplicaState
from roost.tree import TreeConfig
from roost.tree.txn import Kind, Txn, TxnResult
from roost.wire.errors import Err
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


def test_a_members_txns_apply_only_in_the_order_it_numbered_them() -> None:
    """A session's writes apply in the order sent (ZooKeeper's FIFO order): a txn that
    reaches the log behind a later one of the same member and boot (forwarded, dropped by
    a leader that lost its leadership meanwhile, resent after the later one applied) does
    not apply, and its client is told ConnectionLoss."""
    applied: list[tuple[int, Txn, TxnResult]] = []
    origin = state(1, {1: M[1]}, [])
    replies: list[tuple[str, int, int]] = []
    a = origin.stamp(create("/a"), lambda z, r: replies.append(("/a", z, r.err)), None, 0.0)
    b = origin.stamp(create("/b"), lambda z, r: replies.append(("/b", z, r.err)), None, 0.0)
    other = state(2, {1: M[1], 2: M[2]}, applied)
    for s in (origin, other):
        s.apply(Entry(1, 2, EntryKind.NORMAL, b.txn))
        s.apply(Entry(1, 3, EntryKind.NORMAL, a.txn))  # /a behind /b: not applied
        s.apply(Entry(1, 4, EntryKind.NORMAL, b.txn))  # and /b's copy neither
    assert replies == [("/b", 2, 0), ("/a", 0, int(Err.CONNECTION_LOSS))]
    assert [z for z, _, _ in applied] == [2]
    for s in (origin, other):
        assert s.tree.get("/b") is not None and s.tree.get("/a") is None
        assert s.tree.last_zxid == 4 and not s.pending
    # a later txn of the origin's still applies, and the marks survive an image
    c = origin.stamp(create("/c"), None, None, 0.0)
    restored = state(2, {}, [])
    restored.load(other.image(), {})
    for s in (origin, restored):
        s.apply(Entry(1, 5, EntryKind.NORMAL, a.txn))
        s.apply(Entry(1, 6, EntryKind.NORMAL, c.txn))
        assert s.tree.get("/a") is None and s.tree.get("/c") is not None


def test_an_image_that_lists_seqs_above_its_mark_keeps_the_highest() -> None:
    """An image of the version that applied seqs out of order lists the seqs applied above
    its contiguous mark: none at or below the highest applies again."""
    d = Dedupe.from_list([[1, 77, 3, [5, 9]]])
    assert [d.first_time(1, 77, s) for s in (4, 8, 9, 10)] == [False, False, False, True]
    assert d.to_list() == [[1, 77, 10, []]]
