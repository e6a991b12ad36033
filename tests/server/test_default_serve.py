"""The README's first command: `roost serve` with no arguments and no config file."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from roost.testing.server import four_letter


def test_roost_serve_with_no_arguments(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "roost.cli", "serve"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        answer = ""
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                answer = four_letter("127.0.0.1", 2181, "ruok", 0.5)
                break
            except OSError:
                time.sleep(0.05)
        assert answer == "imok", "no server on 127.0.0.1:2181 (is the port taken?)"
        assert (tmp_path / "roost-data").is_dir()
        status = 0
        while time.monotonic() < deadline and status != 200:
            try:
                with urllib.request.urlopen("http://127.0.0.1:8500/health", timeout=2) as r:
                    status = r.status
            except OSError:
                time.sleep(0.05)
        assert status == 200, "no HTTP API on 127.0.0.1:8500"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
