"""Human-readable output of a check: a text table and an SVG/HTML timeline."""

from __future__ import annotations

import html
from collections.abc import Hashable, Sequence
from typing import Any, Protocol

from roost.testing.history import Operation, Status
from roost.testing.linearizability.model import Model, fmt
from roost.testing.linearizability.verdict import PartResult, Verdict

_ROW_H = 34
_BAR_H = 20
_LEFT = 110
_CHAR_W = 7  # approximate width of one character of the 11px monospace font
_MAX_TIMELINE_OPS = 400


class Result(Protocol):
    """What the report shows of a check's result (`roost.testing.linearizability.Result`,
    which calls these functions: the report sits below the checker)."""

    @property
    def verdict(self) -> Verdict: ...
    @property
    def model(self) -> Model: ...
    @property
    def parts(self) -> list[PartResult]: ...
    @property
    def failing(self) -> tuple[Operation, ...]: ...
    @property
    def failing_op(self) -> Operation | None: ...
    @property
    def failing_linearization(self) -> tuple[Operation, ...]: ...
    @property
    def start_states(self) -> frozenset[Any] | None: ...
    @property
    def omitted(self) -> int: ...
    @property
    def elapsed(self) -> float: ...
    @property
    def linearization(self) -> tuple[Operation, ...]: ...


def _shown_ops(result: Result) -> tuple[Operation, ...]:
    """The failing sub-history if there is one, else the part that decided the verdict."""
    if result.failing:
        return result.failing
    deciding = [p for p in result.parts if p.verdict is result.verdict] or result.parts
    return deciding[-1].ops[:_MAX_TIMELINE_OPS] if deciding else ()


def _positions(result: Result) -> dict[int, int]:
    order = result.failing_linearization if result.failing else result.linearization
    return {op.id: n for n, op in enumerate(order, 1)}


def text_report(result: Result) -> str:
    total = sum(len(p.ops) for p in result.parts)
    lines = [
        f"verdict: {result.verdict.value} (model {result.model.name}, "
        f"{len(result.parts)} part(s) searched, {total} operations, {result.elapsed:.3f} s)"
    ]
    if result.failing:
        lines.append(
            f"small failing sub-history: {len(result.failing)} of the failing part's "
            f"{len(result.parts[-1].ops)} operations "
            "(pending operations cut off here show as 'info'):"
        )
        if result.start_states is not None:
            states = ", ".join(sorted(fmt(s) for s in result.start_states))
            lines.append(
                f"  from the state(s) {states} - the only one(s) that the {result.omitted} "
                "earlier operations (all finished before these began) can leave:"
            )
        lines += _table(result, result.failing)
        if result.failing_op is not None:
            desc = result.model.describe(result.failing_op.input, result.failing_op.result)
            lines.append(f"cannot be linearized: op {result.failing_op.id} {desc}")
        order = result.failing_linearization
        if order:
            steps = ", ".join(f"{op.id}" for op in order)
            lines.append(f"longest partial linearization of it (op ids in order): {steps}")
    for part in result.parts:
        if part.verdict is Verdict.UNKNOWN:
            lines.append(
                f"timed out on a part of {len(part.ops)} operations; longest partial "
                f"linearization found: {len(part.linearization)} operations"
            )
    return "\n".join(lines)


def _table(result: Result, ops: Sequence[Operation]) -> list[str]:
    base = min(op.call for op in ops)
    pos = _positions(result)
    rows = [("", "op", "process", "call", "return", "status", "lin#", "operation")]
    for op in sorted(ops, key=lambda o: (o.call, o.id)):
        mark = ">>" if op is result.failing_op else ""
        ret = "inf" if op.ret is None else str(op.ret - base)
        lin = str(pos.get(op.id, ""))
        desc = result.model.describe(op.input, op.result)
        rows.append((mark, str(op.id), str(op.process), str(op.call - base), ret,
                     op.status.value, lin, desc))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]) - 1)]
    out = []
    for r in rows:
        cells = [r[c].ljust(widths[c]) for c in range(len(widths))]
        out.append("  " + "  ".join(cells) + "  " + r[-1])
    return out


def _ranks(ops: Sequence[Operation]) -> dict[int, int]:
    """Ordinal x positions: each distinct timestamp gets the next slot."""
    times = sorted({op.call for op in ops} | {op.ret for op in ops if op.ret is not None})
    return {t: n for n, t in enumerate(times)}


def svg_timeline(result: Result) -> str:
    """One row per process, a bar from invoke to return per operation; unknown outcomes
    run to the right edge (dashed); the operation that cannot be linearized is red."""
    ops = _shown_ops(result)
    rank = _ranks(ops)
    step = _step(result, ops, len(rank))
    procs: list[Hashable] = sorted({op.process for op in ops}, key=str)
    row = {p: n for n, p in enumerate(procs)}
    width = _LEFT + step * (len(rank) + 2)
    height = 40 + _ROW_H * max(len(procs), 1) + 20
    pos = _positions(result)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="monospace" font-size="11">',
        f'<text x="8" y="18" font-size="13">{html.escape(_title(result))}</text>',
    ]
    for p, n in row.items():
        y = 40 + n * _ROW_H
        parts.append(f'<text x="8" y="{y + 14}">process {html.escape(str(p))}</text>')
        parts.append(f'<line x1="{_LEFT}" y1="{y + _ROW_H - 4}" x2="{width}" '
                     f'y2="{y + _ROW_H - 4}" stroke="#eee"/>')
    for op in ops:
        y = 40 + row[op.process] * _ROW_H
        parts.append(_bar(result, op, (rank, step, width), y, pos))
    parts.append("</svg>")
    return "\n".join(parts)


def _step(result: Result, ops: Sequence[Operation], slots: int) -> int:
    """Pixels per time slot: wide enough for every label when there are few slots
    (the shortest bar spans 1.5 slots), compact otherwise."""
    if slots > 80:
        return 28
    longest = max((len(result.model.describe(op.input, op.result)) for op in ops), default=0)
    return min(160, max(28, (longest + 4) * _CHAR_W * 2 // 3))


def _title(result: Result) -> str:
    if result.failing and result.start_states is not None:
        states = ", ".join(sorted(fmt(s) for s in result.start_states))
        return (f"{result.model.name}: not linearizable - failing sub-history, from state(s) "
                f"{states} left by {result.omitted} earlier operations")
    if result.failing:
        return f"{result.model.name}: not linearizable - failing sub-history"
    return f"{result.model.name}: {result.verdict.value}"


def _bar(
    result: Result, op: Operation, scale: tuple[dict[int, int], int, int], y: int,
    pos: dict[int, int],
) -> str:
    rank, step, width = scale
    x1 = _LEFT + step * rank[op.call]
    x2 = width - 6 if op.ret is None else _LEFT + step * rank[op.ret] + step // 2
    failing = op is result.failing_op
    fill = "#f4a3a3" if failing else ("#f3e3b0" if op.status is Status.INFO else "#b9d3f0")
    stroke = "#c00000" if failing else "#44678f"
    dash = ' stroke-dasharray="4 3"' if op.ret is None else ""
    desc = result.model.describe(op.input, op.result)
    lin = f"#{pos[op.id]} " if op.id in pos else ""
    label = f"{lin}{desc}"
    room = max(3, (x2 - x1 - 6) // _CHAR_W)
    if len(label) > room:
        label = label[: room - 1] + "~"
    label = html.escape(label)
    tip = html.escape(f"{lin}op {op.id} process {op.process}: {desc} [{op.status.value}]")
    return (
        f'<g><title>{tip}</title>'
        f'<rect x="{x1}" y="{y}" width="{max(x2 - x1, 4)}" height="{_BAR_H}" rx="3" '
        f'fill="{fill}" fill-opacity="0.8" stroke="{stroke}"{dash}/>'
        f'<text x="{x1 + 3}" y="{y + 14}">{label}</text></g>'
    )


def html_page(result: Result) -> str:
    """A self-contained page with the text report and the SVG timeline."""
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(_title(result))}</title></head><body>\n"
        f"<pre>{html.escape(text_report(result))}</pre>\n"
        f"{svg_timeline(result)}\n</body></html>\n"
    )
