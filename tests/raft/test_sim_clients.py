"""The simulated clients' cas, multi, sync-then-read and the lock and latch recipes
(roost.testing.sim.requests, roost.testing.sim.recipes): the runs reach each of them, and
each check catches its planted bug with the message that names it (the planted bugs are
also in tests/raft/test_raft_sim.py's budget)."""

from __future__ import annotations

import re

import pytest

from roost.testing.sim import SimFailure, run_seed
from roost.testing.sim.cluster import SimCluster
from roost.testing.sim.requests import Committed, outcome, step
from roost.testing.sim.watches import NAMES, ROOT
from roost.wire.errors import Err
from roost.wire.multi import MultiRequest
from roost.wire.opcodes import Op
from roost.wire.records import (
    ACL,
    CheckVersionRequest,
    CreateRequest,
    DeleteRequest,
    Id,
    SetDataRequest,
)

SIZES = (3, 5, 7)
_OPEN = [ACL(31, Id("world", "anyone"))]
A, B = NAMES[0], NAMES[1]


def test_model_follows_zookeeper_rules() -> None:
    states: dict[str, tuple[bytes, int] | None] = {ROOT: (b"", 0)}
    assert step(states, Op.CREATE, CreateRequest(A, b"1", _OPEN, 0)) == Err.OK
    assert step(states, Op.CREATE, CreateRequest(A, b"1", _OPEN, 0)) == Err.NODE_EXISTS
    assert outcome(states, Op.SET_DATA, SetDataRequest(A, b"2", 1)) == (Err.BAD_VERSION, -1)
    assert outcome(states, Op.SET_DATA, SetDataRequest(A, b"2", 0)) == (Err.OK, 1)
    assert states[A] == (b"2", 1)
    assert step(states, Op.DELETE, DeleteRequest(B, -1)) == Err.NO_NODE
    assert step(states, Op.DELETE, DeleteRequest(A, 0)) == Err.BAD_VERSION
    assert step(states, Op.DELETE, DeleteRequest(A, 1)) == Err.OK and states[A] is None


def test_model_multi_is_all_or_nothing() -> None:
    states: dict[str, tuple[bytes, int] | None] = {ROOT: (b"", 0), A: (b"", 3)}
    ok = MultiRequest(((Op.CHECK, CheckVersionRequest(A, 3)),
                       (Op.CREATE, CreateRequest(B, b"", _OPEN, 0))))
    assert outcome(states, Op.MULTI, ok) == ((Op.CHECK, 0), (Op.CREATE, 0))
    assert states[B] == (b"", 0)
    bad = MultiRequest(((Op.DELETE, DeleteRequest(B, 0)),
                        (Op.CHECK, CheckVersionRequest(A, 2)),
                        (Op.SET_DATA, SetDataRequest(A, b"x", -1))))
    before = dict(states)
    assert outcome(states, Op.MULTI, bad) == (
        (Op.ERROR, Err.OK), (Op.ERROR, Err.BAD_VERSION), (Op.ERROR, Err.RUNTIME_INCONSISTENCY))
    assert states == before


def test_committed_states_along_zxids() -> None:
    c = Committed()
    c.record(5, A, (b"", 0))
    c.record(9, A, None)
    assert c.at(A, 4) is None and c.at(A, 5) == (b"", 0) and c.at(A, 8) == (b"", 0)
    assert c.at(A, 9) is None and c.now(A) is None and c.now(B) is None


@pytest.mark.sim
def test_runs_reach_every_request_and_recipe() -> None:
    # (8 seeds a size since the clients' reattaches waited for a leader and a client's
    # sessions became readers now and then: 1 multi applied in the first 6 a size, 2 in 8)
    runs = [run_seed(n, s) for n in SIZES for s in range(8)]
    assert sum(r.cas for r in runs) >= len(runs) // 2
    assert sum(r.bad_versions for r in runs) >= 1
    assert sum(r.multis - r.failed_multis for r in runs) >= 2  # some applied
    assert sum(r.failed_multis for r in runs) >= len(runs) // 2
    # (17 in these 18 runs since a failed barrier aborts the connection, as the server's)
    assert sum(r.sync_reads for r in runs) >= len(runs) // 2
    assert sum(r.lock_grants for r in runs) >= len(runs)
    assert sum(r.latch_grants for r in runs) >= len(runs) // 2


#: each check and the planted bug it must catch (what its failure says)
CAUGHT = [
    ("cas_ignores_version", r"request: client \d+'s (SET_DATA|DELETE) /s/\w v\d+, applied .* "
                            r"gave \((<Err.OK: 0>|0), "),
    ("multi_partial_apply", r"request: client \d+'s multi\[.*\], applied .* \(outcome .* left "),
    ("lock_ignores_predecessor", r"(lock|latch): client \d+ .* holds it since .* believes it "
                                 r"holds it to"),
    # sync-then-read and the cluster's reads share the barrier check
    ("read_before_barrier", r"linearizable read: node \d+ served a read at zxid"),
    # the connection's order: replies in request order, events before later replies
    ("read_overtakes_write", r"order: client \d+ got a reply with xid \d+ .* the oldest "
                             r"request in flight is"),
    ("event_behind_replies", r"watch: client \d+ got the reply of .* but not the event"),
    ("persistent_fired_once", r"watch: client \d+('s (persistent|recursive) watch on .* lost "
                              r"an event| got the reply of .* of its (persistent|recursive) "
                              r"watch)"),
    # removeWatches: no event after its reply, and the answer says what the client held
    ("remove_watches_kept", r"watch: client \d+ (got \w+ /s\S* at zxid \d+ from node \d+, "
                            r"which it does not watch|'s removeWatches\(.*\) on node \d+ was "
                            r"answered Ok, but the client held no such watch)"),
]


@pytest.mark.sim
@pytest.mark.parametrize(("bug", "says"), CAUGHT, ids=[b for b, _ in CAUGHT])
def test_check_catches_its_planted_bug(bug: str, says: str) -> None:
    for seed in range(20):
        try:
            run_seed(3, seed, frozenset({bug}))
        except SimFailure as exc:
            assert re.search(says, str(exc)), str(exc)
            return
    pytest.fail(f"{bug} survived 20 seeds")


@pytest.mark.sim
def test_client_syncs_alone_catch_a_read_before_its_barrier() -> None:
    """In runs without the cluster's own reads (the profile's `reads` off), the clients'
    sync-then-reads are the only linearizable reads: they catch read_before_barrier."""
    for seed in range(30):
        if SimCluster(3, seed).profile.reads:
            continue
        try:
            run_seed(3, seed, frozenset({"read_before_barrier"}))
        except SimFailure as exc:
            assert "linearizable read" in str(exc), str(exc)
            return
    pytest.fail("no client sync caught read_before_barrier in 30 seeds")


@pytest.mark.sim
@pytest.mark.parametrize("nodes", SIZES, ids=lambda n: f"n{n}")
def test_long_runs_catch_a_lease_without_its_answer_bound(nodes: int) -> None:
    """The clients keep the production client's lease (roost.client.lease.Lease), renewed
    only as it renews it (a new session's handshake, answered pings); one whose span leaves
    out the bound L for which a member answers after the leader last confirmed the session
    outlives its session's expiry when its member is cut off. Caught within the long seeds'
    budget (tests/raft/test_raft_sim.py: 60 seeds of 2 simulated minutes): about one seed
    in four at 2026-12-08 (n3 18, n5 16, n7 19 of 60)."""
    for seed in range(60):
        try:
            run_seed(nodes, seed, frozenset({"lease_without_answer_bound"}), minutes=2)
        except SimFailure as exc:
            assert re.search(r"expired .* while its client's lease ran to", str(exc)), str(exc)
            return
    pytest.fail("lease_without_answer_bound survived 60 seeds of 2 minutes")


@pytest.mark.sim
def test_replies_go_through_each_connections_queue_and_gate() -> None:
    """Every reply reaches its client in request order through the server's reply queue
    (checked at each reply); the runs do queue reads and pings behind writes, and members'
    gates do hold output until a liveness grant comes."""
    runs = [run_seed(n, s) for n in SIZES for s in range(6)]
    # (at 2026-12-08: 835 replies, 178 that waited, 688 held flushes over these 18 runs)
    assert sum(r.replies for r in runs) >= 20 * len(runs)
    assert sum(r.replies_waited for r in runs) >= 3 * len(runs)
    assert sum(r.output_held for r in runs) >= 3 * len(runs)


@pytest.mark.sim
def test_runs_reach_persistent_watches() -> None:
    """Clients add persistent and recursive watches (addWatch) and get their events, each
    checked to be the next matching change; the planted persistent_fired_once is caught
    (test_check_catches_its_planted_bug, and tests/raft/test_raft_sim.py's budget)."""
    runs = [run_seed(n, s) for n in SIZES for s in range(6)]
    assert sum(r.persistent_set for r in runs) >= len(runs)
    assert sum(r.persistent_events for r in runs) >= len(runs)


@pytest.mark.sim
def test_runs_reach_remove_watches() -> None:
    """Clients remove watches (removeWatches; checkWatches now and then), each answer
    checked against what they held and no event allowed after an Ok; some are answered
    NoWatcher (the watch fired first, or never was)."""
    runs = [run_seed(n, s) for n in SIZES for s in range(6)]
    # (at 2026-12-08: 36 answered, 9 removed over these 18 runs)
    assert sum(r.watch_removes for r in runs) >= len(runs)
    assert sum(r.watches_removed for r in runs) >= len(runs) // 3


@pytest.mark.sim
def test_runs_reach_held_reattaches_and_closes() -> None:
    """A client moving its session to a member without a liveness grant for it waits for
    a leader's confirmation (roost.server.handshake); some such waits, and some outputs
    held by the gate, end with the member closing the connection after L; a session the
    leader expired is answered "session expired", or given up by its client (suspended
    past its timeout, roost.client's lost timer)."""
    runs = [run_seed(n, s) for n in SIZES for s in range(12)]
    # (at 2026-12-08: 251 held, 4 closed after L, 1 told expired, 8 lost over these 36)
    assert sum(r.reattach_held for r in runs) >= 2 * len(runs)
    assert sum(r.held_closes for r in runs) >= 1
    assert sum(r.told_expired + r.sessions_lost for r in runs) >= 3


@pytest.mark.sim
def test_a_reattach_answered_before_a_leader_confirms_it_is_caught() -> None:
    """reattach_unconfirmed (the member answers a reattach at once, as the simulator did
    before): a client cut off with its member is answered after the leader decided its
    session's expiry (also in tests/raft/test_raft_sim.py's budget at every size; at
    2026-12-08 first caught at n5 by seed 16)."""
    for seed in range(60):
        try:
            run_seed(5, seed, frozenset({"reattach_unconfirmed"}))
        except SimFailure as exc:
            assert re.search(r"session 0x[0-9a-f]+(: node \d+ answered its client's reattach "
                             r"at \d+ ms, after its expiry was decided| expired .* though a "
                             r"member answered its client's reattach)", str(exc)), str(exc)
            return
    pytest.fail("reattach_unconfirmed survived 60 seeds")


@pytest.mark.sim
@pytest.mark.parametrize("nodes", SIZES, ids=lambda n: f"n{n}")
def test_long_runs_catch_held_output_never_closed(nodes: int) -> None:
    """held_output_kept (a member keeps a connection whose output its gate held for longer
    than L open): the client's read timeout (two thirds of its session timeout since it last
    received anything) mostly comes first, as it does with the production client; the
    member's close comes first only for output first held soon after the client last
    received something, in the simulator mostly a reader session's (it blocks no read
    behind a write of its own). Caught in about one seed in five of 2 simulated minutes at
    2026-12-08 (n3 6, n5 7, n7 11 of 40; first at seeds 17, 18 and 11); within the one-epoch
    budget only now and then."""
    for seed in range(60):
        try:
            run_seed(nodes, seed, frozenset({"held_output_kept"}), minutes=2)
        except SimFailure as exc:
            assert re.search(r"connection: node \d+ has held client \d+'s output since \d+ ms, "
                             r"\d+ ms \(more than L = \d+ ms and a tick\)", str(exc)), str(exc)
            return
    pytest.fail("held_output_kept survived 60 seeds of 2 minutes")
