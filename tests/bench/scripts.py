"""Locating and importing the benchmark scripts; which servers the smoke tests use."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks"


def load_script(name: str) -> ModuleType:
    """Import benchmarks/<name>.py (a script directory, not a package)."""
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def roost_importable() -> bool:
    """Whether roost's test server harness can be imported in this tree."""
    try:
        importlib.import_module("roost.testing.server")
    except ImportError:
        return False
    return True


#: The servers the smoke tests run against: ZooKeeper always, roost once its harness imports.
SERVERS = ["zookeeper", *(["roost"] if roost_importable() else [])]
