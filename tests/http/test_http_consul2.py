"""python-consul2 against roost, unmodified. It installs a module named `consul`, as
py-consul does, so it cannot be installed next to py-consul: the session installs it into a
directory of its own (pip --target) and the scenario (consul2_scenario.py) runs in a
subprocess with that directory first on its import path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Served, start_served

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def consul2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("python-consul2")
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                           "--target", str(target), "python-consul2==0.1.5"],
                          capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        pytest.skip(f"python-consul2 could not be installed: {proc.stderr.strip()[-300:]}")
    return target


@pytest.fixture(scope="module")
def fast() -> Iterator[Served]:
    yield from start_served(http_time_scale_pct=10)


def test_python_consul2_end_to_end(consul2: Path, fast: Served) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(consul2), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(HERE / "consul2_scenario.py"),
                           str(fast.http_port)], capture_output=True, text=True, timeout=120,
                          env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["module"].startswith(str(consul2))  # python-consul2, not py-consul
    assert out["node"] == "roost-0"
    assert out["first"] == [True, False, False]
    assert out["loser_answers"] == [False]  # never an error within 2 x TTL
    assert out["txn_ok"] == "1"
    assert "409" in out["txn_fail"] and "exists" in out["txn_fail"]
    assert out["txn_b"] is None  # rolled back
    assert out["check_status"] == ["critical", "passing", "critical"]
    assert out["blocked_s"] < 10
    assert out["passing_after_block"] == ["pay-1"]
    assert out["catalog_after_register"] == ["ext-1"]
    assert out["catalog_after_deregister"] == []
