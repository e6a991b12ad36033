"""Build hook (the project's metadata is in pyproject.toml).

Wheels and sdists record which commit they were built from and when, in roost/_build.json,
which `roost.buildinfo` reads at run time (the `srvr` and `envi` four-letter words show it).
An sdist carries the commit of the tree it was made from, so a wheel built from it keeps it.
Editable installs write nothing: roost.buildinfo asks git of the checkout instead.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from setuptools import setup
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


setup(cmdclass={"build_py": BuildPy, "sdist": Sdist})
