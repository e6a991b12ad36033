"""Elections: basic, the election restriction, pre-vote, check-quorum, learners, transfer."""

from __future__ import annotations

from roost.raft import MsgType, NotLeaderError, Role
from roost.raft.messages import Message

from .helpers import Harness, seed_log


def test_candidate_with_majority_becomes_leader_and_commits_a_noop() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    assert [h.nodes[n].role for n in (1, 2, 3)] == [Role.LEADER, Role.FOLLOWER, Role.FOLLOWER]
    assert all(h.nodes[n].leader == 1 for n in (1, 2, 3))
    term = h.nodes[1].term
    # The no-op of the new term is committed and applied everywhere.
    for n in (1, 2, 3):
        last = h.applied[n][-1]
        assert (last.term, last.data) == (term, b"")


def test_election_restriction_outdated_log_cannot_win() -> None:
    h = Harness([1, 2, 3], pre_vote=False)
    seed_log(h.storage[2], [2, 2])
    seed_log(h.storage[3], [2, 2])
    for n in (2, 3):
        h.restart(n)
    h.nodes[1].campaign()
    h.stabilize()
    assert h.nodes[1].role is not Role.LEADER
    rejections = [m for m in h.sent if m.type is MsgType.VOTE_RESP and m.to == 1]
    assert rejections and all(m.reject for m in rejections)
    h.elect(2)
    assert h.nodes[2].role is Role.LEADER


def test_election_restriction_compares_last_term_before_length() -> None:
    h = Harness([1, 2, 3], pre_vote=False)
    seed_log(h.storage[1], [2, 2, 2, 2])  # longer, older
    seed_log(h.storage[2], [3])  # shorter, newer
    seed_log(h.storage[3], [3])
    for n in (1, 2, 3):
        h.restart(n)
    h.nodes[1].campaign()
    h.stabilize()
    assert h.nodes[1].role is not Role.LEADER
    h.elect(2)
    assert h.log_terms(1)[-2:] == [3, h.nodes[2].term]  # node 1's stale tail replaced


def test_votes_once_per_term() -> None:
    h = Harness([1, 2, 3], pre_vote=False)
    h.isolate(3)
    h.nodes[1].campaign()
    h.stabilize()
    term = h.nodes[1].term
    vote = Message(MsgType.VOTE, 2, 3, term, log_term=9, index=99)
    h.nodes[2].step(vote)  # same term, better log, but 2 already voted for 1
    h.process(2)
    resp = [m for m in h.queue if m.to == 3 and m.type is MsgType.VOTE_RESP]
    assert resp and resp[-1].reject


def test_prevote_stops_a_rejoining_node_from_deposing_the_leader() -> None:
    h = Harness([1, 2, 3], pre_vote=True, check_quorum=True)
    h.elect(1)
    term = h.nodes[1].term
    h.isolate(3)
    h.tick(3, 100)  # many election timeouts while cut off
    assert h.nodes[3].term == term  # pre-votes failed, so the term never rose
    h.heal()
    h.tick_all(30)
    assert h.nodes[1].role is Role.LEADER
    assert h.nodes[1].term == term


def test_without_prevote_a_rejoining_node_disrupts_the_leader() -> None:
    h = Harness([1, 2, 3], pre_vote=False, check_quorum=False)
    h.elect(1)
    term = h.nodes[1].term
    h.isolate(3)
    h.tick(3, 100)
    assert h.nodes[3].term > term + 3
    h.heal()
    h.tick_all(30)
    assert h.nodes[1].term > term  # the old leader had to step down


def test_check_quorum_leader_steps_down_without_a_majority() -> None:
    h = Harness([1, 2, 3], check_quorum=True)
    h.elect(1)
    h.isolate(1)
    h.tick(1, 9)
    assert h.nodes[1].role is Role.LEADER
    h.tick(1, 12)  # a full election timeout without hearing from a majority
    assert h.nodes[1].role is Role.FOLLOWER


def test_a_follower_heard_from_stays_reported_active_across_a_quorum_check() -> None:
    h = Harness([1, 2, 3], check_quorum=True)
    h.elect(1)
    prs = h.nodes[1].raft.prs
    h.tick_all(10)  # heartbeats answered, quorum checks done
    for _ in range(40):  # right after any check, recent_active is cleared; active is not
        h.nodes[1].tick()
        h.process(1)
        assert prs[2].active and prs[3].active
        h.stabilize()
    h.isolate(2)
    h.tick_all(25)  # two check periods without an answer from member 2
    assert not prs[2].active and prs[3].active


def test_without_check_quorum_isolated_leader_stays_leader() -> None:
    h = Harness([1, 2, 3], check_quorum=False)
    h.elect(1)
    h.isolate(1)
    h.tick(1, 50)
    assert h.nodes[1].role is Role.LEADER


def test_check_quorum_followers_ignore_votes_while_leader_is_alive() -> None:
    h = Harness([1, 2, 3], pre_vote=False, check_quorum=True)
    h.elect(1)
    term = h.nodes[1].term
    disruptive = Message(MsgType.VOTE, 2, 3, term + 5, log_term=term, index=99)
    h.nodes[2].step(disruptive)
    h.process(2)
    assert h.nodes[2].term == term and h.nodes[2].leader == 1


def test_learner_never_campaigns_and_its_vote_never_counts() -> None:
    h = Harness([1, 2, 3], learners=[4], pre_vote=False)
    h.isolate(4)
    h.tick(4, 200)
    assert h.nodes[4].role is Role.FOLLOWER
    assert h.count_sent(MsgType.VOTE, frm=4) == 0
    h.heal()
    h.isolate(2)
    h.isolate(3)
    h.nodes[1].campaign()
    h.process(1)
    asked = {m.to for m in h.queue if m.type is MsgType.VOTE}
    assert asked == {2, 3}  # the learner is not asked
    term = h.nodes[1].term
    h.nodes[1].step(Message(MsgType.VOTE_RESP, 1, 4, term))  # a grant from a learner
    h.process(1)
    assert h.nodes[1].role is Role.CANDIDATE


def test_learner_receives_the_log_but_does_not_count_for_commit() -> None:
    h = Harness([1, 2], learners=[3])
    h.elect(1)
    idx = h.propose(1, b"a")
    assert [e.data for e in h.applied[3]][-1] == b"a"
    h.isolate(2)
    idx = h.propose(1, b"b")
    assert h.nodes[3].raft.log.last_index() == idx  # the learner has it...
    assert h.nodes[1].committed < idx  # ...but only voter 2 could make it committed


def test_follower_rejects_proposals_with_the_leader_hint() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    try:
        h.nodes[2].propose(b"x")
    except NotLeaderError as exc:
        assert exc.leader == 1
    else:
        raise AssertionError("a follower accepted a proposal")


def test_leadership_transfer_catches_up_the_target_then_hands_over() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    h.isolate(3)
    for k in range(5):
        h.propose(1, f"x{k}".encode())
    h.heal()
    h.nodes[1].transfer_leadership(3)
    h.stabilize()
    assert h.nodes[3].role is Role.LEADER
    assert h.nodes[1].role is Role.FOLLOWER
    assert [e.data for e in h.applied[3] if e.data.startswith(b"x")] == [
        f"x{k}".encode() for k in range(5)
    ]
    assert h.count_sent(MsgType.TIMEOUT_NOW) == 1


def test_transfer_to_an_unreachable_node_is_abandoned_after_an_election_timeout() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    h.isolate(3)
    h.nodes[1].transfer_leadership(3)
    try:
        h.nodes[1].propose(b"blocked")
    except Exception as exc:  # proposals wait while a transfer is under way
        assert "transfer" in str(exc)
    else:
        raise AssertionError("proposal accepted during a transfer")
    h.tick_all(12)
    assert h.nodes[1].role is Role.LEADER
    assert h.nodes[1].propose(b"ok") > 0
