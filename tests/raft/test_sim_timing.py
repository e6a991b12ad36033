"""The simulator's timings: production's (the default) and the compressed one seeds found
before 2026-12-07 replay in (roost.testing.sim.timing)."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from roost.testing.sim import SimCluster, replay_command
from roost.testing.sim.__main__ import main
from roost.testing.sim.timing import COMPRESSED, PRODUCTION, timing


def test_production_members_tick_as_the_server_does() -> None:
    periods, sessions = set(), set()
    for seed in range(12):
        c = SimCluster(3, seed)
        assert c.timing is PRODUCTION
        periods |= {sn.tick_period for sn in c.nodes.values()}
        sessions |= {cl.timeout_ms for cl in c.clients.clients}
        assert c.liveness_bound_ms == 20_000
        assert 4000 <= c.profile.safety_ms <= 9000
    assert 50 in periods and all(35 <= p <= 70 for p in periods)  # raft_tick_ms, skewed
    assert all(2000 <= t <= 30_000 for t in sessions)  # seconds, as ZooKeeper clients ask
    assert any(t > 6000 for t in sessions)


def test_compressed_timing_is_five_times_faster() -> None:
    c = SimCluster(3, 1, timing="compressed")
    assert c.timing is COMPRESSED and c.liveness_bound_ms == 4000
    assert all(7 <= sn.tick_period <= 14 for sn in c.nodes.values())
    assert all(150 <= cl.timeout_ms <= 400 for cl in c.clients.clients)
    assert PRODUCTION.ms(800) == 5 * COMPRESSED.ms(800)


def test_unknown_timings_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown timing 'fast'"):
        timing("fast")
    out = CliRunner().invoke(main, ["--timing", "fast"])
    assert out.exit_code == 2 and "'fast' is not one of" in out.output


def test_a_replay_command_names_a_timing_other_than_the_default() -> None:
    assert "--timing" not in replay_command(3, 1, frozenset())
    assert replay_command(3, 1, frozenset({"b"}), 1, "compressed") == (
        "python -m roost.testing.sim --nodes 3 --seed 1 --minutes 1 --timing compressed --bug b")


def test_a_long_partition_holds_the_storm_and_no_other_fault_comes_meanwhile() -> None:
    """Long partitions (so that sessions of seconds can expire) cut one member off with
    the rest of the cluster left alone, and the liveness phase waits for their heal."""
    seen = 0
    for seed in range(20):
        c = SimCluster(3, seed, trace=True)
        c.run()
        lines = c.trace or []
        for i, line in enumerate(lines):
            if "(long)" not in line:
                continue
            seen += 1
            assert "partition isolate (long)" in line
            rest = lines[i + 1:]
            end = next(k for k, x in enumerate(rest) if "partition healed" in x)
            assert not any(re.search(r"crashes \(between steps|transfers leadership", x)
                           for x in rest[:end]), rest[:end]
            assert all("faults healed" not in x for x in rest[:end])
    assert seen >= 2
