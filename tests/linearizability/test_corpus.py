"""Every shared history with a known verdict comes out right, each within 10 seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from roost.testing.linearizability import (
    KVModel,
    RegisterModel,
    Verdict,
    check,
    parse_edn_kv,
    parse_jepsen_etcd,
)

from .helpers import assert_evidence_fails, shared_data

DATA = shared_data()
ETCD = sorted((DATA / "jepsen-etcd").glob("etcd_*.log"))
KV = sorted((DATA / "kv").glob("*.txt"))
LIMIT = 10.0  # seconds per history


def _expected_etcd() -> dict[str, Verdict]:
    rows = (DATA / "jepsen-etcd" / "VERDICTS.txt").read_text().split("\n")
    pairs = (row.split() for row in rows if row.strip())
    return {name: Verdict(verdict) for name, verdict in pairs}


EXPECTED = _expected_etcd()


def test_corpus_is_complete() -> None:
    assert len(ETCD) >= 50
    assert {p.name for p in ETCD} == set(EXPECTED)
    assert {p.name for p in KV} == {"c01-ok.txt", "c01-bad.txt", "c10-ok.txt", "c10-bad.txt"}
    verdicts = set(EXPECTED.values())
    assert verdicts == {Verdict.LINEARIZABLE, Verdict.NOT_LINEARIZABLE}


@pytest.mark.parametrize("path", ETCD, ids=lambda p: p.name)
def test_etcd_register_verdict(path: Path) -> None:
    result = check(parse_jepsen_etcd(path), RegisterModel(), timeout=LIMIT, minimize=False)
    assert result.verdict is EXPECTED[path.name]


@pytest.mark.parametrize("path", KV, ids=lambda p: p.name)
def test_kv_verdict(path: Path) -> None:
    expected = Verdict.LINEARIZABLE if path.stem.endswith("-ok") else Verdict.NOT_LINEARIZABLE
    result = check(parse_edn_kv(path), KVModel(), timeout=LIMIT)
    assert result.verdict is expected
    if expected is Verdict.LINEARIZABLE:
        # the witness really is a linearization: same operations, accepted in order
        ops = {op.id for part in result.parts for op in part.ops}
        assert {op.id for op in result.linearization} == ops
        assert len(result.parts) > 1  # split by key


@pytest.mark.parametrize("name", ["etcd_000.log", "etcd_040.log", "etcd_096.log"])
def test_etcd_violation_is_minimized(name: str) -> None:
    ops = parse_jepsen_etcd(DATA / "jepsen-etcd" / name)
    result = check(ops, RegisterModel(), timeout=LIMIT)
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    assert 0 < len(result.failing) < len(result.parts[-1].ops)
    assert result.failing_op is not None and result.failing_op in result.failing
    assert_evidence_fails(result)
    # every kept operation comes from the history (completed ones unchanged)
    by_id = {op.id: op for op in ops}
    for op in result.failing:
        original = by_id[op.id]
        assert (op.f, op.args, op.call) == (original.f, original.args, original.call)


def test_failed_cas_may_also_be_dropped() -> None:
    """Reading `:fail` cas as "did not happen" (dropping it) is weaker but sound: a
    linearizable log stays linearizable."""
    for path in ETCD:
        if EXPECTED[path.name] is Verdict.LINEARIZABLE:
            ops = parse_jepsen_etcd(path, cas_fail_is_false=False)
            assert check(ops, RegisterModel(), timeout=LIMIT, minimize=False)
