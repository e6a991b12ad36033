"""No file in the repository reads anything outside it (see outside.py for what is looked
for), and the scanner finds each way of doing so when it is planted in a scratch tree."""

from __future__ import annotations

from pathlib import Path

from .outside import scan

ROOT = Path(__file__).resolve().parents[2]

# Planted contents are built from pieces, so that this file itself stays clean.
SHARED = "sha" + "red"
WORK = "/" + "work" + "/"

PLANTED = {
    # the pattern the linearizability tests once used: the repository root, then its parent
    "tests/lin/helpers.py": (
        "from pathlib import Path\n"
        "def data():\n"
        "    repo = Path(__file__).resolve().parents[2]\n"
        f"    return repo.parent / '{SHARED}' / 'data'\n",
        {4},
    ),
    "tests/lin/deep.py": (
        "from pathlib import Path\n"
        "INSIDE = Path(__file__).parents[2] / 'docs'\n"
        "OUTSIDE = Path(__file__).parents[3]\n",
        {3},
    ),
    "src/pkg/mod.py": (
        "import os\n"
        "HERE = os.path.dirname(os.path.abspath(__file__))\n"
        "UP = os.path.join(HERE, '..', '..', '..', 'x')\n"
        "OK = os.path.join(HERE, '..', '..', 'x')\n",
        {3},
    ),
    "benchmarks/bench.py": (
        "ok = open('benchmarks/results.csv')\n"
        "bad = open('../results.csv')\n",
        {2},
    ),
    "examples/ex.py": (
        f"CONFIG = '{WORK}{SHARED}/config.toml'\n",
        {1},
    ),
    "tests/other/strings.py": (
        "from pathlib import Path\n"
        f"DATA = Path(__file__).parent / '..' / '..' / '..' / '{SHARED}'\n"
        "BAD_KEYS = ['../x', '/a/../b']   # strings that are not file paths\n"
        "URL = '/ui/static/../../etc/passwd'\n",
        {2},
    ),
    ".ci/run": (
        '#!/bin/sh\ncd "$(dirname "$0")/.."\npython3 -m pytest\n'
        'cat "$(dirname "$0")/../../secrets"\n',
        {4},
    ),
}


def test_nothing_in_the_repository_reads_outside_it() -> None:
    findings = scan(ROOT)
    assert not findings, "files that read outside the repository:\n" + "\n".join(
        map(str, findings))


def test_the_scanner_finds_planted_reads(tmp_path: Path) -> None:
    for rel, (text, _lines) in PLANTED.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    found = {(f.path, f.line) for f in scan(tmp_path)}
    expected = {(rel, line) for rel, (_text, lines) in PLANTED.items() for line in lines}
    assert found == expected


def test_the_scanner_reads_every_scanned_directory(tmp_path: Path) -> None:
    # one planted absolute path per directory: each must be found
    dirs = ["src", "tests", "benchmarks", "examples", ".ci"]
    for d in dirs:
        (tmp_path / d).mkdir()
        (tmp_path / d / "f.py").write_text(f"X = '{WORK}x'\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "f.py").write_text(f"X = '{WORK}x'\n")  # docs are not code
    assert sorted(f.path for f in scan(tmp_path)) == sorted(f"{d}/f.py" for d in dirs)
