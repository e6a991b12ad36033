"""Pure parts: message encoding, quorum arithmetic, storage and log, flow-control window."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.raft import (
    CompactedError,
    ConfChange,
    ConfChangeType,
    ConfState,
    Entry,
    EntryKind,
    MemoryStorage,
    Message,
    MsgType,
    Snapshot,
    SnapshotMeta,
    UnavailableError,
)
from roost.raft.log import RaftLog
from roost.raft.progress import Inflights
from roost.raft.quorum import VoteResult, committed_index, vote_result

ids = st.integers(min_value=1, max_value=9)
u64 = st.integers(min_value=0, max_value=2**63 - 1)
entries = st.builds(
    Entry, u64, u64, st.sampled_from(list(EntryKind)), st.binary(max_size=40)
)
confs = st.builds(ConfState, st.frozensets(ids), st.frozensets(ids))
snapshots = st.builds(
    Snapshot, st.builds(SnapshotMeta, u64, u64, confs), st.binary(max_size=40)
)
messages = st.builds(
    Message,
    type=st.sampled_from(list(MsgType)), to=ids, frm=ids, term=u64, log_term=u64,
    index=u64, entries=st.lists(entries, max_size=4).map(tuple), commit=u64,
    reject=st.booleans(), reject_hint=u64, context=st.binary(max_size=16),
    snapshot=st.none() | snapshots, offset=u64, done=st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(messages)
def test_message_bytes_round_trip(m: Message) -> None:
    assert Message.from_bytes(m.to_bytes()) == m


def test_message_from_bytes_rejects_other_data() -> None:
    with pytest.raises(ValueError):
        Message.from_bytes(b"\x93\x01\x02\x03")


def test_conf_change_round_trip_and_effect() -> None:
    cc = ConfChange(ConfChangeType.ADD_LEARNER, 4)
    assert ConfChange.from_bytes(cc.to_bytes()) == cc
    conf = ConfState(frozenset({1, 2, 3}))
    conf = cc.apply_to(conf)
    assert conf == ConfState(frozenset({1, 2, 3}), frozenset({4}))
    conf = ConfChange(ConfChangeType.ADD_VOTER, 4).apply_to(conf)
    assert conf == ConfState(frozenset({1, 2, 3, 4}))
    conf = ConfChange(ConfChangeType.REMOVE, 1).apply_to(conf)
    assert conf == ConfState(frozenset({2, 3, 4}))


def _naive_commit(voters: set[int], match: dict[int, int]) -> int:
    best = 0
    for idx in set(match.values()) | {0}:
        if sum(1 for v in voters if match.get(v, 0) >= idx) * 2 > len(voters):
            best = max(best, idx)
    return best


@settings(max_examples=300, deadline=None)
@given(st.sets(ids, min_size=1), st.dictionaries(ids, st.integers(0, 20)))
def test_committed_index_matches_a_naive_count(voters: set[int], match: dict[int, int]) -> None:
    assert committed_index(voters, match) == _naive_commit(voters, match)


def test_vote_result_won_lost_pending() -> None:
    voters = {1, 2, 3, 4, 5}
    assert vote_result(voters, {1: True, 2: True}) is VoteResult.PENDING
    assert vote_result(voters, {1: True, 2: True, 3: True}) is VoteResult.WON
    assert vote_result(voters, {1: True, 2: False, 3: False, 4: False}) is VoteResult.LOST
    assert vote_result(voters, {1: True, 6: True, 7: True}) is VoteResult.PENDING  # non-voters


def test_memory_storage_append_truncate_compact() -> None:
    s = MemoryStorage()
    s.append([Entry(1, 1), Entry(1, 2), Entry(1, 3)])
    s.append([Entry(2, 2, data=b"new")])  # conflicting tail replaced
    assert s.last_index() == 2 and s.term(2) == 2
    s.append([Entry(2, 3), Entry(2, 4)])
    snap = s.create_snapshot(3, ConfState(frozenset({1})), b"img")
    assert snap.meta.term == 2
    s.compact(3)
    assert s.first_index() == 4
    with pytest.raises(CompactedError):
        s.entries(3, 5, 1 << 20)
    with pytest.raises(UnavailableError):
        s.term(9)
    assert [e.index for e in s.entries(4, 5, 1 << 20)] == [4]


def test_storage_entries_respect_max_bytes_but_return_at_least_one() -> None:
    s = MemoryStorage()
    s.append([Entry(1, i, data=b"x" * 100) for i in range(1, 6)])
    assert len(s.entries(1, 6, 1)) == 1
    assert len(s.entries(1, 6, 3 * 124)) == 3


def test_log_find_conflict_by_term_skips_whole_terms() -> None:
    s = MemoryStorage()
    s.append([Entry(t, i) for i, t in enumerate([1, 1, 2, 2, 2, 5, 5], start=1)])
    log = RaftLog(s)
    assert log.find_conflict_by_term(7, 4) == (5, 2)
    assert log.find_conflict_by_term(7, 5) == (7, 5)
    assert log.find_conflict_by_term(3, 1) == (2, 1)


def test_log_maybe_append_refuses_on_mismatch_and_truncates_conflicts() -> None:
    s = MemoryStorage()
    s.append([Entry(1, 1), Entry(1, 2), Entry(1, 3)])
    log = RaftLog(s)
    assert log.maybe_append(3, 2, 0, (Entry(2, 4),)) is None
    assert log.maybe_append(1, 1, 2, (Entry(3, 2), Entry(3, 3))) == 3
    assert [log.term(i) for i in (1, 2, 3)] == [1, 3, 3]
    assert log.committed == 2
    with pytest.raises(AssertionError):
        log.maybe_append(1, 1, 2, (Entry(4, 2),))  # would overwrite a committed entry


def test_inflights_window() -> None:
    w = Inflights(max_count=3, max_bytes=1000)
    for i in (1, 2, 3):
        w.add(i, 10)
    assert w.full()
    w.free_le(2)
    assert len(w) == 1 and not w.full()
    w.add(4, 995)
    assert w.full()  # by bytes
    w.free_first_one()
    assert len(w) == 1


def test_snapshot_receiver_reassembles_and_restarts_on_a_foreign_snapshot() -> None:
    from roost.raft.snapshot import Offer, SnapshotReceiver, chunk

    old = Snapshot(SnapshotMeta(5, 1, ConfState(frozenset({1}))), b"abcdefgh")
    new = Snapshot(SnapshotMeta(9, 2, ConfState(frozenset({1}))), b"0123456789")
    r = SnapshotReceiver()
    part, done = chunk(old, 0, 3)
    assert r.offer(part, 0, done) == (Offer.ACCEPTED, None)
    part, done = chunk(new, 3, 3)
    assert r.offer(part, 3, done)[0] is Offer.GAP
    assert r.expected(new.meta) == 0  # the sender must start the new snapshot over
    assert r.expected(old.meta) == 3
    got = None
    for off in range(0, 10, 3):
        part, done = chunk(new, off, 3)
        status, got = r.offer(part, off, done)
        assert status is (Offer.COMPLETE if done else Offer.ACCEPTED)
        if off:  # a repeated chunk is ignored (offset 0 would restart the transfer)
            assert r.offer(part, off, done)[0] in (Offer.DUPLICATE, Offer.GAP)
    assert got == new
