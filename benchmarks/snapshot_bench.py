"""Snapshot encode/decode time and the memory of a loaded tree, in process (no server).

Builds a tree of N znodes of 100 B under /mem through the tree's create path (as a server
fed by clients would: distinct data and path objects, one zxid and one time per txn),
encodes it, then loads the image in a fresh process and reports the load time, the RSS of
the loaded tree and the RSS before and after. Use it to check a change to the snapshot
format or to the tree's loading against the figures of the previous commit:

    python benchmarks/snapshot_bench.py --nodes 1000000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from roost.tree import DataTree, TxnContext
from roost.wire.opcodes import Op, Perm
from roost.wire.records import ACL, CreateRequest, Id

OPEN_ACL = [ACL(int(Perm.ALL), Id("world", "anyone"))]
NODE_BYTES = 100
T0 = 1_700_000_000_000


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def build(n: int) -> DataTree:
    tree = DataTree()
    tree.create_session(TxnContext(1, T0, 0), 0x1234, 30000, b"p" * 16)
    tree.apply(TxnContext(2, T0, 0x1234), Op.CREATE, CreateRequest("/mem", b"", OPEN_ACL, 0))
    base = bytes(NODE_BYTES - 8)
    for i in range(n):
        zxid = 3 + i
        req = CreateRequest(f"/mem/n{i}", base + i.to_bytes(8, "big"), OPEN_ACL, 0)
        err, _, _ = tree.apply(TxnContext(zxid, T0 + i // 20, 0x1234), Op.CREATE, req)
        if err:
            raise RuntimeError(f"create /mem/n{i}: error {err}")
    return tree


def load(image: Path) -> None:
    """In a fresh process: time DataTree.from_bytes and print the RSS figures."""
    start = rss_mib()
    raw = image.read_bytes()
    t0, c0 = time.perf_counter(), time.process_time()
    tree = DataTree.from_bytes(raw)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    with_image = rss_mib()
    del raw
    print(
        f"load {wall:.2f}s (cpu {cpu:.2f}s) of {tree.node_count():,} znodes; RSS at start "
        f"{start:.0f} MiB, with the image {with_image:.0f} MiB, tree alone "
        f"{rss_mib() - start:.0f} MiB"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nodes", type=int, default=100_000)
    p.add_argument("--load", type=Path, help=argparse.SUPPRESS)  # the fresh-process half
    ns = p.parse_args()
    if ns.load is not None:
        load(ns.load)
        return
    before = rss_mib()
    t0 = time.perf_counter()
    tree = build(ns.nodes)
    print(
        f"built {tree.node_count():,} znodes in {time.perf_counter() - t0:.1f}s; "
        f"tree RSS {rss_mib() - before:.0f} MiB (built by creates)"
    )
    t0 = time.perf_counter()
    image = tree.to_bytes()
    print(f"encode {time.perf_counter() - t0:.2f}s, {len(image) / 2**20:.1f} MiB")
    del tree
    with tempfile.TemporaryDirectory(prefix="snapbench-") as tmp:
        path = Path(tmp) / "tree.snap"
        path.write_bytes(image)
        del image
        subprocess.run([sys.executable, __file__, "--load", str(path)], check=True)


if __name__ == "__main__":
    main()
