"""Which build of roost is running: its version, the git commit it came from, when it was built.

Two sources, never a guess:

* an installed wheel carries ``roost/_build.json``, written by the build (setup.py records
  ``git rev-parse HEAD`` of the tree it was built from, and the build time);
* a source checkout run in place (an editable install, ``PYTHONPATH=src``) has no build step,
  so the commit is read from git on first use, with ``-dirty`` appended when tracked files
  differ from it; its build time is unknown.

Anything not known is ``"unknown"``.
"""

from __future__ import annotations

import functools
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import roost

UNKNOWN = "unknown"
#: the file a wheel build writes next to this module
BUILD_FILE = "_build.json"
#: the ZooKeeper release whose protocol and four-letter words roost follows; tools such as
#: kazoo's server_version() read the leading digits of the version string
ZOOKEEPER_COMPAT = "3.8.4"


@dataclass(frozen=True)
class BuildInfo:
    version: str
    commit: str
    built: str

    @property
    def zookeeper_version(self) -> str:
        """The string ZooKeeper prints as ``Zookeeper version:`` (``3.8.4-<commit>, built on
        <date>``), with roost's own version and commit after the compatible release."""
        return f"{ZOOKEEPER_COMPAT}-roost-{self.version}-{self.commit}, built on {self.built}"


def _git(cwd: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def checkout_commit(package_dir: Path) -> str | None:
    """The commit of the source checkout ``package_dir`` (``<root>/src/roost``) belongs to,
    or None when it is not one (an installed copy inside some other repository is not)."""
    root = package_dir.parent.parent
    if not (root / "pyproject.toml").is_file():
        return None
    top = _git(package_dir, "rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != root.resolve():
        return None
    commit = _git(root, "rev-parse", "--verify", "HEAD")
    if not commit:
        return None
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return commit + ("-dirty" if status else "")


def read_build_info(package_dir: Path, version: str) -> BuildInfo:
    """The build of the package in ``package_dir``: its build file, else its git checkout."""
    try:
        recorded = json.loads((package_dir / BUILD_FILE).read_text())
    except (OSError, ValueError):
        recorded = None
    if isinstance(recorded, dict):
        return BuildInfo(version, str(recorded.get("commit") or UNKNOWN),
                         str(recorded.get("built") or UNKNOWN))
    return BuildInfo(version, checkout_commit(package_dir) or UNKNOWN, UNKNOWN)


@functools.cache
def build_info() -> BuildInfo:
    """This process's roost build (computed once)."""
    return read_build_info(Path(roost.__file__).resolve().parent, roost.__version__)


__all__ = ["BUILD_FILE", "UNKNOWN", "ZOOKEEPER_COMPAT", "BuildInfo", "build_info",
           "read_build_info"]
