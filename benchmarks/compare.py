#!/usr/bin/env python3
"""Run zkbench against Apache ZooKeeper and roost in one go and print them side by side.

    python benchmarks/compare.py --ops 20000 --clients 8 --pipeline 32

Every option compare.py does not know itself is handed to zkbench unchanged, so both
servers get identical parameters. Each server is started fresh on a free 127.0.0.1 port
with a temporary data directory (ZooKeeper from Debian's package with its default
forceSync=yes; roost as a subprocess with its defaults), benchmarked, and stopped; the
servers run one after the other, never at the same time. The peak RSS (VmHWM) and CPU
time of each server process are read from /proc before it is stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

HERE = Path(__file__).resolve().parent
ZKBENCH = HERE / "zkbench.py"
SERVERS = ("zookeeper", "roost")
LABELS = {"zookeeper": "ZooKeeper", "roost": "roost"}
#: TCP states in /proc/net/tcp*: 0A is LISTEN
_LISTEN = "0A"


class Server(Protocol):
    @property
    def hosts(self) -> str: ...


@dataclass
class ProcStats:
    pid: int
    peak_rss_kib: int
    rss_kib: int
    cpu_seconds: float


@dataclass
class ServerRun:
    server: str
    hosts: str = ""
    error: str = ""
    #: the server's harness class is not in this tree (yet): not counted as a failure
    unavailable: bool = False
    stats: ProcStats | None = None
    bench: dict[str, Any] = field(default_factory=dict)
    bench_seconds: float = 0.0

    def result(self, workload: str) -> dict[str, Any] | None:
        for r in self.bench.get("results", []):
            if r["workload"] == workload:
                return dict(r)
        return None


# --- processes ------------------------------------------------------------------------


def listening_pid(port: int) -> int | None:
    """The pid of the (own-user) process with a TCP socket listening on ``port``."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                cols = line.split()
                if len(cols) > 9 and cols[3] == _LISTEN and int(cols[1].rsplit(":")[1], 16) == port:
                    inodes.add(f"socket:[{cols[9]}]")
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in inodes:
                        return int(proc.name)
    return None


def server_pid(server: Server) -> int | None:
    """The serving process: whoever listens on the port, else the harness's Popen."""
    port = int(server.hosts.rsplit(":", 1)[1])
    pid = listening_pid(port)
    if pid is not None:
        return pid
    for attr in ("proc", "process"):
        popen = getattr(server, attr, None)
        if popen is not None:
            return int(popen.pid)
    return None


def proc_stats(pid: int) -> ProcStats:
    """VmHWM/VmRSS from /proc/PID/status and utime+stime from /proc/PID/stat."""
    status: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            status[key] = int(value.split()[0])
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])
    hz = os.sysconf("SC_CLK_TCK")
    return ProcStats(pid, status.get("VmHWM", 0), status.get("VmRSS", 0), ticks / hz)


# --- servers --------------------------------------------------------------------------


@contextlib.contextmanager
def start_zookeeper() -> Iterator[Server]:
    from roost.testing.zookeeper import ZooKeeperServer

    with ZooKeeperServer() as zk:
        yield zk


@contextlib.contextmanager
def start_roost() -> Iterator[Server]:
    from roost.testing.server import RoostServer

    with RoostServer(data_dir=None, port=0, subprocess=True, max_client_connections=0) as srv:
        yield srv


STARTERS: dict[str, Callable[[], contextlib.AbstractContextManager[Server]]] = {
    "zookeeper": start_zookeeper,
    "roost": start_roost,
}


def run_zkbench(hosts: str, bench_args: Sequence[str], timeout: float) -> dict[str, Any]:
    """Run zkbench.py --json against ``hosts`` in a child process; returns its report."""
    cmd = [sys.executable, str(ZKBENCH), hosts, *bench_args, "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"zkbench failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def bench_one(
    name: str, bench_args: Sequence[str], warmup_args: Sequence[str] | None, timeout: float
) -> ServerRun:
    """Start one server, (optionally warm it up,) benchmark it, read its stats, stop it."""
    run = ServerRun(name)
    try:
        with STARTERS[name]() as srv:
            run.hosts = srv.hosts
            pid = server_pid(srv)
            if warmup_args is not None:
                run_zkbench(srv.hosts, warmup_args, timeout)
            t0 = time.monotonic()
            run.bench = run_zkbench(srv.hosts, bench_args, timeout)
            run.bench_seconds = time.monotonic() - t0
            if pid is not None:
                run.stats = proc_stats(pid)
    except ImportError as e:
        run.error = f"not available in this tree ({e})"
        run.unavailable = True
    except (OSError, RuntimeError, TimeoutError, subprocess.TimeoutExpired) as e:
        run.error = f"{type(e).__name__}: {e}"
    return run


# --- output ---------------------------------------------------------------------------


def _fmt_rate(r: dict[str, Any] | None) -> str:
    return f"{r['ops_per_sec']:.0f}" if r else "-"


def _fmt_lat(r: dict[str, Any] | None) -> str:
    return f"{r['p50_ms']:.2f} / {r['p99_ms']:.2f}" if r else "-"


def _ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str:
    if not a or not b or not a["ops_per_sec"]:
        return "-"
    return f"{b['ops_per_sec'] / a['ops_per_sec']:.2f}x"


def table(zk: ServerRun, roost: ServerRun) -> str:
    """The side-by-side table: throughput, roost/ZooKeeper ratio, latencies."""
    names: list[str] = []
    for run in (zk, roost):
        names += [r["workload"] for r in run.bench.get("results", []) if r["workload"] not in names]
    head = ("workload", "ZooKeeper ops/s", "roost ops/s", "roost/ZK", "ZK p50/p99 ms",
            "roost p50/p99 ms")
    rows = [head]
    for n in names:
        a, b = zk.result(n), roost.result(n)
        rows.append((n, _fmt_rate(a), _fmt_rate(b), _ratio(a, b), _fmt_lat(a), _fmt_lat(b)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells))
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def _plain(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def footer(run: ServerRun) -> str:
    label = LABELS[run.server]
    if run.error:
        return f"{label}: not measured: {run.error}"
    capped = [r["workload"] for r in run.bench.get("results", []) if r["capped"]]
    note = f"; wall-clock cap hit in {','.join(capped)}" if capped else ""
    if run.stats is None:
        return f"{label} ({run.hosts}): process not found, no RSS/CPU figures{note}"
    s = run.stats
    return (
        f"{label} ({run.hosts}, pid {s.pid}): peak RSS {s.peak_rss_kib / 1024:.1f} MiB "
        f"(now {s.rss_kib / 1024:.1f} MiB), server CPU {s.cpu_seconds:.1f}s{note}"
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="compare.py",
        description="zkbench against Apache ZooKeeper and roost, side by side. "
        "Other options go to zkbench.py unchanged (see zkbench.py --help).",
    )
    p.add_argument(
        "--servers", default=",".join(SERVERS), help="comma-separated subset of zookeeper,roost"
    )
    p.add_argument(
        "--warmup-ops",
        type=int,
        default=0,
        help="first run an unreported pass with this many ops per workload (JIT warm-up)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document instead")
    return p


def _bench_timeout(bench_args: Sequence[str]) -> float:
    """A bound for one zkbench child: its per-workload caps plus setup and cleanup."""
    sys.path.insert(0, str(HERE))
    import zkbench

    cfg = zkbench.config_from_args(zkbench.build_parser().parse_args(["127.0.0.1:1", *bench_args]))
    per_phase = cfg.max_seconds + cfg.stall_seconds
    return (len(cfg.workloads) + 3) * per_phase + 60.0


def _warmup_args(bench_args: list[str], ops: int) -> list[str] | None:
    if ops <= 0:
        return None
    return [*bench_args, "--ops", str(ops)]


def main(argv: Sequence[str] | None = None) -> int:
    ns, bench_args = build_parser().parse_known_args(argv)
    servers = [s.strip() for s in ns.servers.split(",") if s.strip()]
    if not servers or any(s not in SERVERS for s in servers):
        raise SystemExit(f"--servers: choose from {','.join(SERVERS)}")
    if "--json" in bench_args:
        raise SystemExit("--json is compare.py's own option here")
    timeout = _bench_timeout(bench_args)  # also validates the zkbench options
    runs = {name: ServerRun(name, error="not requested", unavailable=True) for name in SERVERS}
    for name in servers:
        if not ns.json:
            print(f"benchmarking {LABELS[name]} ...", file=sys.stderr, flush=True)
        runs[name] = bench_one(name, bench_args, _warmup_args(bench_args, ns.warmup_ops), timeout)
        if runs[name].error and not ns.json:
            print(f"  {LABELS[name]}: {runs[name].error}", file=sys.stderr, flush=True)
    zk, roost = runs["zookeeper"], runs["roost"]
    if ns.json:
        print(json.dumps({k: asdict(v) for k, v in runs.items()}, indent=2))
    else:
        cfg = (zk.bench or roost.bench).get("config", {})
        keys = ("clients", "pipeline", "ops", "size", "workloads")
        params = " ".join(f"{k}={_plain(cfg[k])}" for k in keys if k in cfg)
        print(f"zkbench, identical parameters for both servers: {params}")
        print(table(zk, roost))
        print(footer(zk))
        print(footer(roost))
    measured = [n for n in servers if not runs[n].error]
    failed = [n for n in servers if runs[n].error and not runs[n].unavailable]
    return 0 if measured and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
