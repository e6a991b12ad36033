"""Small shared helpers for the compatibility suite: polling and event collection."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: Default deadline for anything the tests wait for (seconds).
DEADLINE = 10.0


def wait_until(
    predicate: Callable[[], T], timeout: float = DEADLINE, interval: float = 0.02, what: str = ""
) -> T:
    """Poll `predicate` until it returns something truthy; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


class Collector:
    """Thread-safe list of callback arguments, with waiting helpers (for watches)."""

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._cond = threading.Condition()

    def __call__(self, item: Any) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    @property
    def items(self) -> list[Any]:
        with self._cond:
            return list(self._items)

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def wait_for(self, count: int, timeout: float = DEADLINE) -> list[Any]:
        """Wait until at least `count` items arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._items) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} callbacks within {timeout}s, got {self._items!r}"
                    )
                self._cond.wait(left)
            return list(self._items)
