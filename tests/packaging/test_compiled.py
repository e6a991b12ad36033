"""The mypyc-compiled build computes exactly what the pure-Python one does.

setup.py's opt-in hook (ROOST_MYPYC=1) compiles a copy of the source in place; the same
corpus (tests/packaging/compiled_corpus.py: jute codec, frames, txn encoding, tree apply,
snapshots, the replica state) then runs against the copy and against this checkout, and
every line of output (bytes as hex, results, events, state) must be the same. Skipped only
where the build cannot run at all (no mypyc, no C compiler, no Python headers).

The builds take a minute or more (mostly the C compiler on one large file), so the ones in
AHEAD start in the background, at the lowest CPU priority, as soon as the session knows it
will run their test (conftest.py, once collection is done): they compile while the tests
before them run, each still a full build of this checkout's source, and the test waits for
it (or builds then, when it was not started ahead).
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import IO

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


class Build:
    """setup.py's compiled build (ROOST_MYPYC=1 unless `env_vars` say otherwise), in place,
    on a copy of the source at `dest`, running in a subprocess until `wait`.
    `low_priority`: at the lowest CPU priority (nice 19), for a build started ahead of its
    test, alongside other tests."""

    def __init__(self, dest: Path, env_vars: dict[str, str], *,
                 low_priority: bool = False) -> None:
        copy_source(dest)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.update({"ROOST_MYPYC": "1", **env_vars})
        self.dest = dest
        # files, not pipes: nobody reads a pipe while the build runs ahead
        # (open until `wait` reads them: no context manager)
        self._out: IO[str] = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self._err: IO[str] = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self.args = [sys.executable, "setup.py", "build_ext", "--inplace"]
        # a process group of its own: the compiler runs in child processes
        self.proc = subprocess.Popen(
            self.args, cwd=dest, env=env, stdin=subprocess.DEVNULL, stdout=self._out,
            stderr=self._err, text=True, start_new_session=True,
            preexec_fn=(lambda: os.setpriority(os.PRIO_PROCESS, 0, 19)) if low_priority
            else None)

    def wait(self, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """The finished build (waits at most `timeout` seconds more)."""
        # the test waits for it now: back to the normal priority where allowed (root)
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PGRP, self.proc.pid, 0)
        try:
            code = self.proc.wait(timeout)
        finally:
            self.stop()
        outputs = []
        for f in (self._out, self._err):
            f.seek(0)
            outputs.append(f.read())
            f.close()
        return subprocess.CompletedProcess(self.args, code, *outputs)

    def stop(self) -> None:
        """Ends the build (and its compiler: the whole process group) if it still runs."""
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def build_copy(dest: Path, **env_vars: str) -> subprocess.CompletedProcess[str]:
    """A Build at `dest`, waited for."""
    return Build(dest, env_vars).wait()


class Ahead:
    """The builds of AHEAD, started before their tests (by conftest.py), in a temp dir of
    their own that `close` removes with anything still running."""

    def __init__(self) -> None:
        self.builds: dict[str, Build] = {}
        self.tmp: Path | None = None

    def start(self, test: str) -> None:
        if test not in AHEAD or test in self.builds or _cannot_build() is not None:
            return
        if self.tmp is None:
            self.tmp = Path(tempfile.mkdtemp(prefix="roost-compiled-"))
        dest = self.tmp / test
        dest.mkdir()
        self.builds[test] = Build(dest, AHEAD[test], low_priority=True)

    def build(self, test: str, dest: Path) -> Build:
        """`test`'s build: the one started ahead, else one started now at `dest`."""
        ahead = self.builds.pop(test, None)
        return ahead if ahead is not None else Build(dest, AHEAD[test])

    def close(self) -> None:
        for build in self.builds.values():
            build.stop()
        self.builds.clear()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


#: the builds started ahead: the environment of each test's build, by test name
AHEAD: dict[str, dict[str, str]] = {
    "test_compiled_and_pure_give_the_same_bytes_and_state": {},
    # mypyc generates C, the "compiler" fails
    "test_auto_with_a_failing_compiler_leaves_the_pure_build": {"ROOST_MYPYC": "auto",
                                                                "CC": "false"},
    "test_asking_for_the_compiled_build_fails_loudly_when_the_compiler_fails": {"CC": "false"},
}
BUILDS = Ahead()


@pytest.fixture(scope="module")
def compiled_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = _cannot_build()
    if reason is not None:
        pytest.skip(reason)
    build = BUILDS.build("test_compiled_and_pure_give_the_same_bytes_and_state",
                         tmp_path_factory.mktemp("compiled"))
    done = build.wait()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "building pure Python" not in done.stderr, done.stderr[-3000:]
    return build.dest / "src"


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
    build = BUILDS.build("test_auto_with_a_failing_compiler_leaves_the_pure_build", tmp_path)
    done = build.wait()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "roost: compiling failed" in done.stderr and "building pure Python" in done.stderr
    assert not list(build.dest.rglob("*.so"))
    assert corpus(build.dest / "src")[0] == "compiled\tnone"


def test_asking_for_the_compiled_build_fails_loudly_when_the_compiler_fails(
        tmp_path: Path) -> None:
    reason = _cannot_build()
    if reason is not None:
        pytest.skip(reason)
    build = BUILDS.build(
        "test_asking_for_the_compiled_build_fails_loudly_when_the_compiler_fails", tmp_path)
    done = build.wait()
    assert done.returncode != 0
    assert "roost: ROOST_MYPYC=1 but compiling failed" in done.stderr, done.stderr[-3000:]
    assert "building pure Python" not in done.stderr
    assert not list(build.dest.rglob("*.so"))


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
