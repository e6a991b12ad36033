"""Find code in the repository that reads (or points at) files outside the repository.

Python files are read with `ast`: the scanner follows path expressions built from
``__file__`` (``Path(__file__).resolve().parents[N]``, ``.parent``, ``os.path.dirname``,
``/ "..."`` and ``os.path.join`` with string parts, names assigned such expressions in the
same module) and relative string paths given to ``Path(...)``/``open(...)`` (taken relative
to the repository root, the directory the tests run in), and reports any that climbs above
the repository root. Every file (Python, shell, Java, ...) is also searched for string
patterns that only mean the outside: the workplace directory and a ``shared`` directory
beside the repository. Absolute system paths (the ZooKeeper install, /proc, /tmp) are not
reported: those are the machine's programs and interfaces, not data the repository lacks.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: the directories whose files must not read outside the repository
SCANNED = ("src", "tests", "benchmarks", "examples", ".ci")
#: file kinds scanned (extensionless files are scanned too, e.g. .ci/run)
SUFFIXES = {".py", ".sh", ".java", ".toml", ".cfg", ".ini", ".yaml", ".yml", ".json", ".js",
            ".html", ""}

# Built from pieces so that this file does not report itself.
_WORK = "/" + "work" + "/"
_SIBLING_SHARED = re.compile(r"\.\./+" + "shared" + r"\b|" + r"\.\.[\"'],\s*[\"']" + "shared")
_SHELL_UP = re.compile(r"""\$\(dirname\s+["']?\$(?:0|\{BASH_SOURCE\[0\]\})["']?\)((?:/\.\.)+)""")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def scan(root: Path) -> list[Finding]:
    """Every finding under ``root``'s scanned directories, in file order."""
    out: list[Finding] = []
    for top in SCANNED:
        base = root / top
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if not path.is_file() or path.suffix not in SUFFIXES:
                continue
            if "__pycache__" in path.parts or any(p.startswith(".") and p != ".ci"
                                                  for p in path.relative_to(root).parts):
                continue
            try:
                text = path.read_text()
            except (UnicodeDecodeError, OSError):
                continue
            rel = path.relative_to(root)
            out += _scan_text(rel, text)
            if path.suffix == ".py":
                out += _scan_python(rel, text)
    return out


def _scan_text(rel: Path, text: str) -> Iterator[Finding]:
    depth = len(rel.parts) - 1  # of the file's directory below the root
    for n, line in enumerate(text.splitlines(), 1):
        if _WORK in line:
            yield Finding(str(rel), n, f"an absolute path into {_WORK}")
        if _SIBLING_SHARED.search(line):
            yield Finding(str(rel), n, "a 'shared' directory beside the repository")
        for m in _SHELL_UP.finditer(line):
            if m.group(1).count("..") > depth:
                yield Finding(str(rel), n, "a path above the repository from the script's "
                                           "directory")


# --- Python: a small evaluator of path depth ---------------------------------------------------
# A depth is the number of directories below the repository root (the root is 0); a file
# inside tests/x/ has depth 3 ("tests", "x", the file). Below 0 means outside.

_SAME = {"resolve", "absolute", "expanduser", "abspath", "realpath", "normpath", "Path",
         "PurePath", "PosixPath", "fspath", "str"}


class _Depths(ast.NodeVisitor):
    def __init__(self, rel: Path) -> None:
        self.rel = rel
        self.file_depth = len(rel.parts)
        self.names: dict[str, int] = {}
        self.findings: list[Finding] = []
        self._reported: set[int] = set()

    def report(self, node: ast.AST, depth: int) -> None:
        line = getattr(node, "lineno", 0)
        if line not in self._reported:
            self._reported.add(line)
            self.findings.append(Finding(
                str(self.rel), line,
                f"a path {-depth} level(s) above the repository root"))

    def depth(self, node: ast.AST) -> int | None:
        """The depth ``node`` evaluates to, when it is a path this evaluator can follow."""
        if isinstance(node, ast.Name):
            if node.id == "__file__":
                return self.file_depth
            return self.names.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.depth(node.value)
            if base is not None and node.attr == "parent":
                return self.checked(node, base - 1)
            return None
        if isinstance(node, ast.Subscript):
            if (isinstance(node.value, ast.Attribute) and node.value.attr == "parents"
                    and isinstance(node.slice, ast.Constant)
                    and isinstance(node.slice.value, int)):
                base = self.depth(node.value.value)
                if base is not None:
                    return self.checked(node, base - 1 - node.slice.value)
            return None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            base = self.depth(node.left)
            if base is None:
                return None
            return self.join(node, base, [node.right])
        if isinstance(node, ast.Call):
            return self.call(node)
        return None

    def call(self, node: ast.Call) -> int | None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name is None:
            return None
        if isinstance(func, ast.Attribute) and name in _SAME and not node.args:
            return self.depth(func.value)  # p.resolve(), p.absolute()
        if name in ("Path", "PurePath", "PosixPath", "open") and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                if first.value.startswith("/"):
                    return None
                return self.join(node, 0, node.args[:1])  # relative to the root
            base = self.depth(first)
            return None if base is None else self.join(node, base, node.args[1:]
                                                         if name != "open" else [])
        if name in _SAME and node.args:
            return self.depth(node.args[0])
        if name == "dirname" and node.args:
            base = self.depth(node.args[0])
            return None if base is None else self.checked(node, base - 1)
        if name in ("join", "joinpath") and node.args:
            if isinstance(func, ast.Attribute) and name == "joinpath":
                base = self.depth(func.value)
                parts = list(node.args)
            else:
                base = self.depth(node.args[0])
                parts = list(node.args[1:])
            return None if base is None else self.join(node, base, parts)
        return None

    def join(self, node: ast.AST, base: int, parts: list[ast.expr]) -> int | None:
        depth = base
        for part in parts:
            if not (isinstance(part, ast.Constant) and isinstance(part.value, str)):
                return None
            for comp in part.value.split("/"):
                if comp == "..":
                    depth = self.checked(node, depth - 1)
                elif comp not in ("", "."):
                    depth += 1
        return depth

    def checked(self, node: ast.AST, depth: int) -> int:
        if depth < 0:
            self.report(node, depth)
        return depth

    def visit_Assign(self, node: ast.Assign) -> None:
        depth = self.depth(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name) and depth is not None:
                self.names[target.id] = depth
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None and isinstance(node.target, ast.Name):
            depth = self.depth(node.value)
            if depth is not None:
                self.names[node.target.id] = depth
        self.generic_visit(node)

    def generic_visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.expr):
            self.depth(node)
        super().generic_visit(node)


def _scan_python(rel: Path, text: str) -> list[Finding]:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return [Finding(str(rel), 0, "not valid Python (not scanned)")]
    visitor = _Depths(rel)
    visitor.visit(tree)
    return visitor.findings
