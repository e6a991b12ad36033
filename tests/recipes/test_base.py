"""Server-free checks of the recipe building blocks: sequence names, fencing gate, codecs."""

from __future__ import annotations

import asyncio
import threading

import pytest

from roost.recipes import FencingGate, StaleTokenError, check_token
from roost.recipes._base import cancel_and_wait, sequence_of, sort_sequential
from roost.recipes.config import decode, encode


def test_sequence_suffixes_including_wrapped_counters() -> None:
    assert sequence_of("_c_abc-latch-0000000012") == 12
    assert sequence_of("guid__lock__0000000003") == 3
    assert sequence_of("q--000000005") == -5  # "%010d" of -5 after the counter wraps
    assert sequence_of("member-a") is None
    names = ["x-0000000010", "ready", "x-0000000002", "y-0000000007"]
    assert sort_sequential(names) == ["x-0000000002", "y-0000000007", "x-0000000010"]


def test_fencing_gate_refuses_older_tokens_only() -> None:
    gate = FencingGate()
    gate.admit(5)
    gate.admit(5)  # the same holder keeps writing
    gate.admit(9)
    with pytest.raises(StaleTokenError) as err:
        gate.admit(7)
    assert err.value.token == 7 and err.value.highest == 9
    assert gate.highest == 9 and not gate.would_admit(8) and gate.would_admit(10)
    assert check_token(3, 3) and not check_token(2, 3)


def test_fencing_gate_under_threads_keeps_the_maximum() -> None:
    gate = FencingGate()
    refused: list[int] = []

    def writer(tokens: range) -> None:
        for t in tokens:
            try:
                gate.admit(t)
            except StaleTokenError:
                refused.append(t)

    threads = [threading.Thread(target=writer, args=(range(i, 400, 4),)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert gate.highest == 399
    assert all(t < 399 for t in refused)


@pytest.mark.parametrize(("codec", "value"), [("bytes", b"\x00x"), ("str", "héllo"),
                                               ("json", {"a": [1, 2], "b": None})])
def test_codecs_round_trip(codec: str, value: object) -> None:
    assert decode(codec, encode(codec, value)) == value


def test_unknown_codec_is_refused() -> None:
    with pytest.raises(ValueError):
        encode("yaml", 1)


def test_cancel_and_wait_outlasts_a_lost_cancellation() -> None:
    # a background task that loses the first cancellation (as Python 3.11's wait_for can)
    # and then waits for an event nobody sets: cancel_and_wait must still end it
    async def main() -> list[str]:
        seen: list[str] = []
        never = asyncio.Event()

        async def loop() -> None:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                seen.append("lost")
                asyncio.current_task().uncancel()  # type: ignore[union-attr]
            await never.wait()

        task = asyncio.get_running_loop().create_task(loop())
        await asyncio.sleep(0)
        await asyncio.wait_for(cancel_and_wait(task), 5)
        assert task.cancelled()
        return seen

    assert asyncio.run(main()) == ["lost"]


def test_cancel_and_wait_lets_the_callers_cancellation_through() -> None:
    async def main() -> None:
        stop = asyncio.Event()

        async def stubborn() -> None:  # swallows every cancellation until told to stop
            while not stop.is_set():
                try:
                    await asyncio.sleep(10)
                except asyncio.CancelledError:
                    asyncio.current_task().uncancel()  # type: ignore[union-attr]

        task = asyncio.get_running_loop().create_task(stubborn())
        await asyncio.sleep(0)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(cancel_and_wait(task), 0.3)  # the caller gives up
        assert not task.done()
        stop.set()
        task.cancel()
        await asyncio.wait({task}, timeout=5)
        assert task.done()

    asyncio.run(main())
