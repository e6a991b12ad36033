"""roost.server.handoff.DiskThread: a log's disk work runs in one thread, in order, and
its outcome (including what it raised) comes back on the loop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from roost.server.handoff import DiskThread


def test_work_runs_in_one_thread_in_order_and_then_runs_on_the_loop() -> None:
    async def go() -> None:
        loop = asyncio.get_running_loop()
        disk = DiskThread("test-disk")
        ran: list[tuple[int, str]] = []
        outcomes: list[tuple[int, BaseException | None, bool]] = []
        finished = loop.create_future()

        def submit(i: int) -> None:
            def work() -> None:
                ran.append((i, threading.current_thread().name))

            def then(exc: BaseException | None) -> None:
                on_loop = threading.current_thread() is threading.main_thread()
                outcomes.append((i, exc, on_loop))
                if len(outcomes) == 20:
                    finished.set_result(None)

            disk.run(loop, work, then)

        for i in range(20):  # handed over at once: the thread takes them in order
            submit(i)
        await asyncio.wait_for(finished, 10)
        disk.close()
        assert [i for i, _ in ran] == list(range(20))
        assert {name for _, name in ran} == {"test-disk"}
        assert outcomes == [(i, None, True) for i in range(20)]

    asyncio.run(go())


def test_what_the_work_raised_reaches_then_and_the_thread_goes_on() -> None:
    async def go() -> None:
        loop = asyncio.get_running_loop()
        disk = DiskThread("test-disk")
        got: asyncio.Queue[BaseException | None] = asyncio.Queue()

        def fail() -> None:
            raise OSError(5, "fsync failed")

        disk.run(loop, fail, got.put_nowait)
        exc = await asyncio.wait_for(got.get(), 10)
        assert isinstance(exc, OSError) and exc.errno == 5
        disk.run(loop, lambda: None, got.put_nowait)
        assert await asyncio.wait_for(got.get(), 10) is None
        disk.close()

    asyncio.run(go())


def test_close_ends_the_thread_after_the_work_handed_to_it() -> None:
    async def go() -> None:
        loop = asyncio.get_running_loop()
        disk = DiskThread("test-disk")
        release = threading.Event()
        done: asyncio.Queue[BaseException | None] = asyncio.Queue()
        disk.run(loop, lambda: release.wait(10), done.put_nowait)
        thread = disk._thread
        assert thread is not None
        disk.close()  # while the work is under way
        with pytest.raises(RuntimeError):
            disk.run(loop, lambda: None, done.put_nowait)
        release.set()
        assert await asyncio.wait_for(done.get(), 10) is None  # the work still finished
        await asyncio.to_thread(thread.join, 10)
        assert not thread.is_alive()

    asyncio.run(go())


def test_a_closed_loop_is_not_called_back() -> None:
    loop = asyncio.new_event_loop()
    disk = DiskThread("test-disk")
    release = threading.Event()
    called: list[BaseException | None] = []
    disk.run(loop, lambda: release.wait(10), called.append)
    thread = disk._thread
    assert thread is not None
    loop.close()
    release.set()
    disk.close()
    thread.join(10)
    assert not thread.is_alive() and called == []
