"""Memory, restart time and snapshot size of a server holding many 100-byte znodes.

Used by compare_all.py: start a standalone server on a data directory of our own, load N
znodes of 100 B under /mem (pipelined over a few sessions), read the server's RSS, restart
it (clean stop; then SIGKILL) timing until /mem shows all N children again, and measure the
newest snapshot file once it holds all N znodes (roost: ``snap/*.snap``; ZooKeeper:
``version-2/snapshot.*``; see `snapshot_everything`).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import compare  # benchmarks/compare.py: /proc figures

from roost.bench.config import OPEN_ACL
from roost.bench.session import BenchError, Plan, Req, Session, split
from roost.testing.zookeeper import PRODUCTION_JVM_FLAGS
from roost.wire.opcodes import Op
from roost.wire.records import CreateRequest, ExistsRequest, Stat

NODE_BYTES = 100
LOAD_SESSIONS = 4
LOAD_DEPTH = 64
#: JVM flags for ZooKeeper here: those of its start script (default collector, G1) but a
#: 3 GiB heap, so that a million znodes fit (its 1000 MB default is an operator's to raise)
ZK_MEMORY_JVM = ("-Xmx3g", *PRODUCTION_JVM_FLAGS[1:])


@dataclass
class MemoryRun:
    server: str
    nodes: int
    load_seconds: float = 0.0
    rss_empty_kib: int = 0
    rss_loaded_kib: int = 0
    restart_clean_seconds: float = 0.0
    rss_after_restart_kib: int = 0
    restart_kill_seconds: float = 0.0
    snapshot_file: str = ""
    snapshot_bytes: int = 0
    error: str = ""


def _target(hosts: str) -> tuple[str, int]:
    host, port = hosts.rsplit(":", 1)
    return host, int(port)


async def load(hosts: str, n: int) -> None:
    """Create /mem and ``n`` children of 100 B under it; any error raises."""
    target = _target(hosts)
    sessions = [await Session.open(*target, 30000, 60.0) for _ in range(LOAD_SESSIONS)]
    try:
        err, _ = await sessions[0].call(Op.CREATE, CreateRequest("/mem", b"", OPEN_ACL, 0))
        if err != 0:
            raise BenchError(f"create /mem: {err}")
        data = b"m" * NODE_BYTES
        deadline = time.monotonic() + 1800.0

        async def one(k: int, count: int) -> None:
            reqs: list[Req] = [
                (Op.CREATE, CreateRequest(f"/mem/s{k}-{i}", data, OPEN_ACL, 0))
                for i in range(count)
            ]
            res = await sessions[k].pipeline(Plan(reqs), LOAD_DEPTH, deadline)
            if res.error_count or res.capped:
                raise BenchError(f"load: {res.errors}, capped={res.capped}")

        await asyncio.gather(*(one(k, c) for k, c in enumerate(split(n, LOAD_SESSIONS))))
    finally:
        await asyncio.gather(*(s.close() for s in sessions))


async def count(hosts: str) -> int:
    """numChildren of /mem (-1 while the server does not answer)."""
    try:
        s = await Session.open(*_target(hosts), 30000, 10.0)
    except (OSError, BenchError, TimeoutError):
        return -1
    try:
        err, body = await s.call(Op.EXISTS, ExistsRequest("/mem", False))
        return Stat.from_bytes(body).numChildren if err == 0 else -1
    finally:
        await s.close()


def wait_for_nodes(hosts: str, n: int, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while asyncio.run(count(hosts)) != n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"/mem did not show {n} children within {timeout}s")
        time.sleep(0.05)  # polling the restarted server until the data is back


def newest_snapshot(data_dir: Path, pattern: str) -> Path | None:
    files = [p for p in data_dir.glob(pattern) if p.is_file()]
    return max(files, key=lambda p: p.stat().st_mtime_ns, default=None)


@contextlib.contextmanager
def standalone(server: str, data_dir: Path, **roost_config: Any) -> Iterator[Any]:
    if server == "zookeeper":
        from roost.testing.zookeeper import ZooKeeperServer

        with ZooKeeperServer(data_dir=data_dir, jvm_flags=ZK_MEMORY_JVM) as zk:
            yield zk
    else:
        from roost.testing.server import RoostServer

        with RoostServer(
            data_dir=data_dir, subprocess=True, max_client_connections=0, **roost_config
        ) as srv:
            yield srv


def snapshot_everything(server: str, data_dir: Path, n: int) -> None:
    """Make the newest snapshot hold all ``n`` znodes. ZooKeeper writes one as it starts;
    roost keeps the txns after its last periodic snapshot in the log (a clean stop writes
    one only when replaying them would cost more), so start it once with a snapshot after
    every txn: the session that counts /mem triggers one, and the stop waits for it."""
    if server == "roost":
        with standalone(server, data_dir, snapshot_every=1) as srv:
            wait_for_nodes(srv.hosts, n)


def rss(srv: Any) -> int:
    pid = compare.server_pid(srv)
    return compare.proc_stats(pid).rss_kib if pid else 0


def measure(server: str, n: int) -> MemoryRun:
    run = MemoryRun(server, n)
    pattern = "version-2/snapshot.*" if server == "zookeeper" else "**/*.snap"
    with tempfile.TemporaryDirectory(prefix=f"mem-{server}-") as tmp:
        data_dir = Path(tmp) / "data"
        try:
            with standalone(server, data_dir) as srv:
                run.rss_empty_kib = rss(srv)
                t0 = time.monotonic()
                asyncio.run(load(srv.hosts, n))
                run.load_seconds = time.monotonic() - t0
                run.rss_loaded_kib = rss(srv)
                t0 = time.monotonic()
                srv.restart()
                wait_for_nodes(srv.hosts, n)
                run.restart_clean_seconds = time.monotonic() - t0
                run.rss_after_restart_kib = rss(srv)
                srv.kill()
                t0 = time.monotonic()
                srv.start()
                wait_for_nodes(srv.hosts, n)
                run.restart_kill_seconds = time.monotonic() - t0
            snapshot_everything(server, data_dir, n)
            snap = newest_snapshot(data_dir, pattern)
            if snap is not None:
                run.snapshot_file = str(snap.relative_to(data_dir))
                run.snapshot_bytes = snap.stat().st_size
        except (OSError, RuntimeError, TimeoutError, BenchError) as e:
            run.error = f"{type(e).__name__}: {e}"
    return run


def line(run: MemoryRun) -> str:
    if run.error:
        return f"{run.server:<10} {run.nodes:>9,} nodes: not measured: {run.error}"
    mib = 1024
    return (
        f"{run.server:<10} {run.nodes:>9,} nodes: load {run.load_seconds:6.1f}s, "
        f"RSS empty {run.rss_empty_kib / mib:7.1f} MiB, loaded {run.rss_loaded_kib / mib:7.1f} "
        f"MiB, after restart {run.rss_after_restart_kib / mib:7.1f} MiB; restart (clean stop) "
        f"{run.restart_clean_seconds:5.1f}s, after SIGKILL {run.restart_kill_seconds:5.1f}s; "
        f"snapshot {run.snapshot_bytes / 2**20:6.1f} MiB ({run.snapshot_file or 'none'})"
    )
