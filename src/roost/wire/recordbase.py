"""The jute record machinery: the `Record` base class and `jute_record`, which compiles a
reader and a writer for a record class from its one-line layout (see roost.wire.records).

Kinds: ``i`` int, ``l`` long, ``z`` boolean, ``b`` buffer (None = null),
``s`` ustring (null reads as ""), ``n`` nullable ustring, ``[s]`` vector of
strings, ``R`` a nested record class named R, ``[R]`` a vector of them.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import fields
from typing import Any, ClassVar, Self, TypeVar

from roost.wire.errors import ProtocolError
from roost.wire.jute import INT, MAX_FIELD, Reader, Writer

_REGISTRY: dict[str, type[Record]] = {}


class Record:
    """Base of every jute record."""

    __slots__ = ()
    _layout: ClassVar[str] = ""

    def _enc(self, out: bytearray) -> None:
        """Append the encoding to `out` (compiled by jute_record; hand-written records
        implement `write` instead)."""
        self.write(Writer(out))

    def write(self, w: Writer) -> None:
        self._enc(w.buf)

    @classmethod
    def read(cls, r: Reader) -> Self:
        raise NotImplementedError  # compiled by jute_record, or written by hand

    def to_bytes(self) -> bytes:
        out = bytearray()
        self._enc(out)
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return cls.read(Reader(data))


_R = TypeVar("_R", bound=type[Record])

#: struct codes of the fixed-size kinds
_FIXED = {"i": "i", "l": "q", "z": "?"}
_NULL = struct.pack(">i", -1)


def _fail(cls: str, e: Exception) -> ProtocolError:
    return ProtocolError(f"{cls}: {e}")


class _RecentVectors:
    """Decodes a vector of records, remembering the encodings of the last few it saw.

    Nearly every create carries one of a handful of ACL lists, so the same bytes arrive
    again and again: a byte comparison then replaces decoding two strings and building
    two records per entry. The encoding is self-delimiting (count, then each entry with
    its lengths), so equal bytes at ``pos`` mean an equal vector. Each call returns a new
    list; the entries in it are shared and must be treated as immutable values.
    """

    __slots__ = ("_dec", "_recent")
    KEEP = 8
    MAX_BYTES = 512

    def __init__(self, item_dec: Callable[[Any, int, int], tuple[Any, int]]) -> None:
        self._dec = item_dec
        self._recent: list[tuple[bytes, tuple[Any, ...]]] = []

    def read(self, buf: Any, pos: int, end: int) -> tuple[list[Any], int]:
        if type(buf) is bytes:
            for raw, items in self._recent:
                if buf.startswith(raw, pos) and pos + len(raw) <= end:
                    return list(items), pos + len(raw)
        start = pos
        if pos + 4 > end:
            raise _truncated(4, pos)
        (count,) = INT.unpack_from(buf, pos)
        pos += 4
        if count > MAX_FIELD or count < -1:
            raise _bad_length(count)
        if count > end - pos:
            raise _truncated(count, pos)
        out: list[Any] = []
        dec = self._dec
        for _ in range(max(count, 0)):
            item, pos = dec(buf, pos, end)
            out.append(item)
        if pos - start <= self.MAX_BYTES:
            if len(self._recent) >= self.KEEP:
                self._recent.pop(0)
            self._recent.append((bytes(buf[start:pos]), tuple(out)))
        return out, pos


def _gen_decode(pairs: list[list[str]], env: dict[str, Any]) -> list[str]:
    """Straight-line decoder source: reads `buf` from `pos` up to `end`."""
    lines: list[str] = []
    run: list[tuple[str, str]] = []

    def flush_run() -> None:
        if not run:
            return
        fmt = ">" + "".join(_FIXED[k] for _, k in run)
        sname = f"_S{len(env)}"
        env[sname] = struct.Struct(fmt).unpack_from
        size = struct.calcsize(fmt)
        names = ", ".join(n for n, _ in run)
        lines.append(f"if pos + {size} > end: raise _trunc({size}, pos)")
        lines.append(f"{names}, = {sname}(buf, pos); pos += {size}")
        run.clear()

    def length(var: str) -> None:
        lines.append("if pos + 4 > end: raise _trunc(4, pos)")
        lines.append(f"{var}, = _INT(buf, pos); pos += 4")
        lines.append(f"if {var} > _MAXF or {var} < -1: raise _badlen({var})")

    def blob(var: str, conv: str, null: str) -> None:
        length("n")
        lines.append(f"if n < 0: {var} = {null}")
        lines.append("else:")
        lines.append("    e = pos + n")
        lines.append("    if e > end: raise _trunc(n, pos)")
        lines.append(f"    {var} = {conv}; pos = e")

    for name, kind in pairs:
        v = f"v_{name}"
        if kind in _FIXED:
            run.append((v, kind))
            continue
        flush_run()
        if kind == "s":
            blob(v, "str(buf[pos:e], 'utf-8', 'surrogatepass')", '""')
        elif kind == "n":
            blob(v, "str(buf[pos:e], 'utf-8', 'surrogatepass')", "None")
        elif kind == "b":
            blob(v, "bytes(buf[pos:e])", "None")
        elif kind == "[s]":
            length("count")
            lines.append(f"{v} = []")
            lines.append("for _ in range(max(count, 0)):")
            lines.append("    if pos + 4 > end: raise _trunc(4, pos)")
            lines.append("    n, = _INT(buf, pos); pos += 4")
            lines.append("    if n < 0: " + v + ".append(''); continue")
            lines.append("    e = pos + n")
            lines.append("    if e > end or n > _MAXF: raise _trunc(n, pos)")
            lines.append(f"    {v}.append(str(buf[pos:e], 'utf-8', 'surrogatepass')); pos = e")
        elif kind == "[ACL]":
            env[f"_v_{name}"] = _RecentVectors(_REGISTRY["ACL"]._dec)  # type: ignore[attr-defined]
            lines.append(f"{v}, pos = _v_{name}.read(buf, pos, end)")
        elif kind.startswith("["):
            env[f"_d_{name}"] = _REGISTRY[kind[1:-1]]._dec  # type: ignore[attr-defined]
            length("count")
            lines.append("if count > end - pos: raise _trunc(count, pos)")
            lines.append(f"{v} = []")
            lines.append("for _ in range(max(count, 0)):")
            lines.append(f"    item, pos = _d_{name}(buf, pos, end); {v}.append(item)")
        else:
            env[f"_d_{name}"] = _REGISTRY[kind]._dec  # type: ignore[attr-defined]
            lines.append(f"{v}, pos = _d_{name}(buf, pos, end)")
    flush_run()
    return lines


def _gen_encode(pairs: list[list[str]], env: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    run: list[str] = []

    def flush_run() -> None:
        if not run:
            return
        fmt = ">" + "".join(_FIXED[k] for k in (r.split("|")[1] for r in run))
        sname = f"_P{len(env)}"
        env[sname] = struct.Struct(fmt).pack
        lines.append(f"out += {sname}(" + ", ".join(r.split("|")[0] for r in run) + ")")
        run.clear()

    def text(v: str, indent: str = "") -> None:
        lines.append(f"{indent}b = {v}.encode('utf-8', 'surrogatepass')")
        lines.append(f"{indent}out += _IPACK(len(b)); out += b")

    for name, kind in pairs:
        v = f"self.{name}"
        if kind in _FIXED:
            run.append(f"{v}|{kind}")
            continue
        flush_run()
        if kind in ("s", "n", "b"):
            lines.append(f"if {v} is None: out += _NULL")
            lines.append("else:")
            if kind == "b":
                lines.append(f"    out += _IPACK(len({v})); out += {v}")
            else:
                text(v, "    ")
        elif kind == "[s]":
            lines.append(f"out += _IPACK(len({v}))")
            lines.append(f"for s in {v}:")
            text("s", "    ")
        elif kind.startswith("["):
            lines.append(f"out += _IPACK(len({v}))")
            lines.append(f"for item in {v}: item._enc(out)")
        else:
            lines.append(f"{v}._enc(out)")
    flush_run()
    return lines or ["pass"]


def jute_record(cls: _R) -> _R:
    """Compile a decoder and an encoder for a dataclass from its ``_layout``.

    The generated code reads with precompiled ``struct`` objects straight from the frame
    (one unpack per run of fixed-size fields) and appends to one bytearray when writing.
    """
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    pairs = [p.split(":") for p in cls._layout.split()]
    if [p[0] for p in pairs] != names:
        raise TypeError(f"{cls.__name__}: layout {pairs} does not match fields {names}")
    env: dict[str, Any] = {
        "cls": cls,
        "_INT": INT.unpack_from,
        "_IPACK": INT.pack,
        "_NULL": _NULL,
        "_MAXF": MAX_FIELD,
        "_trunc": _truncated,
        "_badlen": _bad_length,
    }
    dec = _gen_decode(pairs, env)
    enc = _gen_encode(pairs, env)
    args = ", ".join(f"v_{n}" for n, _ in pairs)
    src = (
        "def _dec(buf, pos, end):\n    " + "\n    ".join(dec) + f"\n    return cls({args}), pos\n"
        "def _enc(self, out):\n    " + "\n    ".join(enc) + "\n"
    )
    exec(src, env)  # compiled once at import; the source is built from the layouts above
    dec_fn = env["_dec"]
    cls._dec = staticmethod(dec_fn)  # type: ignore[attr-defined]
    cls._enc = env["_enc"]  # type: ignore[method-assign]
    name = cls.__name__

    def read(c: Any, r: Reader) -> Any:
        try:
            obj, r._pos = dec_fn(r._buf, r._pos, r._end)
        except (UnicodeDecodeError, struct.error) as e:
            raise _fail(name, e) from None
        return obj

    cls.read = classmethod(read)  # type: ignore[assignment,method-assign]
    _REGISTRY[name] = cls
    return cls


def _truncated(n: int, pos: int) -> ProtocolError:
    return ProtocolError(f"record truncated: need {n} bytes at offset {pos}")


def _bad_length(n: int) -> ProtocolError:
    return ProtocolError(f"bad length {n}")
