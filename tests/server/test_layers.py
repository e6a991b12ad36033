"""Arrows point down: the lower packages import nothing above them (read from the source)."""

from __future__ import annotations

import ast
from pathlib import Path

import roost

SRC = Path(roost.__file__).resolve().parent
#: package -> packages above it that it must not import
FORBIDDEN = {
    "wire": ("roost.tree", "roost.raft", "roost.storage", "roost.server", "roost.http",
             "roost.node", "roost.client"),
    "tree": ("roost.server", "roost.http", "roost.node", "roost.client"),
    "raft": ("roost.server", "roost.http", "roost.node", "roost.client"),
    "storage": ("roost.server", "roost.http", "roost.node", "roost.client"),
    "server": ("roost.http", "roost.node", "roost.cli", "roost.client"),
}


def imported(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def offenders(package: str) -> list[str]:
    bad = FORBIDDEN[package]
    found = []
    for path in sorted((SRC / package).rglob("*.py")):
        for name in imported(path):
            if any(name == b or name.startswith(b + ".") for b in bad):
                found.append(f"{path.relative_to(SRC)} imports {name}")
    return found


def test_lower_layers_import_nothing_above_them() -> None:
    assert (SRC / "server" / "core.py").exists()
    problems = [p for package in FORBIDDEN for p in offenders(package)]
    assert problems == []


def test_the_check_sees_an_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from roost.http.app import HttpApi\nimport roost.node\n")
    assert imported(module) == {"roost.http.app", "roost.node"}
