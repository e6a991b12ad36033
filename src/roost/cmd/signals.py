"""SIGINT and SIGTERM as a flag the long-running commands poll (watch, lock, elect)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class StopFlag:
    """Set by the first SIGINT or SIGTERM; ``signum`` tells which."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.event = threading.Event()

    def set(self, signum: int) -> None:
        if self.signum is None:
            self.signum = signum
        self.event.set()

    def __bool__(self) -> bool:
        return self.event.is_set()

    def wait(self, timeout: float) -> bool:
        return self.event.wait(timeout)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[StopFlag]:
    """Within the block, SIGINT and SIGTERM set the flag instead of interrupting.

    Outside the main thread (where handlers cannot be installed) the flag only ever
    stays clear, and Ctrl-C keeps its usual effect."""
    flag = StopFlag()

    def handler(signum: int, frame: FrameType | None) -> None:
        flag.set(signum)

    old: dict[signal.Signals, object] = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread
        pass
    try:
        yield flag
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)  # type: ignore[arg-type]
