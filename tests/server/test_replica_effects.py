"""The replica core's effects (roost.replica.effects) are values in the order the core
decided them; the host performs them after each input. A snapshot's Reset comes out of
`persisted`, before `advance` applies the entries after it; a Send the host could not
queue goes back to the core (`unsent`) and is sent again; read barriers and the replies
the core decides are effects too."""

from __future__ import annotations

import msgpack

from roost.raft import NONE, Role
from roost.replica.core import CH_FORWARD, CH_GRANTS, CH_TOUCH
from roost.replica.effects import (
    Effect,
    Messages,
    ReadReady,
    ReadTimedOut,
    Reply,
    Reset,
    RoleChanged,
    Send,
)
from roost.replica.sessions import Sessions
from roost.testing.replica_group import TICK, Group

from .test_replica_core import create


def test_a_new_leader_gets_the_pending_txns_before_the_host_hears_of_it() -> None:
    g = Group()
    seen: list[Effect] = []
    g.hooks[2] = seen.append
    g.cores[2].propose(create("/a"), None, None, g.now)  # no leader yet: kept pending
    g.perform(2)
    assert seen == []
    g.cores[1].node.campaign()
    g.settle()
    kinds = [(type(e).__name__, getattr(e, "channel", None)) for e in seen]
    forward = kinds.index(("Send", CH_FORWARD))
    role = kinds.index(("RoleChanged", None))
    assert forward < role  # (the core resends, then tells the host)
    assert seen[role] == RoleChanged(Role.FOLLOWER, 1)
    assert all(c.state.tree.get("/a") is not None for c in g.cores.values())


def test_a_snapshot_resets_the_host_before_the_entries_after_it_apply() -> None:
    g = Group()
    g.cores[1].node.campaign()
    g.settle()
    g.cut = {3}
    for i in range(5):
        g.cores[1].propose(create(f"/b{i}"), None, None, g.now)
    g.settle()
    g.tick(2)
    leader, store = g.cores[1], g.stores[1]
    index = leader.state.last_index
    store.create_snapshot(index, leader.node.conf_state, leader.state.image())
    store.compact(index)
    timeline: list[str] = []
    g.cores[3].state.applied = lambda z, t, r: timeline.append(f"applied {z}")
    g.hooks[3] = lambda e: timeline.append("reset") if isinstance(e, Reset) else None
    g.cut = set()  # healed: member 3 is sent the snapshot
    for i in range(3):
        g.cores[1].propose(create(f"/c{i}"), None, None, g.now)
    g.settle()
    g.tick(4)
    assert "reset" in timeline
    at = timeline.index("reset")
    assert timeline[:at] == []  # nothing of before the snapshot applied here
    applied = [int(x.split()[1]) for x in timeline[at + 1:]]
    assert applied and min(applied) > index
    assert g.cores[3].state.tree.get("/b4") is not None
    assert g.cores[3].state.tree.get("/c2") is not None


def test_a_report_the_host_could_not_send_goes_at_the_next_tick() -> None:
    g = Group()
    g.cores[1].node.campaign()
    g.settle()
    core = g.cores[2]
    core.sessions = Sessions(2)
    assert core.leader_grants  # the leader said it acknowledges reports
    core.touch(0x7)
    core.tick(g.now)
    sent = [e for e in core.take_effects() if isinstance(e, Send) and e.channel == CH_TOUCH]
    assert len(sent) == 1 and core.reports and not core.touched
    seq, sids = msgpack.unpackb(sent[0].payload)
    assert sids == [0x7]
    core.unsent(sent[0].to, sent[0].channel, sent[0].payload)  # no link to the leader
    assert seq not in core.reports and core.touched == {0x7}
    core.tick(g.now + TICK)
    again = [e for e in core.take_effects() if isinstance(e, Send) and e.channel == CH_TOUCH]
    assert len(again) == 1 and msgpack.unpackb(again[0].payload)[1] == [0x7]


def test_an_older_form_report_the_host_could_not_send_is_kept() -> None:
    g = Group()
    g.cores[1].node.campaign()
    g.settle()
    core = g.cores[2]
    core.leader_grants = None  # not known yet: the older form, which every version reads
    core.touch(0x8)
    core.tick(g.now)
    sent = [e for e in core.take_effects() if isinstance(e, Send) and e.channel == CH_TOUCH]
    assert msgpack.unpackb(sent[0].payload) == [0x8] and core._plain_reports == 1
    core.unsent(sent[0].to, sent[0].channel, sent[0].payload)
    assert core.touched == {0x8} and core._plain_reports == 0


def test_the_grants_word_the_host_could_not_send_goes_again() -> None:
    g = Group()
    g.cores[1].node.campaign()
    g.settle()
    leader = g.cores[1]
    assert leader._told == {2, 3}
    leader.unsent(2, CH_GRANTS, msgpack.packb([leader.node.term]))
    leader.tick(g.now + TICK)
    words = [e.to for e in leader.take_effects() if isinstance(e, Send) and e.channel == CH_GRANTS]
    assert words == [2] and leader._told == {2, 3}


def test_reads_and_replies_the_core_decides_are_effects() -> None:
    g = Group()
    core = g.cores[2]
    assert core.leader == NONE
    core.barrier(b"r1", g.now)
    core.propose(create("/d"), lambda z, r: None, None, g.now)
    assert core.take_effects() == []  # (no leader: both wait)
    core.tick(g.now + 6.0)  # past the request timeout
    out = core.take_effects()
    assert out[0] == ReadTimedOut(b"r1")
    assert isinstance(out[1], Reply) and out[1].zxid == 0 and out[1].result.err != 0
    core.barrier(b"r2", g.now + 6.0)
    core.propose(create("/e"), lambda z, r: None, None, g.now + 6.0)
    core.fence()  # storage failed: everything ends now
    out = core.take_effects()
    assert out[0] == ReadTimedOut(b"r2") and isinstance(out[1], Reply)
    assert not core.state.pending and not core.reads


def test_a_read_barrier_passes_as_an_effect_once_applied() -> None:
    g = Group()
    g.cores[1].node.campaign()
    g.settle()
    seen: list[Effect] = []
    g.hooks[3] = seen.append
    g.barrier(3, b"r3", lambda: None, lambda: None)
    g.settle()
    g.tick(2)
    assert ReadReady(b"r3") in seen and ReadTimedOut(b"r3") not in seen
    assert not any(isinstance(e, Messages) and not e.messages for e in seen)
