"""Child process for the crash test: append + sync forever, print each synced index.

Usage: python crash_writer.py <log dir> <seed> <segment size>
Entries carry ``payload(index)`` so the parent can check them after a SIGKILL.
"""

from __future__ import annotations

import random
import sys

from roost.storage import Entry, WriteAheadLog

MAX_BATCHES = 20_000


def payload(index: int) -> bytes:
    """A deterministic payload whose length varies with the index."""
    return f"entry-{index}|".encode() * (index % 5 + 1)


def main() -> None:
    directory, seed, segment_size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    wal = WriteAheadLog.open(directory, segment_size=segment_size)
    term = wal.last_term + 1
    for _ in range(MAX_BATCHES):
        first = wal.last_index + 1
        count = rng.randint(1, 12)
        wal.append([Entry(term, i, payload(i)) for i in range(first, first + count)])
        wal.sync()
        print(first + count - 1, flush=True)


if __name__ == "__main__":
    main()
