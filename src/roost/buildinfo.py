"""What this build is: roost's version, the Python running it, the source commit if known."""

from __future__ import annotations

import functools
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import roost


def version() -> str:
    return roost.__version__


def python() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}"


@functools.cache
def commit() -> str:
    """The git commit this code was built from: recorded by pip for an install from a
    repository URL, else read from the checkout the package runs from (an editable
    install); "" when neither says."""
    try:
        raw = metadata.distribution("roost").read_text("direct_url.json")
        info = json.loads(raw) if raw else {}
        sha = info.get("vcs_info", {}).get("commit_id", "")
        if isinstance(sha, str) and sha:
            return sha
    except (metadata.PackageNotFoundError, ValueError, AttributeError):
        pass
    here = Path(roost.__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "--show-toplevel", "HEAD"],
            capture_output=True, text=True, timeout=2, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    lines = out.stdout.split()
    if out.returncode != 0 or len(lines) != 2:
        return ""
    top, sha = lines
    # only our own checkout: a roost wheel unpacked inside some other repository says nothing
    if not (Path(top) / "src" / "roost" / "__init__.py").exists():
        return ""
    return sha
