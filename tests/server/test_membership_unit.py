"""The membership registry's pure parts: ZooKeeper's reconfig strings, non-incremental
changes, configuration versions and /zookeeper/config's text; what a member answers a peer
that is not in its configuration, and when such an answer means a removal."""

from __future__ import annotations

import random

import pytest

from roost.raft import Config, ConfState, MemoryStorage, RaftNode
from roost.replica.core import CH_FORWARD, CH_TOUCH, CoreConfig, ReplicaCore
from roost.replica.effects import DropPeers, Send
from roost.replica.member import Member
from roost.replica.membership import (
    CONFIG_PATH,
    Change,
    ReconfigError,
    StaleConfigError,
    apply_change,
    config_version,
    parse_zk_reconfig,
    refusal,
    told_removed,
    write_config,
)
from roost.replica.state import ReplicaState
from roost.tree import DataTree, TreeConfig
from roost.tree.txn import Kind, Txn

M = {i: Member(i, f"10.0.0.{i}", 2180 + i, 2880 + i) for i in (1, 2, 3)}


def line(m: Member, role: str = "participant") -> str:
    return f"server.{m.id}={m.host}:{m.peer_port}:{m.peer_port}:{role};{m.host}:{m.client_port}"


def test_new_members_adds_removes_and_readdresses() -> None:
    moved = Member(3, "10.0.0.33", 2183, 2883)
    new = Member(4, "10.0.0.4", 2184, 2884, "observer")
    spec = ",".join([line(M[1]), line(moved), line(new, "observer")])
    change = parse_zk_reconfig(None, None, spec, M, 7)
    assert change == Change((moved, new), (2, 3), 7)
    assert apply_change(M, change, 7) == {1: M[1], 3: moved, 4: new}
    assert Change.from_bytes(change.to_bytes()) == change


def test_new_members_errors() -> None:
    with pytest.raises(ReconfigError):
        parse_zk_reconfig(None, None, ",".join(line(m) for m in M.values()), M)  # no change
    with pytest.raises(ReconfigError):
        parse_zk_reconfig("server.4=h:1:1;2", None, line(M[1]), M)
    with pytest.raises(ReconfigError):
        parse_zk_reconfig(None, None, "server.x=y", M)


def test_a_change_for_an_older_configuration_is_refused_when_applied() -> None:
    change = parse_zk_reconfig(None, "2", None, M, 5)
    with pytest.raises(StaleConfigError):
        apply_change(M, change, 9)
    assert 2 not in apply_change(M, parse_zk_reconfig(None, "2", None, M), 9)
    # a change encoded before versions existed still decodes
    old = Change((), (2,))
    assert Change.from_bytes(old.to_bytes()).version == -1


def test_config_node_text_and_versions() -> None:
    tree = DataTree()
    assert write_config(tree, M) == []  # founding: no event, stat untouched
    node = tree.get(CONFIG_PATH)
    assert node is not None and node.version == 0 and node.mzxid == 0
    assert node.data == "\n".join([*(line(m) for m in M.values()), "version=0"]).encode()
    events = write_config(tree, {1: M[1]}, 0x1A, 5)
    assert [e.path for e in events] == [CONFIG_PATH] and config_version(tree) == 0x1A
    assert node.data == f"{line(M[1])}\nversion=1a".encode()
    assert tree.approximate_data_size() >= len(node.data)


def test_refusal_names_the_configuration_only_for_a_peer_in_neither_registry_nor_raft() -> None:
    conf = ConfState(frozenset({1, 2}), frozenset({3}))
    assert refusal(M, conf, 0x2A, 4) == 0x2A
    assert refusal(M, conf, 0x2A, 2) is None  # in the registry (the host lags)
    assert refusal({1: M[1]}, conf, 0x2A, 3) is None  # raft still has it (it must learn)


def test_told_removed_only_when_ours_has_us_and_theirs_is_newer() -> None:
    assert told_removed(3, M, 0x10, 0x2A)  # removed by a change we never applied
    assert not told_removed(3, M, 0x2A, 0x2A)  # same version: a misconfiguration, not ours
    assert not told_removed(3, M, 0x30, 0x2A)  # the peer lags: it has not added us yet
    assert not told_removed(4, M, 0x10, 0x2A)  # a joiner not yet added (ours lacks us)


def core_of(member_id: int, members: dict[int, Member], version: int) -> ReplicaCore:
    """A member's core with registry `members` at configuration `version`, not started."""
    state = ReplicaState(member_id, 1, TreeConfig(), {}, lambda z, t, r: None)
    state.load(b"", members)
    if version:
        write_config(state.tree, members, version)
    st = MemoryStorage()
    st.bootstrap(ConfState(frozenset(M)))
    node = RaftNode(Config(id=member_id, election_tick=10, heartbeat_tick=1), st,
                    random.Random(member_id))
    return ReplicaCore(state, node, CoreConfig(10, 0.05, 5.0, 100, tuple(M.values())), 0.0)


def test_a_member_told_by_a_newer_configuration_stops_as_a_removed_member() -> None:
    core = core_of(3, M, 0x10)
    assert core.state.serving
    core.refused(1, 0x10, 1.0)  # a peer at our own version: not a removal
    core.refused(1, 0x08, 1.0)  # a lagging peer
    assert core.state.serving and not core.state.removed and core.take_effects() == []
    core.refused(1, 0x2A, 1.0)
    assert core.state.removed and not core.state.serving
    assert core.take_effects() == [DropPeers()] and core.peers_dropped
    core.refused(2, 0x2A, 1.0)  # once
    assert core.take_effects() == []
    # nothing leaves a member that dropped its peers (its host would drop it anyway)
    core.leader = 1
    core.propose(Txn(Kind.NOOP), None, None, 2.0)
    core.touch(0x5)
    core.tick(2.0)
    assert core.take_effects() == []
    # removed, it has no say about other members' links
    assert core.refusal(9) is None


def test_a_member_with_its_peers_forwards_and_reports_to_its_leader() -> None:
    core = core_of(3, M, 0x10)
    core.leader = 1
    core.propose(Txn(Kind.NOOP), None, None, 1.0)
    core.touch(0x5)
    core.tick(1.0)
    sent = core.take_effects()
    assert [(e.to, e.channel) for e in sent if isinstance(e, Send)] == [
        (1, CH_FORWARD), (1, CH_TOUCH)]


def test_a_joiner_is_not_taken_for_removed_and_answers_no_refusal() -> None:
    joiner = core_of(4, {}, 0)  # fresh: not a member until its addition applies
    joiner.refused(1, 0x2A, 1.0)
    assert not joiner.state.removed and joiner.take_effects() == []
    assert joiner.refusal(9) is None  # no say: it is no member itself
    member = core_of(1, M, 0x2A)
    assert member.refusal(9) == 0x2A
    assert member.refusal(2) is None
