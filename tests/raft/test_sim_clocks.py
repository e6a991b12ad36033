"""The simulator's per-member clocks: offset, rate, ticks by a member's own clock."""

from __future__ import annotations

import random

import pytest

from roost.testing.sim import SimCluster, run_seed
from roost.testing.sim.clocks import MAX_DRIFT, SimClock


def test_a_clock_reads_offset_plus_rate_times_true_time() -> None:
    c = SimClock(100.0, 1.05)
    assert c.ms(0) == 100.0
    assert c.ms(1000) == pytest.approx(1150.0)
    assert c.seconds(1000) == pytest.approx(1.15)
    assert c.wall_ms(1000) == 1150


def test_true_at_is_the_first_true_millisecond_reaching_a_reading() -> None:
    for seed in range(50):
        rng = random.Random(seed)
        c = SimClock.draw(rng, MAX_DRIFT)
        assert 1 - MAX_DRIFT <= c.rate <= 1 + MAX_DRIFT
        local = c.ms(rng.randint(0, 10_000)) + rng.uniform(0, 50)
        t = c.true_at(local)
        assert c.ms(t) >= local - 1e-6
        assert c.ms(t - 1) < local


def test_a_fast_clock_ticks_more_often_in_true_time() -> None:
    assert SimClock(0, 1.05).after(100) == 95
    assert SimClock(0, 0.95).after(100) == 105
    assert SimClock(0, 2.0).after(1) == 1  # never zero: time moves on


def test_members_get_different_clocks_and_runs_pass_with_drift() -> None:
    drifting = 0
    for seed in range(12):
        c = SimCluster(3, seed)
        rates = {sn.clock.rate for sn in c.nodes.values()}
        if c.drift > 0:
            drifting += 1
            assert len(rates) == 3
            assert all(abs(r - 1) <= c.drift for r in rates)
        else:
            assert rates == {1.0}
        c.run()
    assert drifting >= 6


def test_a_run_with_drift_replays_exactly() -> None:
    seed = next(s for s in range(50) if SimCluster(5, s).drift == MAX_DRIFT)
    assert run_seed(5, seed) == run_seed(5, seed)
