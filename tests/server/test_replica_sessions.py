"""Session liveness in the replica core (roost.replica.sessions), on explicit time: who may
expire, the restart when a leader is established, the table after a snapshot install, and
liveness grants."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import replace

import pytest

from roost.raft import Role
from roost.replica.core import ReplicaCore
from roost.replica.effects import Effect, Granted, Reset, RoleChanged
from roost.replica.sessions import Sessions, lease_bound
from roost.replica.state import encode_image
from roost.testing.replica_group import MEMBERS, Group
from roost.tree import DataTree, TreeConfig
from roost.tree.context import SessionInfo
from roost.tree.txn import Kind, Txn


def test_deadlines_follow_touches_and_only_an_expiring_member_decides() -> None:
    s = Sessions(1)
    s.track(7, 1000, now=10.0)
    s.touch(7, now=10.5)
    assert s.expired(11.4, may_expire=True) == []
    assert s.expired(11.6, may_expire=False) == []  # a follower never decides
    assert s.expired(11.6, may_expire=True) == [7]
    assert s.expired(20.0, may_expire=True) == []  # already closing: not proposed again
    s.forget(7)
    assert 7 not in s.deadlines and 7 not in s.closing


def test_restart_gives_fresh_deadlines_and_drops_what_the_tree_lacks() -> None:
    s = Sessions(1)
    s.track(1, 1000, now=0.0)
    s.track(2, 1000, now=0.0)
    assert s.expired(5.0, may_expire=True) == [1, 2]
    s.restart({2: 1000, 3: 2000}, now=5.0)
    assert set(s.timeouts) == {2, 3} and not s.closing
    assert s.deadlines == {2: 6.0, 3: 7.0}


def test_sync_after_an_install_keeps_known_deadlines() -> None:
    s = Sessions(1)
    s.track(1, 1000, now=0.0)
    s.track(2, 1000, now=0.0)
    s.sync({2: 1000, 3: 1000}, now=0.5)
    assert s.deadlines == {2: 1.0, 3: 1.5}


def test_grants_run_from_the_report_send_time_plus_l() -> None:
    s = Sessions(1)
    s.track(5, 2000, now=0.0)
    assert not s.may_answer(5, 0.0)
    assert lease_bound(2000) == pytest.approx(1.0)
    assert s.grant([5, 99], sent_at=2.0) == [5]  # 99: unknown here, not granted
    assert s.may_answer(5, 2.9) and not s.may_answer(5, 3.0)
    s.grant([5], sent_at=1.0)  # an older report never shortens a grant
    assert s.may_answer(5, 2.9)


def _group_with_sessions() -> tuple[Group, dict[int, Sessions]]:
    g = Group()
    tables = {nid: Sessions(nid) for nid in g.cores}
    for nid, core in g.cores.items():
        core.sessions = tables[nid]
    return g, tables


def _session(core: ReplicaCore, sid: int, timeout_ms: int, now: float) -> None:
    core.propose(Txn(Kind.CREATE_SESSION, sid, 1, body=b"\0" * 16, timeout_ms=timeout_ms),
                 None, None, now)


def test_a_leader_expires_only_once_established_and_restarts_every_deadline() -> None:
    g, tables = _group_with_sessions()
    g.cores[1].node.campaign()
    g.settle()
    leader = g.cores[1]
    assert leader.role == Role.LEADER and leader.established and leader.may_expire
    assert not g.cores[2].may_expire
    _session(leader, 0x51, 1000, g.now)
    g.settle()
    g.tick(2)
    assert all(0x51 in c.state.tree.sessions for c in g.cores.values())
    for t in tables.values():  # as each host does when the createSession applies
        t.track(0x51, 1000, g.now)
    # member 2 takes over: elected, it may not expire until its own no-op applied, and
    # then every session's deadline starts again at that moment
    tables[2].deadlines[0x51] = -100.0  # as if member 2 had not heard of it for long
    g.now += 1.0
    core2 = g.cores[2]
    at_election: list[tuple[Role, bool, list[int]]] = []
    def on_role(e: Effect) -> None:
        if isinstance(e, RoleChanged):
            at_election.append((e.role, core2.may_expire,
                                tables[2].expired(g.now, core2.may_expire)))

    g.hooks[2] = on_role
    assert tables[1].expired(g.now + 100, leader.may_expire) == [0x51]  # member 1 decides
    leader.node.transfer_leadership(2)
    g.settle()
    assert (Role.LEADER, False, []) in at_election  # elected, not yet established
    assert 0x51 not in tables[1].closing  # member 1's decision went with its leadership
    assert core2.established and core2.may_expire
    assert tables[2].deadlines[0x51] == pytest.approx(g.now + 1.0)
    assert tables[2].expired(g.now + 0.9, core2.may_expire) == []
    assert tables[2].expired(g.now + 1.1, core2.may_expire) == [0x51]


def test_a_snapshot_install_brings_the_session_table_in_line_with_the_tree() -> None:
    g, tables = _group_with_sessions()
    follower = g.cores[3]
    tables[3].track(0xA, 1000, now=0.0)  # a session the new tree no longer has
    tree = DataTree(TreeConfig())
    tree.sessions[0xB] = SessionInfo(2000, b"\0" * 16)
    image = encode_image(tree, follower.state.dedupe, {m.id: m for m in MEMBERS})
    follower.now = 3.0
    follower._install(image, 5, g.cores[1].node.conf_state)
    assert follower.take_effects() == [Reset()]  # the host drops its clients
    assert set(tables[3].timeouts) == {0xB}
    assert tables[3].deadlines[0xB] == pytest.approx(5.0)


class _CuttableWire(deque[tuple[int, int, int, bytes]]):
    """The group's in-memory network, with members that can be cut off."""

    def __init__(self) -> None:
        super().__init__()
        self.cut: set[int] = set()

    def append(self, msg: tuple[int, int, int, bytes]) -> None:
        if msg[0] not in self.cut and msg[1] not in self.cut:
            super().append(msg)


def test_a_member_answers_a_session_only_while_the_leader_confirms_it() -> None:
    g, tables = _group_with_sessions()
    wire = _CuttableWire()
    g.wire = wire
    granted: list[list[int]] = []
    g.hooks[3] = lambda e: granted.append(e.sids) if isinstance(e, Granted) else None
    g.cores[1].node.campaign()
    g.settle()
    sid = 0x77
    _session(g.cores[1], sid, 2000, g.now)  # L = 1 s
    g.settle()
    g.tick(2)
    for t in tables.values():  # as each host does when the createSession applies
        t.track(sid, 2000, g.now)
    assert sid in tables[3].timeouts and not tables[3].may_answer(sid, g.now)
    # member 3's client pings: reported at its next tick, acknowledged after the leader's
    # leadership check; the grant runs from the report's send time
    tables[3].touch(sid, g.now)
    g.cores[3].touch(sid)
    g.tick(4)
    assert granted == [[sid]]
    sent_at = g.now - 3 * 0.05  # the first of those ticks
    assert tables[3].granted[sid] == pytest.approx(sent_at + 1.0)
    assert tables[3].may_answer(sid, g.now)
    # the leader holds the session's deadline from the report's arrival
    assert tables[1].deadlines[sid] >= sent_at + 2.0
    # cut off: new pings are not confirmed, and within L of the last confirmed report
    # member 3 stops answering
    wire.cut.add(3)
    until = tables[3].granted[sid]
    for _ in range(30):
        tables[3].touch(sid, g.now)
        g.cores[3].touch(sid)
        g.tick()
    assert tables[3].granted[sid] == until
    assert not tables[3].may_answer(sid, until)


def test_the_leader_confirms_no_session_it_is_closing() -> None:
    g, tables = _group_with_sessions()
    g.cores[1].node.campaign()
    g.settle()
    _session(g.cores[1], 0x88, 2000, g.now)
    g.settle()
    g.tick(2)
    for t in tables.values():
        t.track(0x88, 2000, g.now)
    tables[1].closing.add(0x88)  # its expiry was decided
    tables[2].touch(0x88, g.now)
    g.cores[2].touch(0x88)
    g.tick(4)
    assert not tables[2].may_answer(0x88, g.now)
    assert g.cores[2].reports == {}  # the report was acknowledged, without the session


def test_a_session_reattaches_with_its_password_and_waits_while_closing() -> None:
    s = Sessions(1)
    s.track(9, 1000, now=0.0)
    info = SessionInfo(1000, b"p" * 16)
    assert s.reattach(9, info, b"p" * 16) == "ok"
    assert s.reattach(9, info, b"q" * 16) == "expired"
    assert s.reattach(9, None, b"p" * 16) == "expired"
    assert s.expired(5.0, may_expire=True) == [9]
    assert s.reattach(9, info, b"p" * 16) == "wait"  # the expiry may not commit
    s.abandon_expiries()  # the leadership that decided it ended
    assert s.reattach(9, info, b"p" * 16) == "ok"
    assert s.expired(5.0, may_expire=True) == [9]  # decided again if leading again


def _without_grants(core: ReplicaCore) -> None:
    """The core as a version without grants runs: it never acknowledges a report (nor
    reads the newer form of one) and answers every session."""
    core.config = replace(core.config, grants=False)
    core.gating = False


def test_a_leader_without_grants_is_detected_and_its_followers_answer_without_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    g, tables = _group_with_sessions()
    _without_grants(g.cores[1])
    g.cores[1].node.campaign()
    g.settle()
    sid = 0x99
    _session(g.cores[1], sid, 2000, g.now)
    g.settle()
    g.tick(2)
    for t in tables.values():
        t.track(sid, 2000, g.now)
    follower = g.cores[3]
    assert follower.leader == 1 and follower.leader_grants is None and follower.gating
    answerable: list[bool] = []
    with caplog.at_level(logging.INFO, logger="roost.raftlog"):
        for _ in range(2 * 10 + 2):  # two election timeouts
            tables[3].touch(sid, g.now)
            follower.touch(sid)
            answerable.append(follower.may_answer(sid, g.now))
            g.tick()
    # the reports went in the form the old leader reads: it holds the session alive
    assert tables[1].deadlines[sid] >= g.now - 0.2 + 2.0
    assert follower.reports == {} and tables[3].granted == {}
    # held while it was not known whether the leader grants, then answered without grants
    assert not answerable[0] and answerable[-1]
    assert follower.leader_grants is False and not follower.gating
    assert follower.may_answer(sid, g.now + 100)
    warned = [r for r in caplog.records
              if "member 3: leader 1 does not acknowledge" in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING
    # the upgraded member 2 takes over: it says it grants; member 3 gates again, under its
    # grants, and its reports take the newer form
    g.cores[1].node.transfer_leadership(2)
    g.settle()
    assert g.cores[2].is_leader and follower.leader == 2
    assert follower.leader_grants is True and follower.gating
    assert not follower.may_answer(sid, g.now)  # no grant from member 2 yet
    tables[3].touch(sid, g.now)
    follower.touch(sid)
    g.tick(4)
    assert follower.may_answer(sid, g.now) and tables[3].granted[sid] > g.now


def test_followers_learn_at_once_that_an_upgraded_leader_grants() -> None:
    g, _ = _group_with_sessions()
    g.cores[1].node.campaign()
    g.settle()
    for nid in (2, 3):
        assert g.cores[nid].leader_grants is True and g.cores[nid].gating
    # a member that lost the word (its link broke) asks again with a report in the older
    # form, which the leader answers with its word
    follower = g.cores[3]
    follower.peer_down(1)
    assert 1 not in follower.granting_peers
    g.tick(3)  # heartbeats: member 1 leads again for member 3
    assert follower.leader == 1
    follower.touch(0x5)
    g.tick(2)
    assert follower.leader_grants is True and 1 in follower.granting_peers
