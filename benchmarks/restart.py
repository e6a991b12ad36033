"""Restart time of a standalone server holding many 100-byte znodes, alone (no load phase
in the timing): the restart figures of memory.py, repeated from one data directory.

Loads N znodes into a roost server and a ZooKeeper (as memory.py does), stops both, then
restarts each from a fresh copy of its data directory, rounds alternating between the
servers: the time from launching the process until /mem shows all N children, and the RSS
then. Every roost start begins from the same snapshot and log tail, so changes to the
start-up path (snapshot loading, log scan and replay, imports) compare exactly:

    python benchmarks/restart.py --nodes 1000000 --rounds 3

``--roost DIR`` (repeatable) runs the roost of another checkout too (``DIR/src`` first on
the server's PYTHONPATH), e.g. ``--roost . --roost ../main`` for before/after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import memory  # benchmarks/memory.py: loading, counting, RSS

from roost.testing.server import RoostServer
from roost.testing.zookeeper import ZooKeeperServer


def build(server: str, data_dir: Path, n: int) -> None:
    with memory.standalone(server, data_dir) as srv:
        asyncio.run(memory.load(srv.hosts, n))


def server_for(variant: str, data_dir: Path) -> Any:
    if variant == "zookeeper":
        return ZooKeeperServer(data_dir=data_dir, jvm_flags=memory.ZK_MEMORY_JVM)
    return RoostServer(data_dir=data_dir, subprocess=True, max_client_connections=0,
                       start_timeout=600.0)


def restart_once(variant: str, source: Path, work: Path, n: int) -> tuple[float, float, str]:
    """(seconds until all n znodes are served, RSS MiB then, roost's recovery log line)."""
    data_dir = work / "data"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    subprocess.run(["cp", "-a", str(source), str(data_dir)], check=True)
    srv = server_for(variant, data_dir)
    saved = os.environ.get("PYTHONPATH")
    if variant.startswith("roost:"):  # the server subprocess inherits it
        os.environ["PYTHONPATH"] = str(Path(variant[6:]).resolve() / "src")
    try:
        t0 = time.monotonic()
        srv.start()
        memory.wait_for_nodes(srv.hosts, n)
        seconds = time.monotonic() - t0
        rss = memory.rss(srv) / 1024
        srv.stop()
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
    log_path = getattr(srv, "log_path", None)
    recovered = ""
    if log_path is not None and Path(log_path).exists():
        lines = [ln for ln in Path(log_path).read_text().splitlines() if " recovered " in ln]
        recovered = "recovered " + lines[-1].split(" recovered ", 1)[1] if lines else ""
    return seconds, rss, recovered


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nodes", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--roost", action="append", default=[], metavar="DIR",
                   help="also run the roost of this checkout (repeatable)")
    p.add_argument("--no-zookeeper", action="store_true")
    ns = p.parse_args()
    variants = ([] if ns.no_zookeeper else ["zookeeper"]) + (
        [f"roost:{d}" for d in ns.roost] or ["roost"]
    )
    times: dict[str, list[float]] = {v: [] for v in variants}
    with tempfile.TemporaryDirectory(prefix="restart-bench-") as tmp:
        root = Path(tmp)
        sources = {}
        for server in {"zookeeper" if v == "zookeeper" else "roost" for v in variants}:
            t0 = time.monotonic()
            sources[server] = root / f"{server}-data"
            build(server, sources[server], ns.nodes)
            print(f"{server}: {ns.nodes:,} znodes loaded in {time.monotonic() - t0:.0f}s",
                  flush=True)
        for r in range(ns.rounds):
            for v in variants:
                load = os.getloadavg()[0]
                source = sources["zookeeper" if v == "zookeeper" else "roost"]
                seconds, rss, recovered = restart_once(v, source, root / "work", ns.nodes)
                times[v].append(seconds)
                print(f"round {r + 1} {v}: restart {seconds:.2f}s, RSS {rss:.0f} MiB "
                      f"(load average {load:.1f}) {recovered}", flush=True)
    for v, ts in times.items():
        print(f"{v}: restart median {statistics.median(ts):.2f}s (min {min(ts):.2f}, "
              f"max {max(ts):.2f}) over {len(ts)} rounds")


if __name__ == "__main__":
    main()
