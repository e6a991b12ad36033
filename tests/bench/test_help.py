"""Every benchmark script answers --help (its usage, exit 0): a help text with a stray
"%" in it once made `compare_all.py --help` die in argparse's formatting."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .scripts import BENCH_DIR

SCRIPTS = sorted(p.name for p in BENCH_DIR.glob("*.py")
                 if "argparse" in (t := p.read_text()) or "click" in t)


def test_the_scripts_with_options_are_found() -> None:
    assert "compare_all.py" in SCRIPTS and len(SCRIPTS) >= 10


@pytest.mark.parametrize("script", SCRIPTS)
def test_help(script: str) -> None:
    out = subprocess.run([sys.executable, str(BENCH_DIR / script), "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "usage" in out.stdout.lower(), out.stdout
    assert "Traceback" not in out.stderr
