"""End-to-end nemesis runs on real ensembles (subprocess members, proxied peer links), and
the harness's own failure test: the deliberately broken read barrier must be caught."""

from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner

from roost.testing.linearizability import Verdict
from roost.testing.nemesis import Fault, VerifyConfig, VerifyResult, run
from roost.verify import verify

logging.getLogger("kazoo").setLevel(logging.ERROR)


def _passes(result: VerifyResult) -> None:
    print(result.summary())
    print("\n".join(result.journal))
    assert result.anomalies == 0, result.summary()
    assert result.verdict == Verdict.LINEARIZABLE.name, result.summary()
    assert not result.harness_errors, result.harness_errors
    assert result.ok
    assert result.ops["ok"] > 100
    assert result.acked_appends > 10
    assert result.grants > 0 and result.fenced_writes > 0


@pytest.mark.timeout(240)
@pytest.mark.parametrize("seed", [11, 12])
def test_seeded_run_on_three_members(seed: int) -> None:
    result = run(VerifyConfig(members=3, seconds=14, seed=seed,
                              nemesis=("kill", "pause", "partition")))
    _passes(result)
    assert sum(result.faults.values()) >= 2


@pytest.mark.timeout(240)
def test_seeded_run_on_five_members_with_slow_disk() -> None:
    result = run(VerifyConfig(members=5, seconds=14, seed=5,
                              nemesis=("partition", "kill", "slowdisk")))
    _passes(result)
    assert result.faults["slowdisk"] >= 1 and result.faults["partition"] >= 1


#: isolate the leader twice while clients pinned to every member mostly sync+read
ISOLATE_LEADER = [Fault(2.0, "partition", "leader", 4.0, "isolate"),
                  Fault(8.0, "partition", "leader", 4.0, "isolate")]


def _isolation_run(broken: bool) -> VerifyResult:
    # Two clients per member, one of them a pure reader: a writer on the cut-off leader
    # waits on its first write there (it cannot commit), so only a reader goes on reading
    # from it while the majority elects a new leader and commits, until the cut-off member
    # drops its clients (no leader for two election timeouts), ~1.5 s in.
    return run(VerifyConfig(members=3, seconds=13, seed=3, clients=6, readers=3, pin_all=True,
                            read_fraction=0.8, schedule=ISOLATE_LEADER,
                            server={"unsafe_skip_read_barrier": broken}))


@pytest.mark.timeout(240)
def test_broken_read_barrier_is_caught() -> None:
    result = _isolation_run(broken=True)
    print(result.summary())
    assert result.faults["partition"] == 2
    assert result.verdict == Verdict.NOT_LINEARIZABLE.name, result.summary()
    assert "cannot be linearized" in result.violation
    assert result.anomalies >= 1 and not result.ok


@pytest.mark.timeout(240)
def test_same_schedule_without_the_bug_passes() -> None:
    result = _isolation_run(broken=False)
    assert result.faults["partition"] == 2
    _passes(result)


@pytest.mark.timeout(240)
def test_cli_prints_a_verdict_with_counts() -> None:
    out = CliRunner().invoke(verify, ["--members", "3", "--seconds", "6", "--seed", "4",
                                      "--nemesis", "kill"])
    assert out.exit_code == 0, out.output
    assert "faults injected:" in out.output and "operations:" in out.output
    assert "anomalies: 0" in out.output
    assert out.output.rstrip().endswith("VERDICT: PASS")


def test_cli_rejects_unknown_fault_kinds() -> None:
    out = CliRunner().invoke(verify, ["--nemesis", "kill,meteor"])
    assert out.exit_code == 2
    assert "unknown nemesis" in out.output
