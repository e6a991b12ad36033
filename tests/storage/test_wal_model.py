"""Property: random append/sync/truncate/compact/reset/reopen sequences agree with a
plain list model of the log."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roost.storage import Entry, WriteAheadLog

SEGMENT_SIZE = 256

Op = tuple[str, int, int]

ops = st.one_of(
    st.tuples(st.just("append"), st.integers(1, 8), st.integers(0, 1)),
    st.tuples(st.just("sync"), st.just(0), st.just(0)),
    st.tuples(st.just("truncate"), st.integers(0, 120), st.just(0)),
    st.tuples(st.just("compact"), st.integers(0, 120), st.just(0)),
    st.tuples(st.just("reset"), st.integers(0, 30), st.integers(0, 2)),
    st.tuples(st.just("reopen"), st.just(0), st.just(0)),
)


@dataclass
class Model:
    """The log as a list: entries[k] has index ``compacted_index + 1 + k``."""

    compacted_index: int = 0
    compacted_term: int = 0
    entries: list[Entry] = field(default_factory=list)

    @property
    def first(self) -> int:
        return self.compacted_index + 1

    @property
    def last(self) -> int:
        return self.compacted_index + len(self.entries)

    @property
    def last_term(self) -> int:
        return self.entries[-1].term if self.entries else self.compacted_term

    def term_at(self, index: int) -> int:
        if index == self.compacted_index:
            return self.compacted_term
        return self.entries[index - self.first].term

    def pick(self, percent: int) -> int:
        """An index between compacted_index and last, chosen by percentage (values over
        100 pick the last index, which makes that edge case common)."""
        return self.compacted_index + (len(self.entries) * min(percent, 100)) // 100


def check(wal: WriteAheadLog, model: Model) -> None:
    assert (wal.first_index, wal.last_index) == (model.first, model.last)
    assert wal.compacted == (model.compacted_index, model.compacted_term)
    assert wal.last_term == model.last_term
    assert wal.entries(model.first, model.last + 1) == model.entries
    for index in range(model.compacted_index, model.last + 1):
        assert wal.term_at(index) == model.term_at(index)


def apply(wal: WriteAheadLog, model: Model, op: Op, counter: itertools.count[int]) -> None:
    name, a, b = op
    if name == "append":
        term = model.last_term + b
        new = [Entry(term, model.last + 1 + k, b"%d" % next(counter) * (k + 1)) for k in range(a)]
        wal.append(new)
        model.entries += new
    elif name == "sync":
        wal.sync()
    elif name == "truncate":
        index = model.pick(a)
        wal.truncate_after(index)
        del model.entries[index - model.compacted_index :]
    elif name == "compact":
        apply_compact(wal, model, model.pick(a))
    elif name == "reset":
        index = model.last + a
        term = model.last_term + b
        wal.reset(index, term)
        model.compacted_index, model.compacted_term, model.entries = index, term, []


def apply_compact(wal: WriteAheadLog, model: Model, up_to: int) -> None:
    """Compaction drops whole segments, so the model follows the log's new first index
    after checking that it lies in the allowed range."""
    old_first = model.first
    wal.compact(up_to)
    new_first = wal.first_index
    if up_to < old_first:
        assert new_first == old_first
        return
    assert old_first <= new_first <= up_to + 1
    if up_to == model.last:
        assert new_first == up_to + 1
    drop = new_first - old_first
    if drop:
        model.compacted_term = model.term_at(new_first - 1)
        model.compacted_index = new_first - 1
        del model.entries[:drop]


dir_numbers = itertools.count()


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(ops, max_size=30))
def test_wal_matches_list_model(tmp_path: Path, sequence: list[Op]) -> None:
    directory = tmp_path / f"case{next(dir_numbers)}"
    model = Model()
    counter = itertools.count()
    wal = WriteAheadLog.open(directory, segment_size=SEGMENT_SIZE)
    try:
        for op in sequence:
            if op[0] == "reopen":
                wal.close()
                wal = WriteAheadLog.open(directory, segment_size=SEGMENT_SIZE)
            else:
                apply(wal, model, op, counter)
            check(wal, model)
    finally:
        wal.close()
    with WriteAheadLog.open(directory, segment_size=SEGMENT_SIZE) as again:
        check(again, model)
