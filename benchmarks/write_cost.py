"""Where a standalone server's CPU per write goes, stage by stage, in microseconds.

    python3 benchmarks/write_cost.py --reps 30

A standalone server in this process, on the event loop and with the collector thresholds
`roost serve` uses (fsync off: the fsync is the disk's time, not the
server's CPU) and one `Connection` on a transport that only counts bytes, as in
connection_cpu.py. Batches of pipelined creates (100 B, fresh paths) or setData (1 KiB)
go through the production path; the stages are timed by wrapping the functions that
make them (each wrapper costs ~0.2 us, counted in its stage; the stages are wall time
of the loop thread, which on an idle machine is its CPU time). For each stage the
CPU per request is printed for the batch with the least loop-thread CPU of `--reps`
(the one other load on the machine disturbed least); "loop and the rest" is the
batch's whole CPU per request minus the stages (the event loop's callbacks, the
hand-off's wake-up, what no wrapper covers). Thread CPU of the disk thread is its own
line (it runs next to the loop thread, outside the GIL for the write and fsync).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from connection_cpu import _answered, _connected

import roost.replica.state as replica_state
import roost.server.core as core
import roost.server.standalone as standalone
from roost.server import GC_THRESHOLDS, new_event_loop
from roost.server.config import ServerConfig
from roost.server.connection import Connection
from roost.server.core import Server
from roost.server.replicated import RaftLog
from roost.wire.opcodes import Op
from roost.wire.protocol import encode_request
from roost.wire.records import ACL, CreateRequest, Id, SetDataRequest
from roost.wire.session import ClientProtocol

BATCH = 64
OPEN = [ACL(31, Id("world", "anyone"))]

#: stage -> CPU seconds in this batch (loop thread), disk thread separately
_spent: dict[str, float] = defaultdict(float)
#: the stages' clock: perf_counter costs ~0.08 us a call, thread_time ~0.8 us (a system
#: call), too much for stages of a few microseconds; the batch's total is thread CPU time
_clock = time.perf_counter


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = _clock()
        try:
            return fn(*args, **kwargs)
        finally:
            _spent[name] += _clock() - t0

    return wrapper


def _instrument(server: Server) -> None:
    """Wrap the stages of the write path (module attributes and this server's log)."""
    ClientProtocol.receive_data = _timed("1 frame split (receive_data)",  # type: ignore[method-assign]
                                         ClientProtocol.receive_data)
    ClientProtocol.next_event = _timed("2 decode (next_event)",  # type: ignore[method-assign]
                                       ClientProtocol.next_event)
    # (the server's request pipeline, read by its connections at every batch)
    server.dispatch = _timed("3 dispatch: txn, slot, propose", server.dispatch)
    log = server.log
    if isinstance(log, RaftLog):
        _instrument_raft(log)
        Connection.flush = _timed("8 flush: join, write", Connection.flush)  # type: ignore[method-assign]
        return
    assert isinstance(log, standalone.StandaloneLog)
    log._write_batch = _timed("4 batch: encode txns, hand-off",  # type: ignore[method-assign]
                              log._write_batch)
    log._write = _timed("disk thread: log encode + write", log._write)  # type: ignore[method-assign]
    standalone.apply_txn = _timed("5 apply to the tree", standalone.apply_txn)
    log.on_applied = _timed("6 on_applied: stats, history, watches", log.on_applied)
    real_effects = standalone.effects

    def effects(applied: Any, done: Any, zxid: int, txn: Any, result: Any) -> None:
        if done is not None:
            done = _timed("7 reply: encode, order, queue", done)
        real_effects(applied, done, zxid, txn, result)

    standalone.effects = effects
    Connection.flush = _timed("8 flush: join, write", Connection.flush)  # type: ignore[method-assign]


def _instrument_raft(log: RaftLog) -> None:
    """The stages of a one-member RaftLog (stage 4 is the Ready cycle: proposals into
    raft, the Ready, the hand-off; stage 5 includes decoding the entry and dedupe)."""
    log._cycle = _timed("4 raft: propose, Ready, hand-off", log._cycle)  # type: ignore[method-assign]
    log._persist = _timed("disk thread: log encode + write", log._persist)  # type: ignore[method-assign]
    state = log.state
    state.apply = _timed("5 apply (entry decode, dedupe, tree)", state.apply)  # type: ignore[method-assign]
    state.applied = _timed("6 on_applied: stats, history, watches", state.applied)
    real_effects = replica_state.effects

    def effects(applied: Any, done: Any, zxid: int, txn: Any, result: Any,
                reply_first: bool = False) -> None:
        if done is not None:
            done = _timed("7 reply: encode, order, queue", done)
        real_effects(applied, done, zxid, txn, result, reply_first)

    replica_state.effects = effects


def _solo_raft(datadir: Any, tree_config: Any, on_applied: Any, *args: Any,
               on_fatal: Any, server_id: int, stats: Any) -> RaftLog:
    return RaftLog(datadir, _config, tree_config, on_applied, on_fatal=on_fatal,
                   stats=stats, solo=True)


_config = ServerConfig()


async def measure(reps: int, workload: str) -> tuple[dict[str, float], float, float]:
    data_dir = Path(tempfile.mkdtemp(prefix="roost-writecost-"))
    global _config
    _config = ServerConfig(data_dir=data_dir, port=0, fsync=False)
    server = Server(_config)
    await server.start()
    try:
        conn = await _connected(server)
        conn.data_received(encode_request(1, Op.CREATE, CreateRequest("/w", b"x" * 1024, OPEN, 0)))
        await _answered(conn, 2)
        _instrument(server)
        #: per measured batch: (loop thread total, disk thread, stages)
        runs: list[tuple[float, float, dict[str, float]]] = []
        seq = 0
        for _ in range(reps + 3):
            frames = []
            for i in range(BATCH):
                seq += 1
                if workload == "create-100":
                    req: Any = CreateRequest(f"/w/n{seq:09d}", b"y" * 100, OPEN, 0)
                    frames.append(encode_request(i + 2, Op.CREATE, req))
                else:
                    frames.append(encode_request(i + 2, Op.SET_DATA,
                                                 SetDataRequest("/w", b"z" * 1024, -1)))
            batch = b"".join(frames)
            _spent.clear()
            target = conn.sent + BATCH
            c0 = time.process_time()
            t0 = time.thread_time()
            conn.data_received(batch)
            await _answered(conn, target)
            loop_total = (time.thread_time() - t0) / BATCH * 1e6
            proc_total = (time.process_time() - c0) / BATCH * 1e6
            if seq <= 3 * BATCH:
                continue  # warm-up batches
            stages = {name: sec / BATCH * 1e6 for name, sec in sorted(_spent.items())
                      if not name.startswith("disk")}
            runs.append((loop_total, proc_total - loop_total, stages))
        # the batch the machine disturbed least (the least loop-thread CPU): its stages add
        # up to its total, which the medians of separate stages would not
        total, disk, stages = min(runs, key=lambda r: r[0])
        return stages, total, disk
    finally:
        await server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=30, help="batches of 64 requests")
    ap.add_argument("--workload", choices=("create-100", "set-1k"), default="create-100")
    ap.add_argument("--log", choices=("standalone", "raft"), default="standalone",
                    help="the standalone server's log: StandaloneLog or a one-member RaftLog")
    args = ap.parse_args()
    if args.log == "raft":
        core.StandaloneLog = _solo_raft  # type: ignore[misc,assignment]
    assert threading.current_thread() is threading.main_thread()
    gc.set_threshold(*GC_THRESHOLDS)  # as `roost serve` runs (roost.node)
    with asyncio.Runner(loop_factory=new_event_loop) as runner:  # uvloop, as it does
        stages, total, disk = runner.run(measure(args.reps, args.workload))
    print(f"{args.workload}, {BATCH} pipelined per batch, the best of {args.reps} batches, "
          "us CPU per request")
    for name, us in stages.items():
        print(f"  {name:42s} {us:6.2f}")
    print(f"  {'9 loop and the rest':42s} {total - sum(stages.values()):6.2f}")
    print(f"  {'loop thread total':42s} {total:6.2f}")
    print(f"  {'other threads (the disk thread)':42s} {disk:6.2f}")


if __name__ == "__main__":
    main()
