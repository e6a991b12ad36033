"""Fault schedules are a pure function of the seed, bounded, and partition groups are
well formed; the load lasts until the schedule is done."""

from __future__ import annotations

import itertools
import random
import threading

import pytest

from roost.testing.nemesis import KINDS, make_schedule, parse_kinds
from roost.testing.nemesis.schedule import split
from roost.testing.nemesis.workload import load_over


def test_same_seed_same_schedule_other_seed_other_schedule() -> None:
    a = make_schedule(7, KINDS, 60, 3)
    assert a == make_schedule(7, KINDS, 60, 3)
    assert a != make_schedule(8, KINDS, 60, 3)


@pytest.mark.parametrize("seed", range(20))
def test_faults_do_not_overlap_and_end_before_the_run(seed: int) -> None:
    faults = make_schedule(seed, ("kill", "pause", "partition"), 30, 5, pause_hold=4.0)
    assert faults, "a 30 s run gets faults"
    for f in faults:
        assert f.at + f.hold <= 30
        assert f.kind in KINDS
        assert f.hold == 4.0 if f.kind == "pause" else 1.5 <= f.hold <= 3.5
    for a, b in itertools.pairwise(faults):
        assert a.at + a.hold < b.at


def test_parse_kinds() -> None:
    assert parse_kinds("kill, pause,partition") == ("kill", "pause", "partition")
    with pytest.raises(ValueError, match="unknown nemesis"):
        parse_kinds("kill,meteor")


@pytest.mark.parametrize("members", [3, 5])
@pytest.mark.parametrize("variant", ["isolate", "majority", "bridge"])
def test_partition_groups(members: int, variant: str) -> None:
    rng = random.Random(members)
    for pivot in range(members):
        groups = split(members, pivot, variant, rng)
        flat = [i for g in groups for i in g]
        assert len(flat) == len(set(flat))
        assert all(g for g in groups)
        if variant == "bridge":
            assert pivot not in flat and len(flat) == members - 1
        else:
            assert sorted(flat) == list(range(members))
            assert pivot in groups[0]
            assert len(groups[0]) <= (members - 1) // 2  # the pivot's side is a minority


def test_load_goes_on_until_the_schedule_is_done_but_not_past_the_cap() -> None:
    done = threading.Event()
    assert not load_over(5.0, deadline=4.0, cap=10.0, until=done)  # faults still running
    assert load_over(10.0, deadline=4.0, cap=10.0, until=done)  # the cap holds anyway
    done.set()
    assert load_over(5.0, deadline=4.0, cap=10.0, until=done)
    assert not load_over(3.9, deadline=4.0, cap=10.0, until=done)
    assert load_over(4.0, deadline=4.0, cap=10.0, until=None)
