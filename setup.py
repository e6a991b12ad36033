"""Build hook (the project's metadata is in pyproject.toml).

Wheels and sdists record which commit they were built from and when, in roost/_build.json,
which `roost.buildinfo` reads at run time (the `srvr` and `envi` four-letter words show it).
An sdist carries the commit of the tree it was made from, so a wheel built from it keeps it.
Editable installs write nothing: roost.buildinfo asks git of the checkout instead.

Compiled build (opt-in): the modules in MYPYC_MODULES are also compiled to C extensions
with mypyc (which ships with mypy); the .py files are installed next to them.
- ROOST_MYPYC=1 asks for the compiled build and gets it or an error: mypy is declared as a
  build requirement (so pip's isolated build environment installs it), and a build that
  cannot import mypyc, whose mypyc run fails or whose C compiler fails stops with a
  message saying why and what to do.
- ROOST_MYPYC=auto compiles where it can: without mypyc or when mypyc or the compiler
  fails, the build is pure Python (a line on the build's output says why).
- Unset (or 0) the build is pure Python. An editable install is always pure (for 1, an
  error says so).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent
BUILD_FILE = Path("src", "roost", "_build.json")


def git_commit() -> str | None:
    """HEAD of this tree when it is a git checkout of its own (not a directory inside one)."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  timeout=30, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    top = git("rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != ROOT:
        return None
    commit = git("rev-parse", "--verify", "HEAD")
    if not commit:
        return None
    return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def build_record() -> dict[str, str]:
    commit = git_commit()
    if commit is None:  # building from an sdist: it recorded its tree's commit
        try:
            commit = json.loads((ROOT / BUILD_FILE).read_text())["commit"]
        except (OSError, ValueError, KeyError, TypeError):
            commit = None
    built = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return {"commit": commit or "unknown", "built": built}


class BuildPy(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib, "roost", "_build.json")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(build_record()) + "\n")


class Sdist(sdist):
    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        target = Path(base_dir, BUILD_FILE)
        target.unlink(missing_ok=True)  # a hard link into the source tree, if it was listed
        record = build_record()
        target.write_text(json.dumps({"commit": record["commit"]}) + "\n")


#: what ROOST_MYPYC=1 compiles (docs/benchmarks.md, "The compiled build"): the jute codec,
#: the records' generated readers and writers, frames, the connection protocol and request
#: handlers, the watch history, the tree and its apply, the txn encoding, the replica state
#: and core, raft.
#: Not roost.raft.storage (the simulator's disk subclasses it: interpreted classes cannot
#: inherit from compiled ones) and not the record classes themselves (hand-written
#: records and tests subclass Record).
MYPYC_MODULES = [
    "roost/wire/jute.py",
    "roost/wire/record_codecs.py",
    "roost/wire/protocol.py",
    "roost/wire/session.py",
    "roost/server/requests.py",
    "roost/server/reads.py",
    "roost/server/history.py",
    "roost/tree/paths.py",
    "roost/tree/node.py",
    "roost/tree/context.py",
    "roost/tree/acl.py",
    "roost/tree/state.py",
    "roost/tree/ops.py",
    "roost/tree/datatree.py",
    "roost/tree/snapshot.py",
    "roost/tree/txn.py",
    "roost/replica/order.py",
    "roost/replica/state.py",
    "roost/replica/sessions.py",
    "roost/replica/membership.py",
    "roost/replica/core.py",
    "roost/raft/config.py",
    "roost/raft/errors.py",
    "roost/raft/messages.py",
    "roost/raft/log.py",
    "roost/raft/progress.py",
    "roost/raft/quorum.py",
    "roost/raft/readonly.py",
    "roost/raft/snapshot.py",
    "roost/raft/core.py",
    "roost/raft/node.py",
]


#: what pip should install into an isolated build environment for ROOST_MYPYC=1
MYPYC_BUILD_REQUIRES = ["mypy>=1.10"]
#: how to get the compiled build by hand
HOW = ("pip install mypy 'setuptools>=68' wheel && "
       "ROOST_MYPYC=1 pip install --no-build-isolation .")


def _mode() -> str:
    """"1" (compiled or an error), "auto" (compiled where possible) or "" (pure)."""
    value = os.environ.get("ROOST_MYPYC", "").strip().lower()
    if value in ("", "0"):
        return ""
    if value in ("1", "auto"):
        return value
    raise SystemExit(f"roost: ROOST_MYPYC={value!r}: use 1 (compiled or an error), auto "
                     "(compiled where possible) or leave it unset (pure Python)")


def _cannot(message: str) -> None:
    """A compiled build that cannot be made: an error for ROOST_MYPYC=1, a warning for auto."""
    if _mode() == "1":
        raise SystemExit(f"roost: ROOST_MYPYC=1 but {message}. Install mypy and build without "
                         f"isolation ({HOW}), or unset ROOST_MYPYC for the pure-Python build, "
                         "or set ROOST_MYPYC=auto to fall back to it")
    print(f"roost: {message}; building pure Python", file=sys.stderr)


def mypyc_extensions() -> list[Any]:
    """The compiled modules' extensions when asked for and possible, else none."""
    if not _mode():
        return []
    if not {"bdist_wheel", "build", "build_ext", "install"} & set(sys.argv):
        return []  # metadata and sdist steps compile nothing
    if any(cmd in sys.argv for cmd in ("editable_wheel", "develop")):
        _cannot("an editable install cannot use compiled modules (they would shadow the .py "
                "files being edited)")
        return []
    try:
        from mypyc.build import mypycify
    except ImportError as e:
        _cannot(f"mypyc cannot be imported here ({e})")
        return []
    cwd = os.getcwd()
    try:
        os.chdir(ROOT)  # mypy reads its options from pyproject.toml here
        # (the overrides for modules not compiled here are not unused configuration)
        args = ["--no-warn-unused-configs", *(str(Path("src", m)) for m in MYPYC_MODULES)]
        exts: list[Any] = mypycify(args,
                                   group_name="roost", target_dir=str(Path("build", "mypyc")))
    except (Exception, SystemExit) as e:  # mypyc exits on a type error
        _cannot(f"mypyc failed ({e!r})")
        return []
    finally:
        os.chdir(cwd)
    return exts


class BuildExt(build_ext):
    """All compiled modules or none: for ROOST_MYPYC=auto a C compiler missing or failing
    leaves the pure build; for ROOST_MYPYC=1 it is an error."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as e:  # CompileError, LinkError, a missing compiler (OSError)
            for built in self.get_outputs():
                Path(built).unlink(missing_ok=True)
            self.extensions = []
            _cannot(f"compiling failed ({e!r})")


setup(
    cmdclass={"build_py": BuildPy, "sdist": Sdist, "build_ext": BuildExt},
    ext_modules=mypyc_extensions(),
    # pip asks setuptools for the build requirements (get_requires_for_build_wheel), which
    # include these: an isolated build then has mypyc
    setup_requires=MYPYC_BUILD_REQUIRES if _mode() == "1" else [],
)
