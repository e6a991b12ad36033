"""The mypyc-compiled build computes exactly what the pure-Python one does.

setup.py's opt-in hook (ROOST_MYPYC=1) compiles a copy of the source in place; the same
corpus (tests/packaging/compiled_corpus.py: jute codec, frames, txn encoding, tree apply,
snapshots, the replica state) then runs against the copy and against this checkout, and
every line of output (bytes as hex, results, events, state) must be the same. Skipped only
where the build cannot run at all (no mypyc, no C compiler, no Python headers).
"""

from __future__ import annotations

import ast
import json
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


def copy_source(dest: Path) -> None:
    for name in ("setup.py", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "src", dest / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "_build.json"))


def build_copy(dest: Path, **env_vars: str) -> subprocess.CompletedProcess[str]:
    """setup.py's compiled build (ROOST_MYPYC=1 unless `env_vars` say otherwise), in place,
    on a copy of the source at `dest`."""
    copy_source(dest)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update({"ROOST_MYPYC": "1", **env_vars})
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


def test_auto_with_a_failing_compiler_leaves_the_pure_build(tmp_path: Path) -> None:
    reason = _cannot_build()
    if reason is not None:
        pytest.skip(reason)
    # mypyc generates C, the "compiler" fails
    done = build_copy(tmp_path, ROOST_MYPYC="auto", CC="false")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "roost: compiling failed" in done.stderr and "building pure Python" in done.stderr
    assert not list(tmp_path.rglob("*.so"))
    assert corpus(tmp_path / "src")[0] == "compiled\tnone"


def test_asking_for_the_compiled_build_fails_loudly_when_the_compiler_fails(
        tmp_path: Path) -> None:
    reason = _cannot_build()
    if reason is not None:
        pytest.skip(reason)
    done = build_copy(tmp_path, CC="false")
    assert done.returncode != 0
    assert "roost: ROOST_MYPYC=1 but compiling failed" in done.stderr, done.stderr[-3000:]
    assert "building pure Python" not in done.stderr
    assert not list(tmp_path.rglob("*.so"))


def _without_mypyc(tmp_path: Path) -> str:
    """A PYTHONPATH on which `import mypyc` fails, as in pip's isolated build environment
    (mypy stays installed: setup.py declares it as a build requirement, which setuptools
    would otherwise try to download)."""
    pytest.importorskip("mypy")
    shadow = tmp_path / "shadow" / "mypyc"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text('raise ImportError("no mypyc in this test")\n')
    return str(shadow.parent)


def test_asking_for_the_compiled_build_without_mypyc_says_how_to_get_it(tmp_path: Path) -> None:
    (tmp_path / "tree").mkdir()
    done = build_copy(tmp_path / "tree", PYTHONPATH=_without_mypyc(tmp_path))
    assert done.returncode != 0
    assert "roost: ROOST_MYPYC=1 but mypyc cannot be imported here" in done.stderr, done.stderr
    assert "pip install mypy" in done.stderr and "--no-build-isolation" in done.stderr
    assert not list(tmp_path.rglob("*.so"))


def test_auto_without_mypyc_and_unset_build_pure_python(tmp_path: Path) -> None:
    for mode in ("auto", "", "0"):
        tree = tmp_path / (mode or "unset")
        tree.mkdir()
        done = build_copy(tree, ROOST_MYPYC=mode, PYTHONPATH=_without_mypyc(tree))
        assert done.returncode == 0, done.stderr[-3000:]
        said = "roost: mypyc cannot be imported here (no mypyc in this test); building pure Python"
        assert (said in done.stderr) == (mode == "auto"), done.stderr[-3000:]
        assert not list(tree.rglob("*.so"))


def test_a_mistyped_request_is_an_error(tmp_path: Path) -> None:
    done = build_copy(tmp_path, ROOST_MYPYC="yes")
    assert done.returncode != 0
    assert "ROOST_MYPYC='yes'" in done.stderr and "use 1" in done.stderr, done.stderr[-3000:]


def test_setup_declares_mypy_as_a_build_requirement_only_when_asked(tmp_path: Path) -> None:
    # what pip's isolated build installs before building (PEP 517 get_requires_for_build_wheel)
    code = ("from setuptools import build_meta as b; import json; "
            "print(json.dumps(b.get_requires_for_build_wheel()))")
    copy_source(tmp_path)
    for mode, want in (("1", True), ("auto", False), ("", False)):
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["ROOST_MYPYC"] = mode
        done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        assert any(r.startswith("mypy") for r in json.loads(done.stdout.splitlines()[-1])) == want
