"""The code blocks of the repository's Markdown, and which of them the doc test runs.

The convention (docs/README-free; it is checked by tests/repo/test_doc_blocks.py):

* Fenced blocks tagged ``sh``, ``shell``, ``bash`` or ``console`` are command blocks, and so
  are untagged blocks (fenced or indented) whose first command is a program: ``roost``,
  ``curl``, ``python3``, ... (anything `shutil.which` finds). In a ``console`` block only the
  lines after a ``$ `` prompt are commands. Other untagged blocks are output or text.
* Fenced blocks tagged ``python`` (and untagged blocks that start like Python) run when they
  are complete programs: they compile, and every name they use is defined in the block or
  is a builtin. Others are fragments (``await`` at the top, names from the text around
  them) and are counted, not run.
* ``<!-- not-run: reason -->`` just before a block (blank lines between are fine) excludes
  it; the test lists every exclusion so that they stay rare. Other tags (``toml``, ``json``,
  ...) are data, never run.
"""

from __future__ import annotations

import ast
import builtins
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

SHELL_TAGS = {"sh", "shell", "bash", "console"}
PYTHON_TAGS = {"python", "py", "python3"}
NOT_RUN = re.compile(r"^\s*<!--\s*not-run:\s*(?P<reason>.*?)\s*-->\s*$")
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")
_PYTHON_START = re.compile(r"^(def|class|import|from|async def|with|@|print\(|for |if |try:)")


@dataclass
class Block:
    path: str          # relative to the repository root
    line: int          # 1-based line of the block's first content line
    tag: str           # the fence's info string ("" when untagged or indented)
    text: str
    not_run: str | None = None  # the reason given by a not-run marker
    kind: str = field(default="")  # "sh", "python", "fragment" or "data"

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def blocks(root: Path, rel: str) -> list[Block]:
    """The code blocks of ``root/rel``, classified."""
    lines = (root / rel).read_text().splitlines()
    out: list[Block] = []
    i = 0
    marker: str | None = None
    prev_blank = True
    while i < len(lines):
        line = lines[i]
        m = NOT_RUN.match(line)
        if m:
            marker = m.group("reason") or "(no reason given)"
            i += 1
            prev_blank = True
            continue
        fence = _FENCE.match(line)
        if fence:
            close = fence.group("fence")
            body: list[str] = []
            j = i + 1
            while j < len(lines) and not lines[j].lstrip().startswith(close):
                body.append(lines[j][len(fence.group("indent")):])
                j += 1
            out.append(Block(rel, i + 2, fence.group("info").lower(), "\n".join(body) + "\n",
                             marker))
            marker, i, prev_blank = None, j + 1, False
            continue
        if prev_blank and line.startswith("    ") and line.strip():
            body = []
            j = i
            while j < len(lines) and (lines[j].startswith("    ") or not lines[j].strip()):
                body.append(lines[j][4:])
                j += 1
            while body and not body[-1].strip():
                body.pop()
            out.append(Block(rel, i + 1, "", "\n".join(body) + "\n", marker))
            marker, i, prev_blank = None, j, False
            continue
        if line.strip():
            marker = None if not line.lstrip().startswith("<!--") else marker
        prev_blank = not line.strip()
        i += 1
    for b in out:
        b.kind = classify(b)
    return out


def classify(block: Block) -> str:
    if block.tag in SHELL_TAGS:
        return "sh"
    if block.tag in PYTHON_TAGS:
        return "python" if is_complete_python(block.text) else "fragment"
    if block.tag:
        return "data"
    first = next((ln.strip() for ln in block.text.splitlines()
                  if ln.strip() and not ln.strip().startswith("#")), "")
    if _PYTHON_START.match(first):
        return "python" if is_complete_python(block.text) else "fragment"
    word = first.removeprefix("$ ").split(" ", 1)[0]
    if word and (word == "roost" or shutil.which(word)):
        return "sh"
    return "data"


def is_complete_python(text: str) -> bool:
    """True when ``text`` compiles as a module and defines every name it reads."""
    try:
        tree = ast.parse(text)
        compile(tree, "<block>", "exec")
    except SyntaxError:
        return False
    defined = set(dir(builtins)) | {"__name__", "__file__"}
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (used if isinstance(node.ctx, ast.Load) else defined).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
            args = node.args if not isinstance(node, ast.ClassDef) else None
            if args is not None:
                for a in [*args.posonlyargs, *args.args, *args.kwonlyargs,
                          *filter(None, [args.vararg, args.kwarg])]:
                    defined.add(a.arg)
        elif isinstance(node, ast.Lambda):
            for a in [*node.args.args, *node.args.kwonlyargs]:
                defined.add(a.arg)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                defined.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            defined.add(node.name)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
    return used <= defined


def commands(block: Block) -> list[str]:
    """The block's logical command lines (continuations joined, comments dropped)."""
    out: list[str] = []
    pending = ""
    for raw in block.text.splitlines():
        line = raw.rstrip()
        if block.tag == "console":
            if pending:
                pass
            elif line.startswith("$ "):
                line = line[2:]
            else:
                continue
        if not pending and (not line.strip() or line.strip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        out.append(pending + line)
        pending = ""
    if pending:
        out.append(pending)
    return out


def markdown_files(root: Path) -> list[str]:
    return ["README.md", *sorted(f"docs/{p.name}" for p in (root / "docs").glob("*.md"))]
