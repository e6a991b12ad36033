"""The operations a search needs to consider (used by the checker and by minimize)."""

from __future__ import annotations

from collections.abc import Iterable

from roost.testing.history import Operation, Status
from roost.testing.linearizability.model import Model


def prepare(ops: Iterable[Operation], model: Model) -> list[Operation]:
    """Drop failed operations and pure ones with an unknown outcome."""
    kept = []
    for op in ops:
        if op.status is Status.FAIL:
            continue
        if op.status is Status.INFO and model.pure(op.input, op.result):
            continue
        kept.append(op)
    return kept
