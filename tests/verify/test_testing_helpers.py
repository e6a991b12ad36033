"""The small helpers of roost.testing that tests share: waiting for a condition with a
deadline (`wait_until`), a server's srvr Mode (`srvr_mode`), stopping started processes
(`stop_processes`)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from roost.testing.ports import free_port
from roost.testing.procs import stop_processes
from roost.testing.server import RoostServer, srvr_mode
from roost.testing.wait import WaitTimeout, wait_until, wait_until_async


def counter(until: int) -> Iterator[int]:
    n = 0
    while True:
        n += 1
        yield n if n >= until else 0


def test_wait_until_returns_the_first_truthy_value() -> None:
    calls = counter(3)
    assert wait_until(lambda: next(calls), 5, interval=0.001) == 3
    assert wait_until(lambda: "ready", 0) == "ready"  # asked once even with no time at all


def test_wait_until_says_what_it_waited_for() -> None:
    asked = 0

    def never() -> bool:
        nonlocal asked
        asked += 1
        return False

    started = time.monotonic()
    with pytest.raises(WaitTimeout, match=r"timed out after 0.3 s waiting for the moon"):
        wait_until(never, 0.3, interval=0.05, what="the moon")
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 2.0
    assert asked >= 2  # polled, then asked once more at the deadline
    # a test failure, not an OSError that `except OSError` around a wait would swallow
    assert issubclass(WaitTimeout, AssertionError) and not issubclass(WaitTimeout, OSError)
    with pytest.raises(WaitTimeout, match="waiting for <function"):
        wait_until(never, 0)  # unnamed: the predicate itself is named


def test_srvr_mode() -> None:
    with RoostServer() as srv:
        assert srvr_mode(srv.host, srv.port) == "standalone"
        assert srv.mode() == "standalone"
    assert srvr_mode("127.0.0.1", free_port()) == "down"


def test_stop_processes_terms_then_kills() -> None:
    polite = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, sys, time\n"
         "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\n"
         "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    assert stubborn.stdout is not None and stubborn.stdout.readline() == "ready\n"
    done = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    done.wait(30)
    try:
        codes = stop_processes([polite, stubborn, done], grace=1.0)
    finally:
        for p in (polite, stubborn):
            if p.poll() is None:
                p.kill()
                p.wait()
        if stubborn.stdout is not None:
            stubborn.stdout.close()
    assert codes == [-signal.SIGTERM, -signal.SIGKILL, 3]


def test_wait_until_async_takes_plain_and_awaitable_predicates() -> None:
    async def main() -> None:
        calls = counter(3)
        assert await wait_until_async(lambda: next(calls), 5, interval=0.001) == 3
        ready = asyncio.Event()
        asyncio.get_running_loop().call_later(0.05, ready.set)

        async def is_ready() -> bool:
            return ready.is_set()

        assert await wait_until_async(is_ready, 5) is True
        with pytest.raises(WaitTimeout, match=r"after 0.2 s waiting for nothing to happen"):
            await wait_until_async(lambda: asyncio.sleep(0, result=0), 0.2,
                                   what="nothing to happen")

    asyncio.run(main())
