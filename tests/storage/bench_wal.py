"""WAL throughput: ``python tests/storage/bench_wal.py [--entries N]`` prints entries/s for
1 KiB entries, appended in batches of 100 and of 1 with one sync per batch, plus the
append-only rate and the time to reopen (recover) the log. Figures only; no asserts."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from roost.storage import Entry, WriteAheadLog

PAYLOAD = bytes(range(256)) * 4  # 1 KiB


def run(directory: Path, total: int, batch: int, sync: bool) -> float:
    """Entries per second for ``total`` entries appended ``batch`` at a time."""
    with WriteAheadLog.open(directory) as wal:
        start = time.perf_counter()
        index = wal.last_index + 1
        for _ in range(total // batch):
            wal.append([Entry(1, index + k, PAYLOAD) for k in range(batch)])
            if sync:
                wal.sync()
            index += batch
        elapsed = time.perf_counter() - start
    return (total // batch) * batch / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="roost-wal-bench-") as tmp:
        root = Path(tmp)
        for batch, sync in ((100, True), (1, True), (100, False)):
            total = args.entries if batch > 1 else max(1, args.entries // 4)
            rate = run(root / f"b{batch}-{sync}", total, batch, sync)
            label = f"batch {batch:>3}, {'sync per batch' if sync else 'no sync      '}"
            print(f"{label}: {rate:>10,.0f} entries/s ({rate / 1024:,.1f} MiB/s)")
        start = time.perf_counter()
        with WriteAheadLog.open(root / "b100-True") as wal:
            count = wal.last_index
        elapsed = time.perf_counter() - start
        print(f"reopen (recover) {count:,} entries: {elapsed * 1000:.0f} ms")


if __name__ == "__main__":
    main()
