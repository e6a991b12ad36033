"""Three replica cores wired by an in-memory network, driven by hand: no sockets, no
clock, no threads. A write taken in by a follower is forwarded, committed, applied once
everywhere and answered once by the member that took it in; a read barrier on a follower
waits for what was committed before it."""

from __future__ import annotations

from roost.raft import NONE, Role
from roost.testing.replica_group import TICK, Group
from roost.tree.txn import Kind, Txn, TxnResult
from roost.wire.opcodes import Op
from roost.wire.records import ACL, CreateRequest, Id

OPEN = [ACL(31, Id("world", "anyone"))]
def create(path: str) -> Txn:
    req = CreateRequest(path, b"", OPEN, 0)
    return Txn(Kind.REQUEST, 0, 1, (), int(Op.CREATE), req.to_bytes(), request=req)


def test_a_follower_forwards_and_answers_its_write_once() -> None:
    g = Group()
    g.cores[1].node.campaign()
    g.settle()
    assert g.cores[1].role == Role.LEADER
    assert all(c.leader == 1 for c in g.cores.values())
    replies: list[tuple[int, int]] = []

    def done(zxid: int, res: TxnResult) -> None:
        replies.append((zxid, res.err))

    g.cores[2].propose(create("/x"), done, None, g.now)
    g.settle()
    g.tick(2)  # heartbeats carry the commit index to the followers
    assert len(replies) == 1 and replies[0][1] == 0
    zxid = replies[0][0]
    for c in g.cores.values():
        assert c.state.tree.get("/x") is not None and c.state.last_index >= zxid
    digests = {c.state.tree.digest() for c in g.cores.values()}
    assert len(digests) == 1
    # the same txn resent (as after a leader change) does not apply twice
    g.cores[2].resend_all()
    g.settle()
    g.tick(2)
    assert len(replies) == 1


def test_a_read_barrier_waits_for_the_commit() -> None:
    g = Group()
    g.cores[1].node.campaign()
    g.settle()
    g.cores[1].propose(create("/y"), None, None, g.now)
    g.settle()
    seen: list[bool] = []
    g.barrier(3, b"ctx-1", lambda: seen.append(g.cores[3].state.tree.get("/y") is not None),
              lambda: seen.append(False))
    g.settle()
    g.tick(2)
    assert seen == [True]


def test_without_a_leader_a_full_waiting_room_fails_fast_and_time_outs_expire() -> None:
    g = Group()
    core = g.cores[2]
    assert core.leader == NONE
    lost: list[int] = []
    core.propose(create("/z"), lambda z, r: lost.append(r.err), None, g.now)
    g.perform(2)
    assert lost == []
    core.tick(g.now + 6.0)  # past the request timeout: ConnectionLoss
    assert lost == []  # (an effect: the host performs it)
    g.perform(2)
    assert len(lost) == 1 and lost[0] != 0
    assert core.partitioned(g.now + 2 * 10 * TICK + 0.01)
