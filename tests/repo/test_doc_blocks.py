"""Every command block (and every complete Python program) in README.md and docs/*.md runs
against a fresh server. The conventions are in docblocks.py, the mechanism in docrun.py:
each Markdown file runs in a network namespace of its own, so the blocks use the documented
default ports (127.0.0.1:2181, :8500) unchanged, and a fresh ``roost serve`` is running
there before the first block.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .docblocks import Block, blocks, markdown_files

ROOT = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).resolve().parent / "docrun.py"
FILES = markdown_files(ROOT)
#: not-run markers allowed over all the Markdown files: raise only with a reason in review
MAX_NOT_RUN = 16
UNSHARE = ["unshare", "--user", "--map-root-user", "--net"]


def namespaces_work() -> str | None:
    """None when a user+network namespace can be made here, else why not."""
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    probe = subprocess.run([*UNSHARE, "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"cannot create a network namespace: {probe.stderr.strip()}"
    return None


def all_blocks() -> list[Block]:
    return [b for rel in FILES for b in blocks(ROOT, rel)]


def runnable_blocks(rel: str) -> list[Block]:
    return [b for b in blocks(ROOT, rel) if b.kind in ("sh", "python") and not b.not_run]


#: the files with something to run (a file without, e.g. prose and diagrams only, is not a
#: test that skips: a skip in every run would hide one that matters)
RUNNABLE_FILES = [rel for rel in FILES if runnable_blocks(rel)]


def test_most_files_have_runnable_blocks() -> None:
    assert "README.md" in RUNNABLE_FILES
    assert len(RUNNABLE_FILES) >= len(FILES) // 2, sorted(set(FILES) - set(RUNNABLE_FILES))


@pytest.mark.parametrize("rel", RUNNABLE_FILES)
def test_blocks_run(rel: str, tmp_path: Path) -> None:
    runnable = runnable_blocks(rel)
    why = namespaces_work()
    if why is not None:
        pytest.skip(why)
    results_path = tmp_path / "results.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"),
                                                      env.get("PYTHONPATH")]))
    proc = subprocess.run([*UNSHARE, sys.executable, str(RUNNER), str(ROOT), rel,
                           str(results_path)], capture_output=True, text=True, env=env,
                          timeout=60 + 120 * len(runnable), check=False)
    assert proc.returncode == 0 and results_path.exists(), (
        f"the block runner failed on {rel}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    results = json.loads(results_path.read_text())
    failed = [r for r in results if not r["ok"]]
    summary = ", ".join(f"{r['where']} {r.get('seconds', '?')}s" for r in results)
    print(f"{rel}: ran {len(results)} block(s): {summary}")
    assert not failed, f"{len(failed)} of {len(results)} block(s) in {rel} failed:\n\n" + \
        "\n\n".join(f"{r['where']}: {r['error']}\n--- the block:\n{r.get('text', '')}"
                    for r in failed)


def test_exclusions_stay_rare() -> None:
    excluded = [b for b in all_blocks() if b.not_run]
    listing = "\n".join(f"{b.where}: {b.not_run}" for b in excluded)
    print(f"{len(excluded)} block(s) marked not-run:\n{listing}")
    assert len(excluded) <= MAX_NOT_RUN, (
        f"{len(excluded)} blocks are marked not-run (at most {MAX_NOT_RUN}):\n{listing}")
    for b in excluded:
        assert b.not_run and b.not_run != "(no reason given)", f"{b.where}: give a reason"


def test_block_convention(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "x.md").write_text(
        "Text\n\n    roost get /a\n\n```sh\ncurl -s http://127.0.0.1:8500/ \\\n  -d x\n```\n\n"
        "<!-- not-run: takes an hour -->\n\n```sh\nroost verify --seconds 3600\n```\n\n"
        "```python\nawait zk.get('/a')\n```\n\n```python\nimport sys\nprint(sys.argv)\n```\n\n"
        "```toml\n[server]\n```\n\n```\nZookeeper version: 3.8.4\n```\n\n"
        "```console\n$ roost get /a\nvalue\n```\n")
    got = [(b.line, b.kind, b.not_run) for b in blocks(tmp_path, "docs/x.md")]
    # the line of each block's first content line
    assert got == [(3, "sh", None), (6, "sh", None), (13, "sh", "takes an hour"),
                   (17, "fragment", None), (21, "python", None), (26, "data", None),
                   (30, "data", None), (34, "sh", None)]
    from .docblocks import commands
    b = blocks(tmp_path, "docs/x.md")
    assert commands(b[1]) == ["curl -s http://127.0.0.1:8500/    -d x"]
    assert commands(b[-1]) == ["roost get /a"]


def test_a_failing_block_is_reported_with_its_line(tmp_path: Path) -> None:
    why = namespaces_work()
    if why is not None:
        pytest.skip(why)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "bad.md").write_text(
        "# t\n\n```sh\nroost create /ok x\n```\n\n```sh\nroost get /nothing-here\n```\n\n"
        "```python\nimport sys\nsys.exit(3)\n```\n")
    results_path = tmp_path / "out.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"),
                                                      env.get("PYTHONPATH")]))
    subprocess.run([*UNSHARE, sys.executable, str(RUNNER), str(tmp_path), "docs/bad.md",
                    str(results_path)], check=True, env=env, timeout=300)
    results = json.loads(results_path.read_text())
    assert [(r["where"], r["ok"]) for r in results] == [
        ("docs/bad.md:4", True), ("docs/bad.md:8", False), ("docs/bad.md:12", False)]
    assert "exit status 3" in results[2]["error"]
