"""Log replication and commitment: Figures 7 and 8 of the Raft paper, flow control,
batching, fast backtracking, snapshots."""

from __future__ import annotations

import pytest

from roost.raft import ConfState, MsgType, Role
from roost.raft.messages import Message

from .helpers import Harness, seed_log

LEADER_LOG = [1, 1, 4, 4, 5, 5, 6, 6, 6]  # Figure 7, indexes 2..10 (index 1 is term 1)
FOLLOWERS = {
    "a": [1, 1, 4, 4, 5, 5, 6, 6],
    "b": [1, 1, 4],
    "c": [1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
    "d": [1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
    "e": [1, 1, 4, 4, 4, 4],
    "f": [1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
}


@pytest.mark.parametrize("case", sorted(FOLLOWERS))
def test_figure7_leader_brings_every_follower_log_in_line(case: str) -> None:
    h = Harness([1, 2, 3], pre_vote=False)
    seed_log(h.storage[1], LEADER_LOG)
    seed_log(h.storage[2], FOLLOWERS[case])
    seed_log(h.storage[3], LEADER_LOG)
    for n in (1, 2, 3):
        h.restart(n)
    h.elect(1)
    idx = h.propose(1, b"after")
    assert h.log_terms(2) == h.log_terms(1)
    assert h.nodes[2].committed == idx
    # The repair took a handful of round trips, not one per conflicting entry.
    rejects = [m for m in h.sent if m.type is MsgType.APP_RESP and m.frm == 2 and m.reject]
    assert len(rejects) <= 3


def _figure8(bugs: frozenset[str]) -> Harness:
    """The Figure 8 situation with five servers; one entry per append message."""
    h = Harness([1, 2, 3, 4, 5], pre_vote=False, check_quorum=False, max_size_per_msg=1,
                _bugs=bugs)
    h.elect(1)
    base = h.nodes[1].raft.log.last_index()
    # (a) S1 leads term 2 and gets index base+1 only onto S2.
    h.partition([1, 2], [3, 4, 5])
    h.propose(1, b"from-term-2")
    # (b) S1 crashes; S5 wins with S3 and S4 and writes its own base+1, which goes nowhere.
    h.crash(1)
    h.elect(5, drop=lambda m: m.type is MsgType.APP and m.frm == 5)
    h.crash(5)
    # (c) S1 restarts and leads again; it copies its base+1 to S3 but its own new
    #     entry at base+2 never leaves.
    h.heal()
    h.restart(1)

    def no_newer(m: Message) -> bool:  # drop appends that would land base+2 anywhere
        if m.type is not MsgType.APP or not m.entries or m.index < base + 1:
            return False
        return h.nodes[m.to].raft.log.last_index() >= base + 1

    h.elect(1, drop=no_newer)
    h.tick_all(3, drop=no_newer)
    assert h.nodes[3].raft.log.term(base + 1) == h.nodes[1].raft.log.term(base + 1)
    h.base = base  # type: ignore[attr-defined]
    return h


def test_figure8_a_previous_term_entry_is_not_committed_by_counting() -> None:
    h = _figure8(frozenset())
    base: int = h.base  # type: ignore[attr-defined]
    # Stored on S1, S2, S3 (a majority) yet not committed: its term is not the leader's.
    assert h.nodes[1].committed == base
    # (d) S1 crashes; S5 (last term 3) wins and overwrites index base+1 everywhere.
    h.crash(1)
    h.restart(5)
    h.elect(5)
    h.propose(5, b"later")
    applied_at = {n: {e.index: e for e in h.applied[n]} for n in (1, 2, 3, 4, 5)}
    seen = {applied_at[n][base + 1] for n in (1, 2, 3, 4, 5) if base + 1 in applied_at[n]}
    assert len(seen) == 1  # every node that applied base+1 applied the same entry


def test_figure8_planted_bug_commits_old_term_entry_and_loses_it() -> None:
    h = _figure8(frozenset({"commit_old_term"}))
    base: int = h.base  # type: ignore[attr-defined]
    assert h.nodes[1].committed == base + 1  # the bug commits it by counting
    lost = next(e for e in h.applied[1] if e.index == base + 1)
    h.crash(1)
    h.restart(5)
    for _ in range(3):  # the cluster livelocks later, so drive only the election
        if h.nodes[5].role is not Role.LEADER:
            h.nodes[5].campaign()
        for _ in range(4):
            h.process_all()
            h.deliver()
    assert h.nodes[5].role is Role.LEADER
    # A legitimately elected leader lacks an entry that was applied: it is lost.
    assert h.nodes[5].raft.log.term(base + 1) != lost.term


def test_new_leader_commits_previous_terms_entries_with_its_noop() -> None:
    h = Harness([1, 2, 3], check_quorum=False)
    h.elect(1)
    h.isolate(1)
    h.nodes[1].propose(b"x")
    h.process(1)
    h.heal()
    h.deliver(drop=lambda m: m.to != 2)  # x reaches node 2 only
    h.crash(1)
    h.elect(2)
    assert b"x" in [e.data for e in h.applied[3]]


def test_proposals_between_readies_travel_in_one_append() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    h.sent.clear()
    for k in range(100):
        h.nodes[1].propose(f"b{k}".encode())
    h.process(1)
    apps = [m for m in h.queue if m.type is MsgType.APP]
    assert len(apps) == 2 and all(len(m.entries) == 100 for m in apps)
    h.stabilize()
    assert sum(1 for e in h.applied[3] if e.data.startswith(b"b")) == 100


def test_flow_control_limits_inflight_messages_and_bytes() -> None:
    h = Harness([1, 2], max_inflight_msgs=2, max_size_per_msg=1)
    h.elect(1)
    h.queue.clear()
    for k in range(10):
        h.nodes[1].propose(f"f{k}".encode())
    h.process(1)
    apps = [m for m in h.queue if m.type is MsgType.APP]
    assert len(apps) == 2 and all(len(m.entries) == 1 for m in apps)
    h.stabilize()
    assert h.nodes[2].committed == h.nodes[1].raft.log.last_index()


def test_lost_appends_are_recovered_by_heartbeats() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    h.nodes[1].propose(b"lost")
    h.stabilize(drop=lambda m: m.type is MsgType.APP)
    assert h.nodes[1].committed < h.nodes[1].raft.log.last_index()
    h.tick_all(3)
    assert h.nodes[2].committed == h.nodes[1].raft.log.last_index()


def _compact(h: Harness, n: int) -> int:
    st = h.storage[n]
    idx = h.nodes[n].applied
    st.create_snapshot(idx, h.nodes[n].conf_state, f"image@{idx}".encode())
    st.compact(idx)
    return idx


def test_snapshot_is_sent_to_a_follower_behind_the_compaction_point() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    h.isolate(3)
    for k in range(20):
        h.propose(1, f"s{k}".encode())
    snap_index = _compact(h, 1)
    h.heal()
    h.tick_all(3)
    assert h.snapshots.get(3) == snap_index
    assert h.storage[3].snapshot().data == f"image@{snap_index}".encode()
    assert h.nodes[3].raft.log.first_index() == snap_index + 1
    assert h.nodes[3].conf_state == ConfState(frozenset({1, 2, 3}))
    idx = h.propose(1, b"after-snapshot")
    assert h.nodes[3].committed == idx
    assert h.applied[3][-1].data == b"after-snapshot"
    assert h.count_sent(MsgType.SNAP) == 1


def test_snapshot_travels_in_chunks_and_survives_a_lost_chunk() -> None:
    h = Harness([1, 2, 3], snapshot_chunk_size=4)
    h.elect(1)
    h.isolate(3)
    for k in range(5):
        h.propose(1, f"c{k}".encode())
    snap_index = h.nodes[1].applied
    image = bytes(range(22))
    h.storage[1].create_snapshot(snap_index, h.nodes[1].conf_state, image)
    h.storage[1].compact(snap_index)
    h.heal()
    lost: list[int] = []

    def drop_one(m: Message) -> bool:  # lose the chunk at offset 8, once
        if m.type is MsgType.SNAP and m.offset == 8 and not lost:
            lost.append(m.offset)
            return True
        return False

    h.tick_all(30, drop=drop_one)
    assert lost == [8]
    assert h.snapshots.get(3) == snap_index
    assert h.storage[3].snapshot().data == image
    chunks = [m for m in h.sent if m.type is MsgType.SNAP]
    assert all(len(m.snapshot.data) <= 4 for m in chunks if m.snapshot is not None)
    assert sum(1 for m in chunks if m.done) >= 1
    assert len(chunks) >= -(-len(image) // 4) + 1  # every chunk, plus the re-sent one


def test_stale_snapshot_is_ignored() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    h.propose(1, b"x")
    st = h.storage[1].snapshot()
    old = Message(MsgType.SNAP, 2, 1, h.nodes[1].term, snapshot=st)
    h.nodes[2].step(old)
    h.process(2)
    assert 2 not in h.snapshots
    assert h.nodes[2].role is Role.FOLLOWER
