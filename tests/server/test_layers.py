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
    "replica": ("roost.server", "roost.http", "roost.node", "roost.client", "roost.cli",
                "roost.testing"),
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


#: modules with no I/O: time, randomness, network and disk come from their host (wire
#: includes wire/session.py, the per-connection protocol that server/connection.py hosts)
NO_IO = ("wire", "tree", "raft", "replica")
#: (`random` is allowed for its type: raft is handed its `random.Random`; `threading` for
#: the txn encoder's per-thread packer)
IO_MODULES = ("asyncio", "socket", "time", "selectors", "subprocess", "os")


def test_the_sans_io_layers_import_no_clock_socket_or_event_loop() -> None:
    assert (SRC / "wire" / "session.py").exists()  # the connection protocol is checked too
    found = []
    for part in NO_IO:
        target = SRC / part
        for path in sorted(target.rglob("*.py") if target.is_dir() else [target]):
            for name in imported(path):
                if name.split(".")[0] in IO_MODULES:
                    found.append(f"{path.relative_to(SRC)} imports {name}")
    assert found == []


#: the storage layer does disk I/O (its job) but no network, event loop or subprocess;
#: its record format (framing, checksums) does no I/O at all
STORAGE_FORBIDDEN = ("asyncio", "socket", "selectors", "subprocess")
STORAGE_FORMAT = ("records.py",)


def test_storage_uses_no_network_or_event_loop_and_its_format_no_io() -> None:
    found = []
    for path in sorted((SRC / "storage").rglob("*.py")):
        banned = IO_MODULES if path.name in STORAGE_FORMAT else STORAGE_FORBIDDEN
        for name in imported(path):
            if name.split(".")[0] in banned:
                found.append(f"{path.relative_to(SRC)} imports {name}")
    assert (SRC / "storage" / "records.py").exists()
    assert found == []
