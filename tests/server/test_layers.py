"""Arrows point down: the lower packages import nothing above them (read from the source)."""

from __future__ import annotations

import ast
from collections.abc import Collection
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


#: import edges that close a circle and stay, each with the reason; the circle check drops
#: them from the graph and fails when one is gone (so the list cannot go stale)
KNOWN_RUNTIME: dict[tuple[str, str], str] = {
    ("roost.client.sync", "roost.recipes.kazoo_style"):
        "kazoo's recipe factories on SyncClient (zk.Lock(path), zk.Counter(path), ...) import "
        "the recipes when called; the recipes are built on the client, and taking the "
        "factories off SyncClient would change its kazoo-compatible API",
}
KNOWN_TYPING: dict[tuple[str, str], str] = {
    **KNOWN_RUNTIME,
}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def module_imports(path: Path, module: str, modules: Collection[str]) -> list[tuple[str, bool]]:
    """(imported module, only under ``if TYPE_CHECKING:``) for every import in the file,
    also those inside functions. ``from pkg import name`` imports ``pkg.name`` if that is
    one of `modules`, else ``pkg``."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, typing_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    visit_one(stmt, True)
                for stmt in child.orelse:
                    visit_one(stmt, typing_only)
            else:
                visit_one(child, typing_only)

    def visit_one(node: ast.AST, typing_only: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend((a.name, typing_only) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            found.extend((f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base,
                          typing_only) for a in node.names)
        visit(node, typing_only)

    visit(ast.parse(path.read_text(), str(path)), False)
    return found


def import_graph(packages: tuple[str, ...] | None = None, *,
                 typing: bool) -> dict[str, set[str]]:
    """module -> the modules of `packages` (None: all of roost) it imports (with the
    type-only imports or not)."""
    files: dict[str, Path] = {}
    paths = (sorted(SRC.rglob("*.py")) if packages is None
             else [p for package in packages for p in sorted((SRC / package).rglob("*.py"))])
    for path in paths:
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return {
        module: {name for name, type_only in module_imports(path, module, files)
                 if name in files and name != module and (typing or not type_only)}
        for module, path in files.items()
    }


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return sorted(out)


def without(graph: dict[str, set[str]], known: dict[tuple[str, str], str]) -> dict[str, set[str]]:
    """`graph` less the `known` edges, each of which must be in it."""
    missing = [edge for edge in known if edge[1] not in graph.get(edge[0], set())]
    assert missing == [], f"gone (take them off the known list): {missing}"
    return {m: deps - {b for a, b in known if a == m} for m, deps in graph.items()}


def test_no_import_circle_in_roost() -> None:
    """Arrows point down inside every package too: no two modules of roost import each
    other, directly or round a longer circle, at run time (imports inside functions
    count) or only for the type checker (a circle of type-only imports is still two
    modules that each need the other; the lower one states what it needs as a Protocol).
    The edges of KNOWN_RUNTIME / KNOWN_TYPING are left out, each with its reason."""
    runtime = import_graph(typing=False)
    assert "roost.server.core" in runtime["roost.server"]  # the graph sees the imports
    assert "roost.tree.ops" in runtime["roost.tree.datatree"]  # and every package
    assert "roost.recipes.kazoo_style" in runtime["roost.client.sync"]  # function level too
    assert circles(without(runtime, KNOWN_RUNTIME)) == []
    assert circles(without(import_graph(typing=True), KNOWN_TYPING)) == []


def test_the_circle_check_finds_a_circle(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nfrom . import a\n"
        "if TYPE_CHECKING:\n    from roost.x import b\n"
        "def f():\n    import roost.y\n")
    assert module_imports(module, "roost.x.m", {"roost.x.a"}) == [
        ("typing", False), ("roost.x.a", False), ("roost.x", True), ("roost.y", False)]
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert circles(graph) == [["a", "b", "c"]]
