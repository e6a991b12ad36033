"""The simulator's disk: what a crash keeps, write and fsync errors; the cluster's check
that acknowledged writes survive."""

from __future__ import annotations

import errno
import random

import pytest

from roost.raft import ConfState, Entry, HardState
from roost.testing.sim import InvariantViolation, SimCluster
from roost.testing.sim.disk import DiskFaults, SimDisk


def _ents(lo: int, hi: int, term: int = 1) -> list[Entry]:
    return [Entry(term, i, data=b"x%d" % i) for i in range(lo, hi + 1)]


def _disk(seed: int = 0, **faults: float) -> SimDisk:
    d = SimDisk(random.Random(seed), DiskFaults(**faults))
    d.bootstrap(ConfState(frozenset({1, 2, 3})))
    return d


def test_synced_writes_survive_a_crash() -> None:
    d = _disk()
    d.append(_ents(2, 5))
    d.set_hard_state(HardState(3, 1, 4))
    d.sync()
    assert d.synced
    d.crash()
    assert d.last_index() == 5
    assert d.hard_state == HardState(3, 1, 4)
    assert [e.data for e in d.entries(2, 6, 1 << 20)] == [b"x2", b"x3", b"x4", b"x5"]


def test_a_crash_keeps_a_prefix_of_unsynced_writes_with_the_last_torn() -> None:
    kept: set[tuple[int, int]] = set()
    for seed in range(200):
        d = _disk(seed)
        d.append(_ents(2, 3))
        d.sync()
        d.append(_ents(4, 9))
        d.set_hard_state(HardState(2, 1, 9))
        d.crash()
        assert d.synced
        assert 3 <= d.last_index() <= 9
        # writes reach the disk in order: the hard state only with every entry before it
        if d.hard_state.term == 2:
            assert d.last_index() == 9
        assert d.durable.last_index() == d.last_index()
        kept.add((d.last_index(), d.hard_state.term))
    # nothing, a torn part of the append, all of it, and all of it with the hard state
    assert {(3, 1), (9, 1), (9, 2)} <= kept
    assert any(3 < last < 9 for last, _ in kept)


def test_unsynced_truncation_is_undone_by_a_crash() -> None:
    d = _disk(1, torn=0.0)
    d.append(_ents(2, 6, term=1))
    d.sync()
    d.append(_ents(4, 4, term=2))  # a new leader's entry replaces 4..6, not yet synced
    assert d.last_index() == 4
    d.journal.clear()  # (the crash keeps none of it)
    d.crash()
    assert d.last_index() == 6
    assert d.term(4) == 1


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
def test_a_failed_write_changes_nothing(code: int) -> None:
    seen = set()
    for seed in range(40):
        d = _disk(seed, write_error=1.0)
        with pytest.raises(OSError) as info:
            d.append(_ents(2, 3))
        seen.add(info.value.errno)
        assert d.last_index() == 1 and not d.journal
        d.crash()
        assert d.last_index() == 1
    assert code in seen


def test_a_failed_fsync_loses_the_writes_and_a_retry_does_not_say_so() -> None:
    d = _disk(fsync_error=1.0)
    d.append(_ents(2, 4))
    with pytest.raises(OSError) as info:
        d.sync()
    assert info.value.errno == errno.EIO
    assert d.last_index() == 4  # the process still reads them
    d.faults.fsync_error = 0.0
    d.sync()  # "succeeds": nothing left to write
    assert d.durable.last_index() == 1
    d.crash()
    assert d.last_index() == 1


def test_snapshot_and_compaction_replay_onto_the_disk() -> None:
    d = _disk()
    d.append(_ents(2, 8))
    d.create_snapshot(6, ConfState(frozenset({1, 2, 3})), b"image")
    d.compact(6)
    d.sync()
    d.crash()
    assert d.snapshot().meta.index == 6 and d.snapshot().data == b"image"
    assert d.first_index() == 7 and d.last_index() == 8


def test_the_durability_check_fails_on_a_lost_acknowledged_write() -> None:
    c = SimCluster(3, 5)
    c.run()
    assert c.acked, "the run acknowledged creates"
    c.check_acked()  # a clean run passes
    path = max(c.acked, key=c.acked.__getitem__)
    leader = c.leaders()[0]
    assert leader.replica is not None
    leader.replica.tree.delete_with_events(path, leader.replica.last_index, [])
    with pytest.raises(InvariantViolation, match=f"durability: {path} was acknowledged"):
        c.check_acked()
