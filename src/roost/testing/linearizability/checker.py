"""``check(history, model)``: is a concurrent history linearizable with respect to a model?

Steps: drop failed operations (they did not take effect) and pure operations with unknown
outcomes (they can always be linearized at the end, changing nothing); split the rest into
independent parts with ``model.partition`` (a history is linearizable iff every part is);
search each part (``search.py``); on a violation, shrink the failing part to a small
sub-history that still fails (``minimize.py``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roost.testing.history import History, Operation
from roost.testing.linearizability.minimize import shrink
from roost.testing.linearizability.model import Model
from roost.testing.linearizability.prepare import prepare
from roost.testing.linearizability.report import html_page, svg_timeline, text_report
from roost.testing.linearizability.search import search
from roost.testing.linearizability.verdict import PartResult, Verdict


@dataclass(slots=True)
class Result:
    """What ``check`` found. ``bool(result)`` is True only for a linearizable history."""

    verdict: Verdict
    model: Model
    parts: list[PartResult] = field(default_factory=list)
    # on a violation: a small sub-history of the failing part that still fails, the
    # operation that could not be linearized in it, and the longest partial linearization
    failing: tuple[Operation, ...] = ()
    failing_op: Operation | None = None
    failing_linearization: tuple[Operation, ...] = ()
    # when the failing sub-history was cut at a quiet moment: the states the `omitted`
    # earlier operations can leave; `failing` fails from every one of them (None: it
    # fails from the model's initial state)
    start_states: frozenset[Any] | None = None
    omitted: int = 0
    elapsed: float = 0.0

    def __bool__(self) -> bool:
        return self.verdict is Verdict.LINEARIZABLE

    @property
    def linearization(self) -> tuple[Operation, ...]:
        """A full linearization (all parts, one after another) if linearizable."""
        return tuple(op for part in self.parts for op in part.linearization)

    def report(self) -> str:
        return text_report(self)

    def write_svg(self, path: str | Path) -> Path:
        """Write a timeline of the failing sub-history (or of the history) as SVG."""
        out = Path(path)
        out.write_text(svg_timeline(self))
        return out

    def write_html(self, path: str | Path) -> Path:
        """Write a self-contained HTML page: the report and the SVG timeline."""
        out = Path(path)
        out.write_text(html_page(self))
        return out


_VERDICTS = {True: Verdict.LINEARIZABLE, False: Verdict.NOT_LINEARIZABLE, None: Verdict.UNKNOWN}


def _validate(ops: Sequence[Operation]) -> None:
    ids: set[int] = set()
    for op in ops:
        if op.ret is not None and op.ret < op.call:
            raise ValueError(f"operation {op.id} returns before it is invoked: {op}")
        if op.id in ids:
            raise ValueError(f"two operations share the id {op.id}")
        ids.add(op.id)


def check(
    history: History | Sequence[Operation],
    model: Model,
    timeout: float | None = None,
    *,
    minimize: bool = True,
    minimize_timeout: float = 10.0,
) -> Result:
    """Check ``history`` against ``model``.

    ``timeout`` (seconds) bounds the search; a part whose search runs out of time is
    UNKNOWN, and so is the verdict unless another part is not linearizable (a violation
    is definite; parts are searched smallest first, up to the first violation).
    On a violation the failing part is minimized for at most ``minimize_timeout`` seconds.
    """
    start = time.monotonic()
    ops = history.operations() if isinstance(history, History) else list(history)
    _validate(ops)
    deadline = None if timeout is None else start + timeout
    parts = sorted(model.partition(prepare(ops, model)), key=len)
    result = Result(Verdict.LINEARIZABLE, model)
    for part in parts:
        found, order = search(part, model, deadline)
        verdict = _VERDICTS[found]
        result.parts.append(PartResult(verdict, tuple(part), tuple(part[i] for i in order)))
        if verdict is Verdict.NOT_LINEARIZABLE:
            result.verdict = verdict
            break
        if verdict is Verdict.UNKNOWN:
            # keep going: after the deadline small parts still finish, and a definite
            # violation elsewhere outranks "unknown"
            result.verdict = verdict
    if result.verdict is Verdict.NOT_LINEARIZABLE and minimize:
        shrunk = shrink(result.parts[-1].ops, model, time.monotonic() + minimize_timeout)
        result.failing, result.failing_op = shrunk.ops, shrunk.culprit
        result.failing_linearization = shrunk.partial
        result.start_states, result.omitted = shrunk.start_states, shrunk.omitted
    result.elapsed = time.monotonic() - start
    return result


def assert_linearizable(
    history: History | Sequence[Operation],
    model: Model,
    timeout: float | None = None,
    timeline: str | Path | None = None,
) -> Result:
    """For test harnesses: check, and on a violation (or UNKNOWN) print the report, write
    the timeline to ``timeline`` (an .svg or .html path) and raise AssertionError."""
    result = check(history, model, timeout)
    if result:
        return result
    text = result.report()
    print(text)
    if timeline is not None:
        path = Path(timeline)
        if path.suffix == ".html":
            result.write_html(path)
        else:
            result.write_svg(path)
        text += f"\ntimeline written to {path}"
    raise AssertionError(text)
