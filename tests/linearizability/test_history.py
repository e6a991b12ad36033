"""The History recorder: handles, statuses, timestamps, threads and asyncio tasks."""

from __future__ import annotations

import asyncio
import itertools
import threading
from pathlib import Path
from typing import Any

import pytest

from roost.testing.history import (
    UNKNOWN,
    Event,
    EventKind,
    History,
    Status,
    dump_event,
    load_events,
    operations_from_events,
)


def _fake_clock() -> History:
    ticks = itertools.count(100)
    return History(clock=lambda: next(ticks))


def test_ok_fail_info_and_pending() -> None:
    h = _fake_clock()
    a = h.invoke(1, "write", 5)
    b = h.invoke(2, "read")
    c = h.invoke(3, "cas", (5, 6))
    d = h.invoke(4, "write", 9)
    h.ok(b, 5)
    h.ok(a)
    h.fail(c)
    assert h.pending == 1
    ops = h.operations()
    assert [op.f for op in ops] == ["write", "read", "cas", "write"]  # invocation order
    assert [op.id for op in ops] == [0, 1, 2, 3]
    write, read, cas, pending = ops
    assert (write.call, write.ret, write.status, write.result) == (100, 105, Status.OK, None)
    assert (read.call, read.ret, read.result) == (101, 104, 5)
    assert cas.status is Status.FAIL and cas.ret == 106
    assert pending.status is Status.INFO and pending.ret is None and pending.result is UNKNOWN
    h.info(d)
    assert h.operations()[3].status is Status.INFO
    assert len(h) == 8


def test_completing_twice_or_unknown_handle_is_an_error() -> None:
    h = History()
    a = h.invoke("p", "write", 1)
    h.ok(a)
    with pytest.raises(ValueError, match="already completed"):
        h.fail(a)
    with pytest.raises(ValueError, match="unknown"):
        h.ok(12345)


def test_real_clock_is_monotonic_nanoseconds() -> None:
    h = History()
    a = h.invoke(0, "read")
    b = h.invoke(1, "read")
    h.ok(b, None)
    h.ok(a, None)
    first, second = h.operations()
    assert first.call <= second.call <= second.ret <= first.ret  # type: ignore[operator]
    assert all(isinstance(ev.time, int) for ev in h.events())


def test_threads_record_consistently() -> None:
    h = History()
    per_thread = 200

    def worker(pid: int) -> None:
        for i in range(per_thread):
            handle = h.invoke(pid, "write", (pid, i))
            h.ok(handle, i)

    threads = [threading.Thread(target=worker, args=(p,)) for p in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ops = h.operations()
    assert len(ops) == 4 * per_thread
    times = [ev.time for ev in h.events()]
    assert times == sorted(times)  # event order is timestamp order
    for op in ops:
        assert op.status is Status.OK and op.result == op.args[1]
        assert op.ret is not None and op.call <= op.ret
    for pid in range(4):
        mine = [op for op in ops if op.process == pid]
        assert [op.args[1] for op in mine] == list(range(per_thread))


def test_asyncio_tasks_record_concurrent_operations() -> None:
    h = History()

    async def client(pid: int) -> None:
        for i in range(20):
            handle = h.invoke(pid, "read")
            await asyncio.sleep(0)
            if i % 5 == 4:
                h.info(handle)
            else:
                h.ok(handle, i)

    async def main() -> None:
        await asyncio.gather(*(client(p) for p in range(5)))

    asyncio.run(main())
    ops = h.operations()
    assert len(ops) == 100
    assert sum(op.status is Status.INFO for op in ops) == 20
    # tasks interleave, so some operations overlap in time
    finished = [op for op in ops if op.ret is not None]
    overlapping = any(
        a.call < b.call < a.ret  # type: ignore[operator]
        for a in finished for b in finished if a is not b
    )
    assert overlapping


def test_operations_from_events_rejects_bad_sequences() -> None:
    inv = Event(EventKind.INVOKE, 1, "p", "read", None, 1)
    ok = Event(EventKind.OK, 1, "p", "read", 3, 2)
    with pytest.raises(ValueError, match="without a pending"):
        operations_from_events([ok])
    with pytest.raises(ValueError, match="invoked twice"):
        operations_from_events([inv, inv])
    with pytest.raises(ValueError, match="without a pending"):
        operations_from_events([inv, ok, ok])
    (op,) = operations_from_events([inv, ok])
    assert (op.result, op.call, op.ret) == (3, 1, 2)


def test_as_info_forgets_the_outcome() -> None:
    h = _fake_clock()
    h.ok(h.invoke(0, "write", 1))
    op = h.operations()[0].as_info()
    assert (op.status, op.ret, op.result, op.args) == (Status.INFO, None, UNKNOWN, 1)
    assert repr(UNKNOWN) == "UNKNOWN"


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    h = _fake_clock()
    values: list[Any] = [
        None, 3, -2.5, "s", b"\x00\xff", ("/a", b"x", -1), frozenset({"b", "a"}),
        ["n-1", "n-2"], {"k": (1, 2)}, True,
    ]
    for i, value in enumerate(values):
        h.ok(h.invoke(("client", i), "op", value), value)
    h.fail(h.invoke(7, "write", 1))
    h.info(h.invoke(8, "write", 2))
    h.invoke(9, "read")  # still pending
    path = h.save(tmp_path / "h.jsonl")
    assert len(path.read_text().splitlines()) == len(h)
    events = load_events(path)
    assert events == h.events()
    assert operations_from_events(events) == h.operations()
    assert operations_from_events(events)[-1].result is UNKNOWN


def test_saving_an_unsupported_value_fails_clearly() -> None:
    h = History()
    h.invoke(0, "write", object())
    with pytest.raises(TypeError, match="cannot save"):
        dump_event(h.events()[0])
    with pytest.raises(TypeError, match="cannot save"):
        h.save("/nonexistent-dir/never-written.jsonl")
