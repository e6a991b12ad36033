"""Disk work off the event loop: one way for both logs to run a blocking call (an append
and its fsync) in a worker thread and hand its outcome back to the loop.

Each log owns one `DiskThread`: a long-lived thread that waits on a queue. Compared with
the loop's executor (`run_in_executor`) a hand-off makes no futures, takes no executor
lock and wakes the loop once (the executor's future also wakes it to set its result);
benchmarks/handoff_bench.py measures the difference."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from queue import SimpleQueue

Then = Callable[[BaseException | None], None]
_Job = tuple[asyncio.AbstractEventLoop, Callable[[], object], Then] | None


class DiskThread:
    """One thread that runs a log's disk writes in the order they were handed to it."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._jobs: SimpleQueue[_Job] = SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False

    def run(self, loop: asyncio.AbstractEventLoop, work: Callable[[], object], then: Then) -> None:
        """Run `work` in the thread; `then(exc)` runs on the loop afterwards (`exc` is what
        `work` raised, or None). Nothing runs if the loop was closed meanwhile."""
        if self._closed:
            raise RuntimeError("disk thread is closed")
        if self._thread is None:
            # a daemon: a log that is never closed must not keep the process alive
            self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
            self._thread.start()
        self._jobs.put((loop, work, then))

    def close(self) -> None:
        """The thread ends after the work already handed to it (no waiting here)."""
        if not self._closed:
            self._closed = True
            if self._thread is not None:
                self._jobs.put(None)

    def _serve(self) -> None:
        get = self._jobs.get
        while (job := get()) is not None:
            loop, work, then = job
            exc: BaseException | None = None
            try:
                work()
            except BaseException as e:
                exc = e
            del work, job
            with contextlib.suppress(RuntimeError):  # the loop was closed meanwhile
                loop.call_soon_threadsafe(then, exc)
            del then
