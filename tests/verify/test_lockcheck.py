"""The lock safety check flags what it must: a token that does not increase, and a write
accepted during another holder's tenure; the fenced store refuses stale tokens."""

from __future__ import annotations

from roost.testing.nemesis.lockcheck import FencedStore, LockRun, Tenure


def test_store_refuses_older_tokens_and_accepts_equal_ones() -> None:
    store = FencedStore()
    assert store.write("a", 5) and store.write("a", 5)
    assert not store.write("b", 4)
    assert store.write("c", 9)
    assert store.refused == 1
    assert [(h, t) for _, h, t in store.accepted] == [("a", 5), ("a", 5), ("c", 9)]


def test_sequential_tenures_pass() -> None:
    run = LockRun()
    run.tenures = [Tenure("a", 3, 1.0, 2.0), Tenure("b", 7, 2.5, 3.0)]
    run.store.accepted = [(1.5, "a", 3), (2.7, "b", 7)]
    assert run.anomalies() == []


def test_token_going_backwards_is_flagged() -> None:
    run = LockRun()
    run.tenures = [Tenure("a", 7, 1.0, 2.0), Tenure("b", 3, 2.5, 3.0)]
    (anomaly,) = run.anomalies()
    assert "grant token 3 (b) not above the earlier 7 (a)" in anomaly


def test_writes_of_two_holders_in_overlapping_tenures_are_flagged() -> None:
    run = LockRun()
    run.tenures = [Tenure("a", 3, 1.0, 4.0), Tenure("b", 7, 2.0, 3.0)]
    run.store.accepted = [(1.5, "a", 3), (2.2, "a", 3), (2.5, "b", 7)]
    assert len(run.overlaps()) == 1
    (anomaly,) = run.anomalies()
    assert anomaly.startswith("writes of a (token 3) and b (token 7) both accepted while")


def test_overlap_with_writes_of_one_holder_only_is_not_flagged() -> None:
    # a's lease-aware holder stopped writing before b's grant; only its belief overlapped
    run = LockRun()
    run.tenures = [Tenure("a", 3, 1.0, 4.0), Tenure("b", 7, 2.0, 3.0)]
    run.store.accepted = [(1.5, "a", 3), (2.5, "b", 7)]
    assert len(run.overlaps()) == 1
    assert run.anomalies() == []
