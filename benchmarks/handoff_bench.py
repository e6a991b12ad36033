"""The hand-off of a disk write from the event loop to a thread and back, measured alone.

    python benchmarks/handoff_bench.py --writes 3000

One write at a time (the next is submitted from the previous one's callback, as a log does
at depth 1): an append of `--size` bytes to a file and its fsync, run by each way of
handing it off in turn, rounds alternating. For every write it records four timestamps
(submitted on the loop, started in the thread, finished in the thread, callback on the
loop) and prints the medians and p99 of the two hand-off steps and of the whole round trip:

- executor: `loop.run_in_executor` with the outcome sent back by `call_soon_threadsafe`
  (how roost.server.handoff ran the logs' writes before)
- thread: roost.server.handoff.DiskThread, one long-lived thread fed by a queue
- inline: the write and fsync on the loop thread itself (no hand-off; the loop serves
  nothing else for the fsync's duration)

`--busy US` adds a callback chain that keeps the loop thread in Python for US microseconds
per turn, as other connections' requests do on a loaded server: the thread then needs the
GIL back from the loop before it can start (and after the fsync, before it can hand back).
`--switch-interval` sets how long the loop thread may keep the GIL while the thread waits
for it (Python's default 5 ms). `--no-fsync` leaves the disk out to show the hand-off's
own cost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

from roost.server import new_event_loop
from roost.server.handoff import DiskThread

Stamps = list[tuple[int, int, int, int]]
now = time.perf_counter_ns


def executor_handoff(
    loop: asyncio.AbstractEventLoop,
    work: Callable[[], object],
    then: Callable[[BaseException | None], None],
) -> None:
    """The former roost.server.handoff.in_thread."""

    def run() -> None:
        exc: BaseException | None = None
        try:
            work()
        except BaseException as e:
            exc = e
        loop.call_soon_threadsafe(then, exc)

    loop.run_in_executor(None, run)


async def one_round(
    mode: str, writes: int, fd: int, record: bytes, fsync: bool, busy_us: int
) -> Stamps:
    loop = asyncio.get_running_loop()
    stamps: Stamps = []
    finished = loop.create_future()
    disk = DiskThread("handoff-bench") if mode == "thread" else None
    stop_busy = False

    def burn() -> None:  # other connections' requests, in slices of busy_us
        end = now() + busy_us * 1000
        while now() < end:
            pass
        if not stop_busy:
            loop.call_soon(burn)

    if busy_us:
        loop.call_soon(burn)

    def submit() -> None:
        t: list[int] = [now(), 0, 0]

        def work() -> None:
            t[1] = now()
            os.write(fd, record)
            if fsync:
                os.fsync(fd)
            t[2] = now()

        def then(exc: BaseException | None) -> None:
            stamps.append((t[0], t[1], t[2], now()))
            if exc is not None:
                finished.set_exception(exc)
            elif len(stamps) < writes:
                if mode == "inline":  # through the loop, as a log's next batch would go
                    loop.call_soon(submit)
                else:
                    submit()
            else:
                finished.set_result(None)

        if mode == "inline":
            work()
            then(None)
        elif mode == "executor":
            executor_handoff(loop, work, then)
        else:
            assert disk is not None
            disk.run(loop, work, then)

    submit()
    await finished
    stop_busy = True
    if disk is not None:
        disk.close()
    await asyncio.sleep(0.01)
    return stamps


def summarize(stamps: Stamps, warmup: int) -> dict[str, tuple[float, float]]:
    rows = stamps[warmup:]

    def p(values: list[float]) -> tuple[float, float]:
        values.sort()
        return statistics.median(values), values[min(len(values) - 1, int(len(values) * 0.99))]

    return {
        "to thread": p([(b - a) / 1000 for a, b, _, _ in rows]),
        "work": p([(c - b) / 1000 for _, b, c, _ in rows]),
        "back to loop": p([(d - c) / 1000 for _, _, c, d in rows]),
        "round trip": p([(d - a) / 1000 for a, _, _, d in rows]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--writes", type=int, default=3000, help="writes per round (default 3000)")
    ap.add_argument("--warmup", type=int, default=200, help="writes left out of each round")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per mode, alternating")
    ap.add_argument("--size", type=int, default=1100, help="bytes per append (default 1100)")
    ap.add_argument("--busy", type=int, default=0, help="keep the loop busy US us per turn")
    ap.add_argument("--switch-interval", type=float, default=None,
                    help="sys.setswitchinterval(SECONDS) first (Python's default: 0.005)")
    ap.add_argument("--no-fsync", action="store_true", help="append without fsync")
    ap.add_argument("--modes", default="executor,thread,inline", help="comma-separated")
    ap.add_argument("--dir", default=None, help="where the file goes (default: a temp dir)")
    args = ap.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)
    record = os.urandom(args.size)
    results: dict[str, list[dict[str, tuple[float, float]]]] = {m: [] for m in modes}
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        fd = os.open(os.path.join(d, "log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for _ in range(args.rounds):
                for mode in modes:
                    loop = new_event_loop()
                    try:
                        stamps = loop.run_until_complete(
                            one_round(mode, args.writes, fd, record, not args.no_fsync, args.busy)
                        )
                    finally:
                        loop.close()
                    results[mode].append(summarize(stamps, args.warmup))
                    os.ftruncate(fd, 0)
        finally:
            os.close(fd)
    load = os.getloadavg()[0]
    print(f"load average {load:.2f}; {args.writes} writes x {args.rounds} rounds per mode, "
          f"{args.size} B, fsync {'off' if args.no_fsync else 'on'}, loop busy {args.busy} us, "
          f"switch interval {sys.getswitchinterval() * 1e6:.0f} us")
    print("p50 / p99 in us, one figure per round")
    for mode in modes:
        print(f"{mode}:")
        for step in ("to thread", "work", "back to loop", "round trip"):
            figs = "  ".join(f"{r[step][0]:7.1f}/{r[step][1]:7.1f}" for r in results[mode])
            print(f"  {step:13s} {figs}")


if __name__ == "__main__":
    main()
