"""The quick-start snippet of docs/recipes.md runs as written (against roost and ZooKeeper)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from .helpers import Backend

DOC = Path(__file__).resolve().parents[2] / "docs" / "recipes.md"


def quick_start() -> str:
    text = DOC.read_text()
    section = text.split("## Quick start", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, "no quick-start snippet"
    return match.group(1)


def test_quick_start_snippet_runs(backend: Backend) -> None:
    code = quick_start().replace('"127.0.0.1:2181"', repr(backend.hosts))
    # a fresh place for the snippet's nodes on the shared server
    prefix = f"import asyncio\nfrom roost.client import Client\n\nasync def _clean() -> None:\n" \
             f"    async with Client({backend.hosts!r}) as zk:\n" \
             f"        if await zk.exists('/demo'):\n" \
             f"            await zk.delete('/demo', recursive=True)\n\nasyncio.run(_clean())\n"
    proc = subprocess.run([sys.executable, "-c", prefix + code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "leader: True config: v1"
