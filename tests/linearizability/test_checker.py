"""The search against a brute-force reference, time limits, witnesses and reports."""

from __future__ import annotations

import random
import xml.dom.minidom
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.testing.history import UNKNOWN, Operation, Status
from roost.testing.linearizability import (
    ChildrenModel,
    KVModel,
    LockModel,
    RegisterModel,
    Verdict,
    ZnodeModel,
    assert_linearizable,
    check,
)
from roost.testing.linearizability.__main__ import main
from roost.testing.linearizability.model import Model

from .helpers import INFO, Row, assert_evidence_fails, brute_force, ops, shared_data


def _random_history(rng: random.Random, model: Model, n: int) -> list[Operation]:
    """Arbitrary (mostly wrong) small histories with overlapping intervals."""
    out = []
    for i in range(n):
        call = rng.randrange(12)
        ret = None if rng.random() < 0.2 else call + rng.randrange(6)
        f, args, result = _random_op(rng, model)
        if ret is None:
            out.append(Operation(i, i, f, args, UNKNOWN, call, None, Status.INFO))
        else:
            out.append(Operation(i, i, f, args, result, call, ret))
    return out


def _random_op(rng: random.Random, model: Model) -> tuple[str, object, object]:
    v = rng.randrange(3)
    if isinstance(model, RegisterModel):
        return rng.choice([
            ("read", None, rng.choice([None, 0, 1, 2])),
            ("write", v, None),
            ("cas", (v, rng.randrange(3)), rng.random() < 0.5),
        ])
    if isinstance(model, ZnodeModel):
        return rng.choice([
            ("create", ("/a", v), rng.choice(["ok", "nodeexists"])),
            ("get", ("/a",), rng.choice(["nonode", (0, 0), (v, 1), (v, 0)])),
            ("set", ("/a", v, rng.choice([-1, 0, 1])), rng.choice([1, 2, "badversion"])),
            ("delete", ("/a", rng.choice([-1, 0, 1])), rng.choice(["ok", "nonode"])),
        ])
    if isinstance(model, KVModel):
        key = rng.choice("kk" + "j")
        return rng.choice([
            ("get", (key, None), rng.choice(["", "x", "xy", "y", "yx"])),
            ("put", (key, rng.choice("xy")), None),
            ("append", (key, rng.choice("xy")), None),
        ])
    if isinstance(model, ChildrenModel):
        names = [f"n-{i:010d}" for i in range(3)]
        return rng.choice([
            ("create", ("/p", "n-", True, rng.choice([None, 1])), rng.choice(names)),
            ("list", ("/p",), rng.sample(names, rng.randrange(3))),
            ("delete", ("/p", rng.choice(names)), rng.choice(["ok", "nonode"])),
            ("expire", ("/p", 1), None),
        ])
    return rng.choice([
        ("acquire", ("L", rng.choice("ab")), rng.choice([1, 2, 3, "busy"])),
        ("release", ("L", rng.choice("ab")), rng.choice(["ok", "notheld"])),
        ("expire", ("L", rng.choice("ab")), None),
    ])


@settings(max_examples=500, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 6),
    model=st.sampled_from(
        [RegisterModel(), ZnodeModel(), LockModel(), KVModel(), ChildrenModel()]
    ),
)
def test_agrees_with_brute_force(seed: int, n: int, model: Model) -> None:
    history = _random_history(random.Random(seed), model, n)
    expected = brute_force(history, model)
    result = check(history, model)
    assert bool(result) is expected
    if expected:
        _assert_witness(result.linearization, history, model)
    else:
        assert_evidence_fails(result)
        partial = result.parts[-1].linearization
        _assert_witness(partial, [], model)  # a valid start, if not a complete one
        assert len(partial) < len(result.parts[-1].ops)


@pytest.mark.parametrize(
    "model", [RegisterModel(), ZnodeModel(), LockModel(), KVModel(), ChildrenModel()]
)
def test_brute_force_comparison_sees_both_verdicts(model: Model) -> None:
    rng = random.Random(7)
    verdicts = {brute_force(_random_history(rng, model, 4), model) for _ in range(300)}
    assert verdicts == {True, False}


def _assert_witness(order: tuple[Operation, ...], history: list[Operation], model: Model) -> None:
    """`order` contains every completed operation and, part by part, respects real time
    and is accepted by the model."""
    done = {op.id for op in history if op.status is Status.OK}
    assert done <= {op.id for op in order}
    for part in model.partition(list(order)):
        latest_call = -1
        for op in part:  # nothing placed later may have returned before this one began
            assert op.ret is None or op.ret >= latest_call
            latest_call = max(latest_call, op.call)
        state = model.init()
        for op in part:
            ok, state = model.step(state, op.input, op.result)
            assert ok


def _hard_history(n: int) -> list[Operation]:
    """n concurrent writes and an impossible read: the search must try many orders."""
    rows: list[Row] = [(p, 0, 100, "write", p, None) for p in range(n)]
    rows.append((n, 101, 102, "read", None, -1))
    return ops(*rows)


def test_timeout_gives_unknown() -> None:
    result = check(_hard_history(14), RegisterModel(), timeout=0.0)
    assert result.verdict is Verdict.UNKNOWN
    assert not result
    assert "timed out" in result.report()


def test_hard_history_completes_without_timeout() -> None:
    result = check(_hard_history(9), RegisterModel(), minimize=False)
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    # the longest partial linearization holds all the writes
    assert len(result.parts[0].linearization) == 9


def test_empty_history_is_linearizable() -> None:
    result = check([], RegisterModel())
    assert result and result.linearization == () and result.parts == []


def test_failed_and_unknown_reads_are_dropped() -> None:
    history = ops((0, 0, 1, "write", 1, None), (1, 2, INFO, "read", None, None))
    failed = Operation(2, 2, "write", 5, None, 3, 4, Status.FAIL)
    result = check([*history, failed], RegisterModel())
    assert result
    assert [op.id for op in result.parts[0].ops] == [0]


def test_violation_in_one_key_only() -> None:
    rows = [
        (0, 0, 1, "put", ("a", "1"), None),
        (0, 2, 3, "get", ("a", None), "1"),
        (1, 0, 1, "put", ("b", "1"), None),
        (1, 2, 3, "put", ("b", "2"), None),
        (1, 4, 5, "get", ("b", None), "1"),
    ]
    result = check(ops(*rows), KVModel())
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    assert {op.args[0] for op in result.failing} == {"b"}
    assert result.failing_op is not None and result.failing_op.id == 4


def test_minimization_removes_irrelevant_reads_only() -> None:
    rows: list[Row] = [(0, 0, 1, "write", 1, None)]
    rows += [(1, 2 + 2 * i, 3 + 2 * i, "read", None, 1) for i in range(10)]
    rows += [(0, 30, 31, "write", 2, None), (2, 32, 33, "read", None, 1)]
    rows += [(3, 40 + i, 41 + i, "read", None, 2) for i in range(5)]  # after the culprit
    result = check(ops(*rows), RegisterModel())
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    # the reads go; then both writes end before the culprit starts, and the only state
    # they can leave is 2: the evidence is "from value 2, read() -> 1"
    assert [op.id for op in result.failing] == [12]
    assert result.failing_op is result.failing[0]
    assert result.start_states == frozenset({2}) and result.omitted == 2
    assert result.failing_linearization == ()
    assert "from the state(s) 2 " in result.report()
    assert_evidence_fails(result)


def test_front_trimming_keeps_concurrent_writes_as_start_states() -> None:
    history = ops(
        (0, 0, 10, "write", 1, None),
        (1, 0, 10, "write", 2, None),
        (2, 11, 12, "read", None, 3),
        (0, 20, 21, "write", 3, None),
    )
    result = check(history, RegisterModel())
    assert result.start_states == frozenset({1, 2})
    assert [op.id for op in result.failing] == [2]
    assert_evidence_fails(result)


def test_no_quiet_moment_means_no_trimming() -> None:
    history = ops(
        (0, 0, 10, "write", 1, None),
        (1, 5, 20, "write", 2, None),
        (2, 15, 30, "write", 3, None),
        (3, 25, 26, "read", None, 9),
    )
    result = check(history, RegisterModel())
    assert result.start_states is None and result.omitted == 0
    assert len(result.failing) == 4


def test_report_svg_and_html(tmp_path: Path) -> None:
    history = ops(
        (0, 0, 10, "write", 1, None),
        (1, 1, 3, "read", None, 1),
        (2, 4, INFO, "write", 3, None),
        (3, 5, 6, "read", None, None),
    )
    result = check(history, RegisterModel())
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    text = result.report()
    assert "not-linearizable" in text
    assert "cannot be linearized: op 3 read() -> nil" in text
    assert ">>" in text and "inf" in text
    svg = result.write_svg(tmp_path / "t.svg")
    doc = xml.dom.minidom.parse(str(svg))
    rects = doc.getElementsByTagName("rect")
    assert len(rects) == len(result.failing)
    assert sum(r.getAttribute("stroke") == "#c00000" for r in rects) == 1
    assert any(r.getAttribute("stroke-dasharray") for r in rects)  # the unknown write
    page = result.write_html(tmp_path / "t.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "&gt;&gt;" in page


def test_linearizable_timeline_shows_the_order(tmp_path: Path) -> None:
    result = check(ops((0, 0, 5, "write", 1, None), (1, 1, 2, "read", None, 1)),
                   RegisterModel())
    assert result
    svg = (result.write_svg(tmp_path / "ok.svg")).read_text()
    assert "#1 write(1)" in svg  # bar label
    assert "#2 op 1 process 1: read() -&gt; 1 [ok]" in svg  # tooltip of a short bar


def test_assert_linearizable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = ops((0, 0, 1, "write", 1, None), (1, 2, 3, "read", None, 1))
    assert assert_linearizable(good, RegisterModel())
    bad = ops((0, 0, 1, "write", 1, None), (1, 2, 3, "read", None, 2))
    with pytest.raises(AssertionError, match="cannot be linearized"):
        assert_linearizable(bad, RegisterModel(), timeline=tmp_path / "v.html")
    assert "not-linearizable" in capsys.readouterr().out
    assert (tmp_path / "v.html").read_text().count("<rect") == 1  # trimmed to the read


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = shared_data()
    ok, bad = data / "kv" / "c01-ok.txt", data / "kv" / "c01-bad.txt"
    assert main([str(ok), "--model", "kv"]) == 0
    assert main([str(ok), str(bad), "--model", "kv", "--out", str(tmp_path),
                 "--format", "svg"]) == 1
    out = capsys.readouterr().out
    assert "c01-ok.txt: linearizable" in out and "c01-bad.txt: not-linearizable" in out
    assert (tmp_path / "c01-bad-violation.svg").is_file()
    etcd = data / "jepsen-etcd" / "etcd_002.log"
    assert main([str(etcd), "--model", "register", "--quiet"]) == 0


def test_malformed_histories_are_rejected() -> None:
    backwards = Operation(0, 0, "read", None, 1, 10, 5)
    with pytest.raises(ValueError, match="returns before"):
        check([backwards], RegisterModel())
    twins = ops((0, 0, 1, "write", 1, None), (1, 2, 3, "read", None, 1))
    with pytest.raises(ValueError, match="share the id"):
        check([twins[0], twins[0]], RegisterModel())


def test_command_line_checks_saved_histories(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from roost.testing.history import History

    h = History()
    h.ok(h.invoke(0, "acquire", ("L", "a")), 5)
    h.ok(h.invoke(0, "release", ("L", "a")), "ok")
    h.ok(h.invoke(1, "acquire", ("L", "b")), 6)
    good = h.save(tmp_path / "good.jsonl")
    h.ok(h.invoke(1, "release", ("L", "b")), "ok")
    h.ok(h.invoke(2, "acquire", ("L", "c")), 3)  # the fencing token went backwards
    bad = h.save(tmp_path / "bad.jsonl")
    assert main([str(good), "--model", "lock"]) == 0
    assert main([str(bad), "--model", "lock", "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "cannot be linearized: op 4 acquire('c') -> 3" in out
    assert (tmp_path / "bad-violation.html").is_file()
    with pytest.raises(SystemExit, match="only saved histories"):
        main([str(tmp_path / "x.log"), "--model", "lock"])


def test_a_violation_elsewhere_outranks_a_timeout() -> None:
    from roost.testing.linearizability import KVModel

    rows: list[Row] = [(p, 0, 100, "append", ("hard", str(p)), None) for p in range(14)]
    rows.append((20, 101, 102, "get", ("hard", None), "impossible"))
    easy_ok: list[Row] = [(30, 0, 1, "put", ("a", "1"), None),
                          (30, 2, 3, "get", ("a", None), "1")]
    bad: list[Row] = [(40, 0, 1, "put", ("b", "1"), None),
                      (40, 2, 3, "get", ("b", None), "2"),
                      (40, 4, 5, "put", ("b", "3"), None),
                      (40, 6, 7, "put", ("b", "4"), None),
                      (40, 8, 9, "put", ("b", "5"), None),
                      (40, 10, 11, "put", ("b", "6"), None)]
    timed_out = check(ops(*rows, *easy_ok), KVModel(), timeout=0.0)
    assert timed_out.verdict is Verdict.UNKNOWN
    assert [p.verdict for p in timed_out.parts] == [Verdict.LINEARIZABLE, Verdict.UNKNOWN]
    assert "timed out on a part of 15 operations" in timed_out.report()
    # parts go smallest first: this failing part (18 operations) is searched after the
    # timed-out one (15), and its definite violation decides the verdict
    bad_big = bad + [(41, 20 + i, 21 + i, "put", ("b", str(i)), None) for i in range(12)]
    result = check(ops(*rows, *easy_ok, *bad_big), KVModel(), timeout=0.0)
    assert [p.verdict for p in result.parts][-1] is Verdict.NOT_LINEARIZABLE
    assert Verdict.UNKNOWN in [p.verdict for p in result.parts]
    assert result.verdict is Verdict.NOT_LINEARIZABLE


def test_long_history_keeps_its_longest_partial_linearization() -> None:
    """Many backtracks at ever greater depth (each read of the older value forces one);
    the violation at the very end still leaves everything before it linearized."""
    rng = random.Random(3)
    rows: list[Row] = []
    for i in range(2000):
        t = 4 * i
        rows.append((i % 3, t, t + 2, "write", i, None))
        rows.append(((i + 1) % 3, t + 1, t + 3, "read", None, rng.choice([i, i - 1])))
    rows.append((9, 10**6, 10**6 + 1, "read", None, -5))
    result = check(ops(*rows), RegisterModel(), minimize=False)
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    assert len(result.parts[0].linearization) == 4000
    _assert_witness(result.parts[0].linearization, [], RegisterModel())


def test_search_can_collect_every_final_state() -> None:
    from roost.testing.linearizability.search import search

    concurrent = ops((0, 0, 10, "write", 1, None), (1, 0, 10, "write", 2, None),
                     (2, 0, 10, "cas", (1, 3), None))
    concurrent[2] = Operation(2, 2, "cas", (1, 3), UNKNOWN, 0, None, Status.INFO)
    finals: set[object] = set()
    found, _ = search(concurrent, RegisterModel(), None, finals)
    # last write 1 (then cas 1->3 or not), or last write 2 (cas fails or went first)
    assert found is True and finals == {1, 2, 3}
    impossible = ops((0, 0, 1, "write", 1, None), (1, 2, 3, "read", None, 5))
    finals = set()
    assert search(impossible, RegisterModel(), None, finals)[0] is False and finals == set()
    empty: set[object] = set()
    assert search([], RegisterModel(initial=7), None, empty)[0] is True and empty == {7}
