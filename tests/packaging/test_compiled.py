"""The mypyc-compiled build computes exactly what the pure-Python one does.

setup.py's opt-in hook (ROOST_MYPYC=1) compiles a copy of the source in place; the same
corpus (tests/packaging/compiled_corpus.py: jute codec, frames, txn encoding, tree apply,
snapshots, the replica state) then runs against the copy and against this checkout, and
every line of output (bytes as hex, results, events, state) must be the same. Skipped only
where the build cannot run at all (no mypyc, no C compiler, no Python headers).
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from . import compiled_corpus

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).with_name("compiled_corpus.py")


def listed_modules() -> list[str]:
    """setup.py's MYPYC_MODULES, as module names (read, not imported: it calls setup())."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "MYPYC_MODULES":
            paths = ast.literal_eval(node.value)
            return [p.removesuffix(".py").replace("/", ".") for p in paths]
    raise AssertionError("setup.py has no MYPYC_MODULES")


def _cannot_build() -> str | None:
    try:
        import mypyc.build  # noqa: F401
    except ImportError:
        return "mypyc is not installed"
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        return f"no C compiler ({cc})"
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").is_file():
        return "no Python headers"
    return None


def build_copy(dest: Path, **env_vars: str) -> subprocess.CompletedProcess[str]:
    """setup.py's compiled build, in place, on a copy of the source at `dest`."""
    for name in ("setup.py", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "src", dest / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "_build.json"))
    env = {**os.environ, "ROOST_MYPYC": "1", **env_vars}
    env.pop("PYTHONPATH", None)
    return subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=dest,
                          env=env, capture_output=True, text=True, timeout=900, check=False)


@pytest.fixture(scope="module")
def compiled_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = _cannot_build()
    if reason is not None:
        pytest.skip(reason)
    copy = tmp_path_factory.mktemp("compiled")
    done = build_copy(copy)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "building pure Python" not in done.stderr, done.stderr[-3000:]
    return copy / "src"


def corpus(src: Path) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run([sys.executable, str(CORPUS)], env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.splitlines()


def test_the_corpus_lists_what_setup_compiles() -> None:
    assert listed_modules() == compiled_corpus.MODULES


def test_compiled_and_pure_give_the_same_bytes_and_state(compiled_src: Path) -> None:
    pure = corpus(ROOT / "src")
    compiled = corpus(compiled_src)
    assert pure[0] == "compiled\tnone"
    # every listed module came from its C extension, not from the .py beside it
    assert compiled[0] == "compiled\t" + ",".join(listed_modules())
    assert len(pure) > 3000  # the corpus ran through
    assert len(compiled) == len(pure)
    diffs = [(i, p, c) for i, (p, c) in enumerate(zip(pure, compiled, strict=True))
             if i > 0 and p != c]
    assert not diffs, diffs[:5]


def test_a_failing_compiler_leaves_the_pure_build(tmp_path: Path) -> None:
    reason = _cannot_build()
    if reason is not None:
        pytest.skip(reason)
    done = build_copy(tmp_path, CC="false")  # mypyc generates C, the "compiler" fails
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "roost: compiling failed" in done.stderr and "building pure Python" in done.stderr
    assert not list(tmp_path.rglob("*.so"))
    assert corpus(tmp_path / "src")[0] == "compiled\tnone"
