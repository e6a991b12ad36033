"""Writes roost/wire/record_codecs.py: a reader and a writer for every jute record.

    python3 src/roost/wire/codegen.py            # rewrite the module
    python3 src/roost/wire/codegen.py --check    # exit 1 if it is not what this would write

The layouts are read from roost/wire/records.py's source (the ``_layout`` of every class
decorated with ``@jute_record``; kinds in roost.wire.recordbase's docstring), not
imported, and this file imports nothing of roost, so a stale or missing generated module
never stops its own regeneration. The generated code is straight-line: one precompiled
``struct`` per run of fixed-size fields, bounds checked against the record's end, nested
records called directly. It is ordinary typed source, so mypy checks every layout against
the class's field types and the compiled build (setup.py, ROOST_MYPYC=1) compiles it;
tests/wire/test_codegen.py checks the checked-in file is what this writes.
"""

from __future__ import annotations

import argparse
import ast
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "records.py"
TARGET = HERE / "record_codecs.py"
WIDTH = 100
#: the vector kind whose recent encodings are remembered (nearly every create repeats one
#: of a few ACL lists; roost.wire.jute.RecentVectors)
REMEMBERED = "[ACL]"
TEXT = '"utf-8", "surrogatepass"'
COMMAND = "python3 src/roost/wire/codegen.py"
#: the fixed-size kinds and their struct codes
FIXED = {"i": "i", "l": "q", "z": "?"}


def parse_layout(layout: str) -> list[tuple[str, str]]:
    """``"path:s data:b"`` -> ``[("path", "s"), ("data", "b")]``; raises ValueError."""
    pairs: list[tuple[str, str]] = []
    for item in layout.split():
        name, sep, kind = item.partition(":")
        if not sep or not name.isidentifier() or not kind:
            raise ValueError(f"bad layout item {item!r}")
        pairs.append((name, kind))
    return pairs


@dataclass
class Layout:
    name: str
    layout: str
    pairs: list[tuple[str, str]]


def read_layouts(source: str) -> list[Layout]:
    """Every ``@jute_record`` class of `source`, in order, with its layout."""
    out: list[Layout] = []
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ClassDef):
            continue
        if not any(isinstance(d, ast.Name) and d.id == "jute_record" for d in node.decorator_list):
            continue
        layout = None
        fields: list[str] = []
        for stmt in node.body:
            if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                    and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id == "_layout"):
                layout = ast.literal_eval(stmt.value)
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                fields.append(stmt.target.id)
        if not isinstance(layout, str):
            raise ValueError(f"{node.name}: no _layout string")
        pairs = parse_layout(layout)
        if [n for n, _ in pairs] != fields:
            raise ValueError(f"{node.name}: layout {layout!r} does not match fields {fields}")
        out.append(Layout(node.name, layout, pairs))
    known: set[str] = set()
    for rec in out:  # nested records are generated before their users
        for _, kind in rec.pairs:
            inner = kind[1:-1] if kind.startswith("[") else kind
            if inner not in FIXED and inner not in ("s", "n", "b") and inner not in known:
                raise ValueError(f"{rec.name}: kind {kind!r} is not a record declared above")
        known.add(rec.name)
    return out


def _wrap(indent: str, head: str, items: list[str], tail: str) -> list[str]:
    """``head + ", ".join(items) + tail`` on one line, or the items on lines of their own
    between ``head`` and ``tail`` (head ends with an opening bracket)."""
    one = f"{indent}{head}{', '.join(items)}{tail}"
    if len(one) <= WIDTH:
        return [one]
    lines = [f"{indent}{head}"]
    row = indent + "    "
    for item in items:
        piece = f"{item},"
        if row.strip() and len(row) + 1 + len(piece) > WIDTH:
            lines.append(row)
            row = indent + "    "
        row += (" " if row.strip() else "") + piece
    lines.append(row)
    lines.append(f"{indent}{tail.lstrip()}")
    return lines


@dataclass
class Module:
    """The generated module's pieces: struct objects shared by format, then functions."""

    structs: dict[str, str] = field(default_factory=dict)  # name -> initialiser
    body: list[str] = field(default_factory=list)

    def struct(self, codes: str, what: str) -> str:
        fmt = ">" + codes
        name = f"_{what[0].upper()}_{codes.replace('?', 'z')}"
        self.structs[name] = f'struct.Struct("{fmt}").{what}'
        return name


def _decoder(mod: Module, rec: Layout) -> list[str]:
    lines = [f"def dec_{rec.name}(buf: bytes, pos: int, end: int) -> tuple[{rec.name}, int]:"]
    if len(lines[0]) > WIDTH:
        lines = [f"def dec_{rec.name}(", "    buf: bytes, pos: int, end: int",
                 f") -> tuple[{rec.name}, int]:"]
    declared: set[str] = set()
    run: list[tuple[str, str]] = []
    ind = "    "

    def var(name: str, typ: str) -> str:
        if name in declared:
            return name
        declared.add(name)
        return f"{name}: {typ}"

    def flush() -> None:
        if not run:
            return
        codes = "".join(FIXED[k] for _, k in run)
        size = struct.calcsize(">" + codes)
        unpack = mod.struct(codes, "unpack_from")
        lines.append(f"{ind}if pos + {size} > end:")
        lines.append(f"{ind}    raise truncated({size}, pos)")
        names = [f"v_{n}" for n, _ in run]
        if len(names) == 1:
            lines.append(f"{ind}{names[0]} = {unpack}(buf, pos)[0]")
        else:
            lines.extend(_wrap(ind, "(", names, f") = {unpack}(buf, pos)"))
        lines.append(f"{ind}pos += {size}")
        run.clear()

    def length(name: str) -> None:
        lines.append(f"{ind}if pos + 4 > end:")
        lines.append(f"{ind}    raise truncated(4, pos)")
        lines.append(f"{ind}{var(name, 'int')} = {mod.struct('i', 'unpack_from')}(buf, pos)[0]")
        lines.append(f"{ind}pos += 4")
        lines.append(f"{ind}if {name} > MAX_FIELD or {name} < -1:")
        lines.append(f"{ind}    raise bad_length({name})")

    for name, kind in rec.pairs:
        v = f"v_{name}"
        if kind in FIXED:
            run.append((name, kind))
            continue
        flush()
        if kind in ("s", "n", "b"):
            typ, null = {"s": ("str", '""'), "n": ("str | None", "None"),
                         "b": ("bytes | None", "None")}[kind]
            value = "bytes(buf[pos:e])" if kind == "b" else f"buf[pos:e].decode({TEXT})"
            length("n")
            lines.append(f"{ind}{v}: {typ}")
            lines.append(f"{ind}if n < 0:")
            lines.append(f"{ind}    {v} = {null}")
            lines.append(f"{ind}else:")
            lines.append(f"{ind}    {var('e', 'int')} = pos + n")
            lines.append(f"{ind}    if e > end:")
            lines.append(f"{ind}        raise truncated(n, pos)")
            lines.append(f"{ind}    {v} = {value}")
            lines.append(f"{ind}    pos = e")
        elif kind == "[s]":
            length("count")
            lines.append(f"{ind}{v}: list[str] = []")
            lines.append(f"{ind}for _ in range(max(count, 0)):")
            lines.append(f"{ind}    if pos + 4 > end:")
            lines.append(f"{ind}        raise truncated(4, pos)")
            unpack = mod.struct("i", "unpack_from")
            lines.append(f"{ind}    {var('n', 'int')} = {unpack}(buf, pos)[0]")
            lines.append(f"{ind}    pos += 4")
            lines.append(f"{ind}    if n < 0:")
            lines.append(f'{ind}        {v}.append("")')
            lines.append(f"{ind}        continue")
            lines.append(f"{ind}    {var('e', 'int')} = pos + n")
            lines.append(f"{ind}    if e > end or n > MAX_FIELD:")
            lines.append(f"{ind}        raise truncated(n, pos)")
            lines.append(f"{ind}    {v}.append(buf[pos:e].decode({TEXT}))")
            lines.append(f"{ind}    pos = e")
        elif kind == REMEMBERED:
            cache = f"_V_{rec.name}_{name}"
            mod.body.append(f"{cache}: Final = RecentVectors(dec_{kind[1:-1]})")
            mod.body.append("")
            mod.body.append("")
            lines.append(f"{ind}{v}, pos = {cache}.read(buf, pos, end)")
        elif kind.startswith("["):
            inner = kind[1:-1]
            length("count")
            lines.append(f"{ind}if count > end - pos:")
            lines.append(f"{ind}    raise truncated(count, pos)")
            lines.append(f"{ind}{v}: list[{inner}] = []")
            lines.append(f"{ind}for _ in range(max(count, 0)):")
            lines.append(f"{ind}    i_{name}, pos = dec_{inner}(buf, pos, end)")
            lines.append(f"{ind}    {v}.append(i_{name})")
        else:
            lines.append(f"{ind}{v}, pos = dec_{kind}(buf, pos, end)")
    flush()
    args = [f"v_{n}" for n, _ in rec.pairs]
    lines.extend(_wrap(ind, f"return {rec.name}(", args, "), pos"))
    return lines


def _encoder(mod: Module, rec: Layout) -> list[str]:
    lines = [f"def enc_{rec.name}(self: {rec.name}, out: bytearray) -> None:"]
    run: list[tuple[str, str]] = []
    ind = "    "

    def flush() -> None:
        if not run:
            return
        pack = mod.struct("".join(FIXED[k] for _, k in run), "pack")
        lines.extend(_wrap(ind, f"out += {pack}(", [f"self.{n}" for n, _ in run], ")"))
        run.clear()

    def text(v: str, indent: str) -> None:
        lines.append(f"{indent}b = {v}.encode({TEXT})")
        lines.append(f"{indent}out += {mod.struct('i', 'pack')}(len(b))")
        lines.append(f"{indent}out += b")

    for name, kind in rec.pairs:
        f = f"f_{name}"
        if kind in FIXED:
            run.append((name, kind))
            continue
        flush()
        if kind in ("s", "n", "b"):
            lines.append(f"{ind}{f} = self.{name}")
            lines.append(f"{ind}if {f} is None:")
            lines.append(f"{ind}    out += _NULL")
            lines.append(f"{ind}else:")
            if kind == "b":
                lines.append(f"{ind}    out += {mod.struct('i', 'pack')}(len({f}))")
                lines.append(f"{ind}    out += {f}")
            else:
                text(f, ind + "    ")
        elif kind == "[s]":
            lines.append(f"{ind}{f} = self.{name}")
            lines.append(f"{ind}out += {mod.struct('i', 'pack')}(len({f}))")
            lines.append(f"{ind}for s in {f}:")
            text("s", ind + "    ")
        elif kind.startswith("["):
            lines.append(f"{ind}{f} = self.{name}")
            lines.append(f"{ind}out += {mod.struct('i', 'pack')}(len({f}))")
            lines.append(f"{ind}for i_{name} in {f}:")
            lines.append(f"{ind}    enc_{kind[1:-1]}(i_{name}, out)")
        else:
            lines.append(f"{ind}enc_{kind}(self.{name}, out)")
    flush()
    if len(lines) == 1:
        lines.append(f"{ind}pass")
    return lines


def _reader(rec: Layout) -> list[str]:
    return [
        f"def read_{rec.name}(cls: object, r: Reader) -> {rec.name}:",
        "    try:",
        f"        obj, r._pos = dec_{rec.name}(r._buf, r._pos, r._end)",
        "    except (UnicodeDecodeError, struct.error) as e:",
        f'        raise ProtocolError(f"{rec.name}: {{e}}") from None',
        "    return obj",
    ]


def _import_key(name: str) -> tuple[int, str]:
    """isort's order by type: CONSTANTS, Classes, functions."""
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name.lower()


def render(source: str | None = None) -> str:
    """The generated module's text for the records in `source` (records.py's text)."""
    records = read_layouts(SOURCE.read_text() if source is None else source)
    mod = Module()
    for rec in records:
        for part in (_decoder(mod, rec), _encoder(mod, rec), _reader(rec)):
            mod.body.extend(part)
            mod.body.append("")
            mod.body.append("")
    names = sorted((r.name for r in records), key=_import_key)
    head = [
        '"""Readers and writers of the jute records, generated from the layouts in',
        f"roost/wire/records.py by `{COMMAND}`: do not edit, regenerate",
        "(tests/wire/test_codegen.py fails when this file is not what the generator writes).",
        "",
        "It imports the record classes and installs these on them; the package roost.wire imports",
        "it (its __init__), so the codecs are in place before any record is used. Compiled with",
        "the rest of the request path by the opt-in mypyc build (setup.py, MYPYC_MODULES).",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "import struct",
        "from typing import Final",
        "",
        "from roost.wire.errors import ProtocolError",
        "from roost.wire.jute import MAX_FIELD, Reader, RecentVectors, bad_length, truncated",
        "from roost.wire.recordbase import check_installed, install",
        "from roost.wire.records import (",
        *(f"    {n}," for n in names),
        ")",
        "",
        "_NULL: Final = b\"\\xff\\xff\\xff\\xff\"",
    ]
    head += [f"{name}: Final = {init}" for name, init in sorted(mod.structs.items())]
    tail = []
    for rec in records:
        line = f'install({rec.name}, "{rec.layout}", read_{rec.name}, enc_{rec.name})'
        if len(line) <= WIDTH:
            tail.append(line)
            continue
        tail += ["install(", f"    {rec.name},"]
        words = rec.layout.split(" ")
        row = ""
        for i, word in enumerate(words):
            piece = word + (" " if i < len(words) - 1 else "")
            if row and len(row) + len(piece) + 6 > WIDTH:
                tail.append(f'    "{row}"')
                row = ""
            row += piece
        tail += [f'    "{row}",', f"    read_{rec.name},", f"    enc_{rec.name},", ")"]
    tail += _wrap("", "check_installed({", [f'"{r.name}"' for r in records], "})")
    return "\n".join([*head, "", "", *mod.body, *tail]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND,
                                     description="write roost/wire/record_codecs.py")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if the file differs from what would be written")
    args = parser.parse_args(argv)
    text = render()
    current = TARGET.read_text() if TARGET.exists() else ""
    if args.check:
        if current != text:
            print(f"{TARGET} is out of date: run {COMMAND}", file=sys.stderr)
            return 1
        return 0
    if current != text:
        TARGET.write_text(text)
        print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
