"""Starting `roost serve` processes from config text for the operations tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def serve(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "roost.cli", "serve", "--no-http", *args],
                                stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
