"""Disk work off the event loop: one way for both logs to run a blocking call in a worker
thread and hand its outcome back to the loop with one call_soon_threadsafe."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable


def in_thread(
    loop: asyncio.AbstractEventLoop,
    work: Callable[[], object],
    then: Callable[[BaseException | None], None],
) -> None:
    """Run `work` in the loop's executor; `then(exc)` runs on the loop afterwards (`exc` is
    what `work` raised, or None). Nothing runs if the loop was closed meanwhile."""

    def run() -> None:
        exc: BaseException | None = None
        try:
            work()
        except BaseException as e:
            exc = e
        with contextlib.suppress(RuntimeError):  # the loop was closed meanwhile
            loop.call_soon_threadsafe(then, exc)

    loop.run_in_executor(None, run)
