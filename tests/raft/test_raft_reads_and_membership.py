"""ReadIndex, lease reads, membership changes and the persistence contract of Ready."""

from __future__ import annotations

import random

import pytest

from roost.raft import (
    ConfChange,
    ConfChangeType,
    Config,
    ConfState,
    MemoryStorage,
    MsgType,
    ProposalDroppedError,
    RaftNode,
    Role,
)
from roost.raft.messages import Message

from .helpers import Harness


def test_read_index_on_leader_returns_commit_after_a_heartbeat_round() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    idx = h.propose(1, b"w")
    h.sent.clear()
    h.nodes[1].read_index(b"r1")
    h.process(1)
    assert h.reads[1] == []  # not before a majority confirmed leadership
    h.stabilize()
    assert [(r.index, r.context) for r in h.reads[1]] == [(idx, b"r1")]
    assert h.count_sent(MsgType.HEARTBEAT) == 2


def test_many_concurrent_reads_share_one_heartbeat_round() -> None:
    h = Harness([1, 2, 3, 4, 5])
    h.elect(1)
    h.sent.clear()
    for k in range(50):
        h.nodes[1].read_index(f"r{k}".encode())
    h.stabilize()
    assert [r.context for r in h.reads[1]] == [f"r{k}".encode() for k in range(50)]
    assert h.count_sent(MsgType.HEARTBEAT) == 4  # one round: one heartbeat per follower


def test_read_index_from_a_follower_is_forwarded_to_the_leader() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    idx = h.propose(1, b"w")
    h.nodes[3].read_index(b"f")
    h.stabilize()
    assert [(r.index, r.context) for r in h.reads[3]] == [(idx, b"f")]


def test_read_index_under_a_stale_leader_never_answers() -> None:
    h = Harness([1, 2, 3], check_quorum=False)
    h.elect(1)
    h.isolate(1)
    h.elect(2)
    newer = h.propose(2, b"written-by-new-leader")
    assert h.nodes[1].role is Role.LEADER  # still believes it leads
    h.nodes[1].read_index(b"stale")
    h.tick_all(5)
    assert h.reads[1] == []  # it cannot get a majority to confirm
    h.heal()
    h.tick_all(5)
    assert h.nodes[1].role is Role.FOLLOWER
    assert all(r.context != b"stale" for r in h.reads[1])
    h.nodes[2].read_index(b"fresh")
    h.stabilize()
    assert [r.index >= newer for r in h.reads[2] if r.context == b"fresh"] == [True]


def test_new_leader_defers_reads_until_it_commits_in_its_term() -> None:
    h = Harness([1, 2, 3], pre_vote=False, check_quorum=False)
    h.elect(1)
    h.nodes[2].campaign()
    h.process(2)
    h.deliver()  # votes out
    h.deliver()  # votes back: 2 leads but has committed nothing in its term yet
    assert h.nodes[2].role is Role.LEADER
    h.nodes[2].read_index(b"deferred")
    h.process(2)
    assert h.reads[2] == []
    h.stabilize()
    assert [r.context for r in h.reads[2]] == [b"deferred"]
    assert h.reads[2][0].index == h.nodes[2].raft.log.last_index()  # its no-op


def _lease_cluster() -> Harness:
    h = Harness([1, 2, 3], lease_reads=True)
    h.tick_all(10)  # fresh nodes refuse votes for an election timeout
    h.elect(1)
    h.tick_all(1)  # one acknowledged heartbeat round starts the lease
    return h


def test_lease_reads_answer_without_a_round_trip_while_the_lease_holds() -> None:
    h = _lease_cluster()
    h.sent.clear()
    h.nodes[1].read_index(b"lease")
    h.process(1)
    assert [r.context for r in h.reads[1]] == [b"lease"]
    assert h.count_sent(MsgType.HEARTBEAT) == 0
    h.isolate(1)
    h.tick(1, 8)  # the lease ends election_tick - 2 ticks after the last confirmed round
    h.nodes[1].read_index(b"expired")
    h.process(1)
    assert [r.context for r in h.reads[1]] == [b"lease"]  # falls back to ReadIndex
    with pytest.raises(ValueError):
        Config(id=1, lease_reads=True, check_quorum=False).validate()


def test_lease_reads_make_a_restarted_node_refuse_votes_for_an_election_timeout() -> None:
    h = _lease_cluster()
    h.restart(2)
    vote = Message(MsgType.VOTE, 2, 3, h.nodes[1].term + 1, log_term=9, index=99)
    h.nodes[2].step(vote)
    h.process(2)
    assert not any(m.type is MsgType.VOTE_RESP for m in h.queue)
    h.tick(2, 10)
    h.nodes[2].step(vote)
    h.process(2)
    assert any(m.type is MsgType.VOTE_RESP and not m.reject for m in h.queue)


def test_with_lease_reads_a_follower_does_not_forget_its_leader() -> None:
    """A follower that forgets its leader (its link broke) grants pre-votes at once; with
    lease reads the leader may still answer reads on its lease, so it keeps counting the
    leader, as etcd's ForgetLeader refuses to under lease-based reads."""
    for lease in (False, True):
        h = Harness([1, 2, 3], lease_reads=lease, check_quorum=True, pre_vote=True)
        h.tick_all(10)
        h.elect(1)
        h.tick_all(1)
        for n in (2, 3):
            h.nodes[n].forget_leader()
        assert [h.nodes[n].raft.lead for n in (2, 3)] == ([1, 1] if lease else [0, 0])
        h.isolate(1)
        h.nodes[2].campaign()  # within the lease: elected only if they forgot the leader
        h.stabilize()
        assert (h.nodes[2].role is Role.LEADER) is not lease


def test_add_learner_then_promote_to_voter() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    h.propose(1, b"before")
    st = MemoryStorage()  # a brand-new node: empty storage, learns all from the leader
    h.storage[4], h.applied[4], h.reads[4] = st, [], []
    h.start(4)
    h.nodes[1].propose_conf_change(ConfChange(ConfChangeType.ADD_LEARNER, 4))
    h.stabilize()
    h.tick_all(2)
    assert h.nodes[1].conf_state == ConfState(frozenset({1, 2, 3}), frozenset({4}))
    assert h.nodes[4].conf_state.learners == frozenset({4})
    assert b"before" in [e.data for e in h.applied[4]]
    h.nodes[1].propose_conf_change(ConfChange(ConfChangeType.ADD_VOTER, 4))
    h.stabilize()
    assert h.nodes[4].conf_state.voters == frozenset({1, 2, 3, 4})
    # Four voters: a majority is now three, so two nodes down blocks commits.
    h.isolate(3)
    h.isolate(4)
    h.nodes[1].propose(b"needs-three")
    h.stabilize()
    assert h.nodes[1].committed < h.nodes[1].raft.log.last_index()


def test_only_one_conf_change_at_a_time() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    h.isolate(2)
    h.isolate(3)
    h.nodes[1].propose_conf_change(ConfChange(ConfChangeType.ADD_LEARNER, 4))
    with pytest.raises(ProposalDroppedError):
        h.nodes[1].propose_conf_change(ConfChange(ConfChangeType.ADD_LEARNER, 5))


def test_new_leader_waits_for_its_first_commit_before_a_conf_change() -> None:
    h = Harness([1, 2, 3], pre_vote=False)
    h.nodes[1].campaign()
    h.process(1)
    h.deliver()
    h.deliver()
    assert h.nodes[1].role is Role.LEADER
    assert h.nodes[1].applied < h.nodes[1].raft.log.last_index()  # no-op not applied yet
    with pytest.raises(ProposalDroppedError):
        h.nodes[1].propose_conf_change(ConfChange(ConfChangeType.ADD_LEARNER, 4))
    h.stabilize()
    assert h.nodes[1].propose_conf_change(ConfChange(ConfChangeType.ADD_LEARNER, 4)) > 0


def test_removed_leader_steps_down_and_the_rest_elect_a_new_one() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    h.nodes[1].propose_conf_change(ConfChange(ConfChangeType.REMOVE, 1))
    h.stabilize()
    assert h.nodes[1].role is Role.FOLLOWER
    assert h.nodes[2].conf_state.voters == frozenset({2, 3})
    h.crash(1)
    h.tick_all(40)
    leaders = [n for n in (2, 3) if h.nodes[n].role is Role.LEADER]
    assert len(leaders) == 1
    idx = h.propose(leaders[0], b"two-node-cluster")
    assert h.nodes[2].committed == h.nodes[3].committed == idx


def test_cannot_remove_the_last_voter() -> None:
    h = Harness([1])
    h.elect(1)
    with pytest.raises(ProposalDroppedError):
        h.nodes[1].propose_conf_change(ConfChange(ConfChangeType.REMOVE, 1))


def test_single_node_commits_after_its_own_persist() -> None:
    st = MemoryStorage()
    st.bootstrap(ConfState(frozenset({1})))
    node = RaftNode(Config(id=1), st, random.Random(3))
    node.campaign()
    rd = node.ready()
    assert node.role is Role.LEADER and rd.committed_entries == ()
    st.append(rd.entries)
    assert rd.hard_state is not None
    st.set_hard_state(rd.hard_state)
    node.advance()
    idx = node.propose(b"solo")
    rd = node.ready()
    assert node.committed < idx  # not durable yet, so not committed
    st.append(rd.entries)
    node.advance()
    rd = node.ready()
    assert [e.data for e in rd.committed_entries][-1] == b"solo"


def test_ready_holds_back_votes_and_acks_until_persisted() -> None:
    h = Harness([1, 2, 3])
    h.nodes[2].step(Message(MsgType.VOTE, 2, 1, 5, log_term=1, index=1))
    rd = h.nodes[2].ready()
    assert rd.hard_state is not None and rd.hard_state.vote == 1 and rd.must_sync
    assert rd.messages == ()
    assert [m.type for m in rd.messages_after_persist] == [MsgType.VOTE_RESP]
    h.nodes[2].advance()


def test_planted_ack_before_persist_puts_acks_in_the_early_list() -> None:
    h = Harness([1, 2, 3], _bugs=frozenset({"ack_before_persist"}))
    h.elect(1)
    h.nodes[1].propose(b"x")
    h.process(1)
    app = next(m for m in h.queue if m.type is MsgType.APP and m.to == 2)
    h.nodes[2].step(app)
    rd = h.nodes[2].ready()
    assert rd.entries and any(m.type is MsgType.APP_RESP for m in rd.messages)


def test_leader_sends_appends_before_its_own_write() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    h.nodes[1].propose(b"x")
    rd = h.nodes[1].ready()
    assert rd.entries and [m.type for m in rd.messages] == [MsgType.APP, MsgType.APP]
    h.nodes[1].advance()


def test_report_snapshot_failure_goes_back_to_probing() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    h.isolate(3)
    for k in range(5):
        h.propose(1, f"s{k}".encode())
    st = h.storage[1]
    idx = h.nodes[1].applied
    st.create_snapshot(idx, h.nodes[1].conf_state, b"img")
    st.compact(idx)
    h.heal()
    h.tick_all(1, drop=lambda m: m.type is MsgType.SNAP)  # the snapshot is lost
    pr = h.nodes[1].raft.prs[3]
    assert pr.state.name == "SNAPSHOT"
    h.nodes[1].report_snapshot(3, failed=True)
    assert pr.state.name == "PROBE"
    h.tick_all(3)
    assert h.snapshots.get(3) == idx


def test_restart_with_applied_ahead_of_the_stored_commit_index() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    idx = h.propose(1, b"x")
    st = h.storage[2]
    hs = st.hard_state
    st.set_hard_state(type(hs)(hs.term, hs.vote, 1))  # commit index not yet flushed
    node = RaftNode(Config(id=2, applied=idx), st, random.Random(1))
    assert node.committed == idx and node.applied == idx
    assert not node.ready().committed_entries  # nothing is applied twice
    with pytest.raises(ValueError):
        RaftNode(Config(id=2, applied=idx + 5), st, random.Random(1))
