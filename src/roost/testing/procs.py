"""Stopping the processes a test started (servers run with `roost serve`, tools)."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Sequence
from typing import Any


def stop_processes(procs: Sequence[subprocess.Popen[Any]], grace: float = 30.0) -> list[int]:
    """SIGTERM every process still running, wait for each (SIGKILL after ``grace``
    seconds), and return their exit codes in order (-N: ended by signal N)."""
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return [p.returncode for p in procs]


__all__ = ["stop_processes"]
