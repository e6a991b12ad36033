"""Key-value models: a single register with read/write/cas, and a key-value map.

Register inputs (``f``, ``args``) and outputs:

========  ===============  ==========================================
``read``  ``None``         the value read (None = never written)
``write`` ``v``            ignored
``cas``   ``(old, new)``   True if the value was ``old`` and became ``new``, else False
========  ===============  ==========================================

Key-value inputs: ``get`` ``(key, None)`` -> the value; ``put`` ``(key, v)``;
``append`` ``(key, v)``. Every key starts as ``""``. The history is split by key, and a
state is the value of one key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from roost.testing.history import UNKNOWN, Operation
from roost.testing.linearizability.model import BaseModel, Input, fmt, partition_by


class RegisterModel(BaseModel):
    """One register holding any hashable value; ``initial`` defaults to None (unset)."""

    name = "register"

    def __init__(self, initial: Any = None) -> None:
        self.initial = initial

    def init(self) -> Any:
        return self.initial

    def step(self, state: Any, input: Input, output: Any) -> tuple[bool, Any]:
        f, arg = input
        if f == "read":
            return (output is UNKNOWN or output == state), state
        if f == "write":
            return True, arg
        if f == "cas":
            old, new = arg
            if state == old:
                return (output is True or output is UNKNOWN), new
            return (output is False or output is UNKNOWN), state
        raise ValueError(f"register model: unknown operation {f!r}")

    def pure(self, input: Input, output: Any) -> bool:
        f = input[0]
        return f == "read" or (f == "cas" and output is False)

    def describe(self, input: Input, output: Any) -> str:
        f, arg = input
        if f == "read":
            return f"read() -> {fmt(output)}"
        if f == "write":
            return f"write({fmt(arg)})"
        old, new = arg
        result = {True: "ok", False: "fail"}.get(output, fmt(output))
        return f"cas({fmt(old)}, {fmt(new)}) -> {result}"


class KVModel(BaseModel):
    """A map of independent string values with get/put/append, checked key by key."""

    name = "kv"

    def init(self) -> Any:
        return ""

    def step(self, state: Any, input: Input, output: Any) -> tuple[bool, Any]:
        f, (_key, value) = input
        if f == "get":
            return (output is UNKNOWN or output == state), state
        if f == "put":
            return True, value
        if f == "append":
            return True, state + value
        raise ValueError(f"kv model: unknown operation {f!r}")

    def partition(self, ops: Sequence[Operation]) -> list[list[Operation]]:
        return partition_by(ops, lambda op: op.args[0])

    def pure(self, input: Input, output: Any) -> bool:
        return input[0] == "get"

    def describe(self, input: Input, output: Any) -> str:
        f, (key, value) = input
        if f == "get":
            return f"get({fmt(key)}) -> {fmt(output)}"
        return f"{f}({fmt(key)}, {fmt(value)})"
