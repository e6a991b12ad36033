"""Crash test: SIGKILL a process that appends and syncs; every index it reported as
synced must be there, intact, after reopening."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from roost.storage import WriteAheadLog

from .helpers import all_entries, payload

WRITER = Path(__file__).with_name("crash_writer.py")
SEGMENT_SIZE = 4096


def run_and_kill(log_dir: Path, seed: int, kill_after: int) -> int:
    """Start the writer, SIGKILL it after ``kill_after`` synced batches were reported;
    return the highest index it reported."""
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(log_dir), str(seed), str(SEGMENT_SIZE)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    reported: list[int] = []
    try:
        for line in proc.stdout:
            reported.append(int(line))
            if len(reported) >= kill_after:
                os.kill(proc.pid, signal.SIGKILL)
                break
        # lines printed between our decision and the kill were synced too
        reported.extend(int(line) for line in proc.stdout)
    finally:
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err
    assert len(reported) >= kill_after
    return max(reported)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_never_loses_a_synced_entry(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    log_dir = tmp_path / "log"
    terms_seen = []
    for _round in range(2):  # the second run recovers the first crash, then crashes again
        synced = run_and_kill(log_dir, rng.randrange(1 << 30), kill_after=rng.randint(5, 150))
        with WriteAheadLog.open(log_dir, segment_size=SEGMENT_SIZE) as wal:
            assert wal.last_index >= synced
            got = all_entries(wal)
            assert [e.index for e in got] == list(range(1, wal.last_index + 1))
            assert all(e.data == payload(e.index) for e in got)
            terms_seen.append(wal.last_term)
    assert terms_seen == [1, 2]
