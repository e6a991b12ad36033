"""The jute record machinery: the `Record` base class, `jute_record`, which checks and
registers a record class's one-line layout (see roost.wire.records), and `install`, which
the generated codec module (roost.wire.record_codecs) calls to give each class its reader and
writer.

Kinds: ``i`` int, ``l`` long, ``z`` boolean, ``b`` buffer (None = null),
``s`` ustring (null reads as ""), ``n`` nullable ustring, ``[s]`` vector of
strings, ``R`` a nested record class named R, ``[R]`` a vector of them.

The codecs are generated ahead of time (``python3 src/roost/wire/codegen.py`` writes
roost/wire/record_codecs.py from the layouts), so they are ordinary source: the compiled
build compiles them like any other module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any, ClassVar, Self, TypeVar

from roost.wire.jute import Reader, Writer

_REGISTRY: dict[str, type[Record]] = {}

class Record:
    """Base of every jute record."""

    __slots__ = ()
    _layout: ClassVar[str] = ""

    @staticmethod
    def _encode(rec: Record, out: bytearray) -> None:
        """Append `rec`'s encoding to `out`. A `jute_record` class gets its generated
        writer here (a static method: compiled callers such as roost.wire.protocol reach
        the compiled writer with no Python frame between); a hand-written record
        implements `write` instead."""
        rec.write(Writer(out))

    def write(self, w: Writer) -> None:
        self._encode(self, w.buf)

    @classmethod
    def read(cls, r: Reader) -> Self:
        raise NotImplementedError  # installed from roost.wire.record_codecs, or written by hand

    def to_bytes(self) -> bytes:
        out = bytearray()
        self._encode(self, out)
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return cls.read(Reader(data))


_R = TypeVar("_R", bound=type[Record])


def jute_record(cls: _R) -> _R:
    """Check a dataclass's ``_layout`` against its fields and register it; its codecs are
    installed by roost.wire.record_codecs (generated from the same layout)."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    pairs = [p.split(":") for p in cls._layout.split()]
    if [p[0] for p in pairs] != names:
        raise TypeError(f"{cls.__name__}: layout {pairs} does not match fields {names}")
    _REGISTRY[cls.__name__] = cls
    return cls


def install(cls: type[Record], layout: str, read: Callable[[Any, Reader], Any],
            enc: Callable[[Any, bytearray], None]) -> None:
    """Give a registered record class the codecs generated from `layout`.

    `read` becomes the class's `read` classmethod and `enc` its `_encode` static method,
    as they are: a classmethod or staticmethod wraps any callable, compiled ones included
    (a compiled function does not bind as a plain method would).
    """
    if _REGISTRY.get(cls.__name__) is not cls or cls._layout != layout:
        raise ImportError(f"roost/wire/record_codecs.py is out of date for {cls.__name__}: "
                          "regenerate it with `python3 src/roost/wire/codegen.py`")
    cls.read = classmethod(read)  # type: ignore[assignment,method-assign]
    cls._encode = staticmethod(enc)  # type: ignore[method-assign,assignment]


def check_installed(names: set[str]) -> None:
    """Every registered record has generated codecs (called by roost.wire.record_codecs with the
    names it covers)."""
    missing = sorted(set(_REGISTRY) - names)
    if missing:
        raise ImportError(f"roost/wire/record_codecs.py has no codecs for {', '.join(missing)}: "
                          "regenerate it with `python3 src/roost/wire/codegen.py`")
