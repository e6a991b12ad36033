"""What a check decides: the verdict, and the outcome for one independent part of the
history (shared by the checker, which makes them, and the report, which shows them)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from roost.testing.history import Operation


class Verdict(Enum):
    LINEARIZABLE = "linearizable"
    NOT_LINEARIZABLE = "not-linearizable"
    UNKNOWN = "unknown"  # the time limit ran out first


@dataclass(frozen=True, slots=True)
class PartResult:
    """The outcome for one independent part of the history."""

    verdict: Verdict
    ops: tuple[Operation, ...]
    # a full linearization when linearizable, else the longest partial one found
    linearization: tuple[Operation, ...]
