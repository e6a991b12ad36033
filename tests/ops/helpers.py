"""Starting `roost serve` processes from config text for the operations tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from roost.testing.server import four_letter


def serve(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "roost.cli", "serve", "--no-http", *args],
                                stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wait_for(cond: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


def mode(host: str, port: int) -> str:
    try:
        out = four_letter(host, port, "srvr", 0.5)
    except OSError:
        return "down"
    for line in out.splitlines():
        if line.startswith("Mode: "):
            return line.removeprefix("Mode: ")
    return "?"
