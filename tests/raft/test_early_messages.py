"""`RaftNode.early_messages`: while the host persists a Ready, appends of entries proposed
since and commit indexes leave at once; the leader's own copy counts only after advance;
nothing leaves early while a new term or vote is not durable."""

from __future__ import annotations

from roost.raft import Message, MsgType, Role

from .helpers import Harness


def leader_with_ready_in_flight() -> tuple[Harness, int]:
    h = Harness([1, 2, 3])
    h.elect(1)
    node = h.nodes[1]
    first = node.propose(b"a")
    rd = node.ready()  # the host starts persisting entry `first`...
    assert [e.index for e in rd.entries] == [first]
    h.queue.extend(rd.messages)  # (its appends went out before the disk write)
    return h, first


def test_appends_of_new_proposals_leave_while_the_leader_persists() -> None:
    h, first = leader_with_ready_in_flight()
    node = h.nodes[1]
    second = node.propose(b"b")  # ...and a proposal arrives meanwhile
    early = node.early_messages()
    apps = [m for m in early if m.type is MsgType.APP]
    assert sorted(m.to for m in apps) == [2, 3]
    assert all(second in [e.index for e in m.entries] for m in apps)
    assert node.early_messages() == ()  # taken once
    # the leader has not persisted `first`: its own match does not count yet
    assert node.raft.prs[1].match < first
    # both followers write and acknowledge: a quorum without the leader's disk commits
    h.queue.extend(early)
    h.deliver()
    for _ in range(5):
        batch, h.queue = h.queue, []
        for m in batch:
            if m.to == 1:
                node.step(m)
            else:
                h.queue.append(m)
                h.deliver()
        if node.committed >= second:
            break
    assert node.committed >= second
    assert node.raft.prs[1].match < first  # still not persisted by the leader
    commits = [m for m in node.early_messages() if m.type is MsgType.APP]
    # followers learn the commit index now, not at the next heartbeat
    assert {m.to for m in commits if m.commit >= second} == {2, 3}


def test_nothing_early_outside_a_ready_or_before_a_new_term_is_durable() -> None:
    h = Harness([1, 2, 3], pre_vote=False)
    h.elect(1)
    node = h.nodes[1]
    node.propose(b"x")
    assert node.early_messages() == ()  # no Ready in progress: ready() takes them
    h.stabilize()
    # node 2 campaigns: its new term and self-vote are in the Ready it persists...
    n2 = h.nodes[2]
    n2.campaign()
    rd = n2.ready()
    assert rd.hard_state is not None and rd.hard_state.term > node.term
    assert rd.messages == ()  # (its vote requests wait for the disk)
    # ...and wins meanwhile: its appends must wait too (the term is not durable)
    n2.step(Message(MsgType.VOTE_RESP, 2, 3, rd.hard_state.term))
    assert n2.role is Role.LEADER
    assert n2.early_messages() == ()
    n2.advance()
    after = n2.ready()
    assert {m.to for m in after.messages if m.type is MsgType.APP} == {1, 3}


def test_vote_requests_of_a_term_left_while_a_ready_was_persisted_never_leave() -> None:
    """A follower campaigns while the host persists its last Ready (the server calls
    `campaign` when the leader's link breaks), then votes in a newer term before that
    write completes: its next Ready persists the newer term, and its own term's vote
    requests, whose self-vote never reached the disk, are dropped."""
    h = Harness([1, 2, 3], pre_vote=False)
    h.elect(1)
    h.propose(1, b"x")
    n2 = h.nodes[2]
    n2.step(Message(MsgType.HEARTBEAT, 2, 1, n2.term, commit=n2.committed))
    rd = n2.ready()  # (something to persist: the host starts writing it)
    n2.campaign()
    term = n2.term
    assert n2.early_messages() == ()  # the new term is not durable
    n2.step(Message(MsgType.VOTE, 2, 3, term + 1, log_term=9, index=99))  # a newer term
    assert n2.term == term + 1 and n2.raft.vote == 3
    n2.advance()
    assert rd.hard_state is None or rd.hard_state.term < term
    after = n2.ready()
    assert after.hard_state is not None and after.hard_state.term == term + 1
    sent = [*after.messages, *after.messages_after_persist]
    assert not [m for m in sent if m.type is MsgType.VOTE]  # term `term`'s: stale
    assert [m.to for m in sent if m.type is MsgType.VOTE_RESP and not m.reject] == [3]
