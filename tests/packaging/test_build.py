"""Packaging: one version, a LICENSE, and a build identifier that is real or "unknown".

The build hook (setup.py) is run the way pip's build runs it (build_py into a build
directory, sdist), on a copy of the repository committed to a throwaway git repository, so
the commit it must record is known.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest

import roost
from roost.buildinfo import ZOOKEEPER_COMPAT, BuildInfo, build_info, read_build_info
from roost.testing.server import RoostServer, four_letter

ROOT = Path(__file__).resolve().parents[2]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def test_version_is_written_once() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["dynamic"]["version"] == {"attr": "roost.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", roost.__version__)


def test_license_is_apache_2() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    classifiers = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["classifiers"]
    assert "License :: OSI Approved :: Apache Software License" in classifiers


def test_build_file_wins_over_git(tmp_path: Path) -> None:
    (tmp_path / "_build.json").write_text('{"commit": "abc123", "built": "2026-01-02 03:04 UTC"}')
    info = read_build_info(tmp_path, "9.9.9")
    assert info == BuildInfo("9.9.9", "abc123", "2026-01-02 03:04 UTC")
    assert info.zookeeper_version == (
        f"{ZOOKEEPER_COMPAT}-roost-9.9.9-abc123, built on 2026-01-02 03:04 UTC")


def test_nothing_known_says_unknown(tmp_path: Path) -> None:
    # a package directory that is neither a build nor inside a checkout of roost
    pkg = tmp_path / "site-packages" / "roost"
    pkg.mkdir(parents=True)
    assert read_build_info(pkg, "1.2.3") == BuildInfo("1.2.3", "unknown", "unknown")
    (pkg / "_build.json").write_text("not json")
    assert read_build_info(pkg, "1.2.3").commit == "unknown"


def test_a_checkout_inside_another_repository_is_not_claimed(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    pkg = tmp_path / "venv" / "lib" / "roost"
    pkg.mkdir(parents=True)
    (tmp_path / "venv" / "pyproject.toml").write_text("")
    assert read_build_info(pkg, "1.2.3").commit == "unknown"


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not run from a git checkout")
def test_source_checkout_reports_its_commit() -> None:
    # build_info() is read once per process, and HEAD may move while the suite runs (a
    # commit made meanwhile): a fresh process reads it between two readings of HEAD.
    before = git(ROOT, "rev-parse", "HEAD")
    out = subprocess.run(
        [sys.executable, "-c", "from roost.buildinfo import build_info; "
                               "info = build_info(); print(info.commit, info.built)"],
        check=True, capture_output=True, text=True).stdout
    after = git(ROOT, "rev-parse", "HEAD")
    commit, built = out.split(maxsplit=1)
    assert commit in {before, before + "-dirty", after, after + "-dirty"}
    assert built.strip() == "unknown"


def test_srvr_and_envi_show_the_build() -> None:
    expected = build_info().zookeeper_version
    with RoostServer() as srv:
        srvr = four_letter(srv.host, srv.port, "srvr")
        envi = four_letter(srv.host, srv.port, "envi")
        mntr = four_letter(srv.host, srv.port, "mntr")
    assert srvr.splitlines()[0] == f"Zookeeper version: {expected}"
    assert f"zookeeper.version={expected}\n" in envi
    assert f"zk_version\t{expected}\n" in mntr


@pytest.fixture(scope="module")
def committed_copy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The repository's files (as in the working tree) committed to a fresh git repository."""
    dest = tmp_path_factory.mktemp("repo")
    if (ROOT / ".git").exists():
        listed = git(ROOT, "ls-files", "-co", "--exclude-standard").splitlines()
    else:
        listed = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file()]
    for name in listed:
        src = ROOT / name
        if src.is_file() and "__pycache__" not in name and not name.endswith("_build.json"):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "t")
    return dest, git(dest, "rev-parse", "HEAD")


def setup_py(cwd: Path, *args: str) -> None:
    subprocess.run([sys.executable, "setup.py", "-q", *args], cwd=cwd, check=True,
                   capture_output=True)


def test_build_records_commit_and_time(committed_copy: tuple[Path, str], tmp_path: Path
                                       ) -> None:
    repo, head = committed_copy
    setup_py(repo, "build_py", "--build-lib", str(tmp_path / "lib"))
    record = json.loads((tmp_path / "lib" / "roost" / "_build.json").read_text())
    assert record["commit"] == head
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", record["built"])
    built = read_build_info(tmp_path / "lib" / "roost", "0")
    assert built.commit == head and built.built == record["built"]


def test_sdist_carries_the_commit_to_its_wheel(committed_copy: tuple[Path, str],
                                               tmp_path: Path) -> None:
    repo, head = committed_copy
    setup_py(repo, "sdist", "-d", str(tmp_path / "dist"))
    (archive,) = (tmp_path / "dist").glob("roost-*.tar.gz")
    assert archive.name == f"roost-{roost.__version__}.tar.gz"
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    (tree,) = (tmp_path / "x").iterdir()
    assert (tree / "LICENSE").is_file()
    # no .git in an unpacked sdist: the commit comes from the file the sdist carries
    setup_py(tree, "build_py", "--build-lib", str(tmp_path / "lib"))
    record = json.loads((tmp_path / "lib" / "roost" / "_build.json").read_text())
    assert record["commit"] == head
