"""The sequential specification a history is checked against.

A model is pure: ``step`` never mutates ``state`` and states are hashable values (ints,
strings, tuples, frozensets), because the checker caches ``(linearized set, state)`` pairs.
An input is ``(f, args)`` as recorded in the history; an output is the recorded result, or
:data:`~roost.testing.history.UNKNOWN` for an operation with an unknown outcome. A model
must accept ``UNKNOWN`` in every state, with the new state the operation would produce
there if it took effect: an unknown operation may take effect at any point after its
invocation, or never (the checker then places it after everything else), and the
minimizer turns operations pending at a cut into unknown ones.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, Protocol

from roost.testing.history import Operation

State = Hashable
Input = tuple[str, Any]


class Model(Protocol):
    """What ``check`` needs to know about a data type."""

    name: str

    def init(self) -> State:
        """The state before the first operation."""
        ...

    def step(self, state: Any, input: Input, output: Any) -> tuple[bool, Any]:
        """Whether ``input`` applied to ``state`` may return ``output``, and the next state."""
        ...

    def partition(self, ops: Sequence[Operation]) -> list[list[Operation]]:
        """Split a history into independent parts (P-compositionality), e.g. by key."""
        ...

    def pure(self, input: Input, output: Any) -> bool:
        """True if this operation with this output never changes the state (a read).

        Such operations can be dropped when their output is unknown, and removed when a
        failing history is minimized, without changing the verdict's meaning."""
        ...

    def describe(self, input: Input, output: Any) -> str:
        """A short human-readable form, e.g. ``cas(1, 2) -> ok``."""
        ...


class BaseModel:
    """Defaults: one partition, nothing pure, a generic description."""

    name = "model"

    def partition(self, ops: Sequence[Operation]) -> list[list[Operation]]:
        return [list(ops)] if ops else []

    def pure(self, input: Input, output: Any) -> bool:
        return False

    def describe(self, input: Input, output: Any) -> str:
        f, args = input
        return f"{f}({fmt(args)}) -> {fmt(output)}"


def partition_by(ops: Sequence[Operation], key: Callable[[Operation], Hashable]) -> list[
    list[Operation]
]:
    """Group operations by ``key(op)``, keeping their order; groups in first-seen order."""
    groups: dict[Hashable, list[Operation]] = {}
    for op in ops:
        groups.setdefault(key(op), []).append(op)
    return list(groups.values())


def fmt(value: Any) -> str:
    """Compact display of a value: None as nil, strings quoted, tuples without commas noise."""
    if value is None:
        return "nil"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, tuple):
        return ", ".join(fmt(v) for v in value)
    if isinstance(value, frozenset):
        return "{" + ", ".join(sorted(fmt(v) for v in value)) + "}"
    return repr(value)


class StartingAt:
    """``model`` with ``state`` as its initial state (to re-check a trimmed sub-history)."""

    def __init__(self, model: Model, state: Any) -> None:
        self.model = model
        self.state = state
        self.name = f"{model.name} from {fmt(state)}"

    def init(self) -> Any:
        return self.state

    def step(self, state: Any, input: Input, output: Any) -> tuple[bool, Any]:
        return self.model.step(state, input, output)

    def partition(self, ops: Sequence[Operation]) -> list[list[Operation]]:
        return self.model.partition(ops)

    def pure(self, input: Input, output: Any) -> bool:
        return self.model.pure(input, output)

    def describe(self, input: Input, output: Any) -> str:
        return self.model.describe(input, output)
