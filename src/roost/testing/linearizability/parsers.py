"""Readers for two Jepsen history formats (see ``tests/data/linearizability/README.md``).

* Jepsen etcd logs: ``INFO  jepsen.util - <process> :<type> :<f> <value>`` lines (fields
  separated by tabs or spaces), a single register with read/write/cas (for
  :class:`RegisterModel`);
* EDN maps, one per line: ``{:process 0, :type :ok, :f :get, :key "k", :value "v"}``, a
  key-value store with get/put/append (use with :class:`KVModel`).

An event's timestamp is its line number. An invocation is completed by the next
``:ok``/``:fail``/``:info`` line of the same process.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import Any

from roost.testing.history import History, Operation

_TOKEN = re.compile(
    r"""[\s,]*(?:
        (?P<kw>:[^\s,\[\]{}()"]+)
      | (?P<str>"(?:[^"\\]|\\.)*")
      | (?P<int>-?\d+)(?![\w.])
      | (?P<sym>nil|true|false)(?![\w])
      | (?P<open>[\[{])
      | (?P<close>[\]}])
    )""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_ETCD_PREFIX = re.compile(r"^INFO\s+jepsen\.util\s+-\s+")


class ParseError(ValueError):
    """A line that is not in the expected format."""


def parse_edn(text: str) -> Any:
    """Parse the small EDN subset these histories use: maps, vectors, keywords (kept as
    strings with their colon), strings, integers, nil/true/false."""
    value, pos = _parse_value(text, 0)
    if text[pos:].strip(" \t\r\n,"):
        raise ParseError(f"trailing text after EDN value: {text[pos:]!r}")
    return value


def _parse_value(text: str, pos: int) -> tuple[Any, int]:
    m = _TOKEN.match(text, pos)
    if m is None or m.lastgroup is None:
        raise ParseError(f"cannot parse EDN at {text[pos:pos + 30]!r}")
    kind, tok, pos = m.lastgroup, m.group(m.lastgroup), m.end()
    if kind == "kw":
        return tok, pos
    if kind == "str":
        return re.sub(r"\\(.)", lambda e: _ESCAPES.get(e.group(1), e.group(1)), tok[1:-1]), pos
    if kind == "int":
        return int(tok), pos
    if kind == "sym":
        return {"nil": None, "true": True, "false": False}[tok], pos
    if kind == "open":
        return _parse_collection(text, pos, "}" if tok == "{" else "]")
    raise ParseError(f"unexpected {tok!r}")


def _parse_collection(text: str, pos: int, close: str) -> tuple[Any, int]:
    items: list[Any] = []
    while True:
        m = _TOKEN.match(text, pos)
        if m is not None and m.lastgroup == "close":
            if m.group("close") != close:
                raise ParseError(f"mismatched {m.group('close')!r}")
            pos = m.end()
            break
        item, pos = _parse_value(text, pos)
        items.append(item)
    if close == "]":
        return tuple(items), pos
    if len(items) % 2:
        raise ParseError("map with an odd number of forms")
    return dict(zip(items[::2], items[1::2], strict=True)), pos


class _Builder:
    """Feeds parsed events into a History whose clock is the line number."""

    def __init__(self) -> None:
        self._line = itertools.count()
        self.history = History(clock=lambda: next(self._line))
        self.open: dict[Hashable, int] = {}

    def invoke(self, process: Hashable, f: str, args: Any) -> None:
        if process in self.open:
            raise ParseError(f"process {process} invoked twice without completing")
        self.open[process] = self.history.invoke(process, f, args)

    def complete(self, process: Hashable, kind: str, result: Any = None) -> None:
        handle = self.open.pop(process, None)
        if handle is None:
            raise ParseError(f"process {process} completed with nothing pending")
        if kind == "ok":
            self.history.ok(handle, result)
        elif kind == "fail":
            self.history.fail(handle)
        elif kind == "info":
            self.history.info(handle)
        else:
            raise ParseError(f"unknown event type {kind!r}")


def _lines(source: str | Path | Iterable[str]) -> Iterable[str]:
    if isinstance(source, Path):
        return source.read_text().splitlines()
    if isinstance(source, str):
        return source.splitlines()
    return source


def parse_jepsen_etcd(
    source: str | Path | Iterable[str], *, cas_fail_is_false: bool = True
) -> list[Operation]:
    """Read a Jepsen etcd register log (a Path, the text itself, or lines).

    Jepsen's etcd client reports a compare-and-set whose comparison failed as ``:fail``;
    with ``cas_fail_is_false`` (the default) such a cas becomes a completed cas returning
    False (it did not take effect, and the value differed from the expected one at some
    point during the call), as Porcupine reads these logs. Otherwise it is dropped like
    any failed operation.
    """
    b = _Builder()
    for number, raw in enumerate(_lines(source), 1):
        line = raw.strip()
        if not line:
            continue
        m = _ETCD_PREFIX.match(line)
        if m is None:
            raise ParseError(f"line {number}: not a jepsen.util line: {line!r}")
        fields = line[m.end():].split(None, 3)
        if len(fields) != 4:
            raise ParseError(f"line {number}: expected 4 fields: {line!r}")
        process, kind, f = int(fields[0]), fields[1].lstrip(":"), fields[2].lstrip(":")
        value = parse_edn(fields[3])
        _etcd_event(b, process, kind, f, value, cas_fail_is_false)
    return b.history.operations()


def _etcd_event(
    b: _Builder, process: int, kind: str, f: str, value: Any, cas_fail_is_false: bool
) -> None:
    if kind == "invoke":
        b.invoke(process, f, None if f == "read" else value)
    elif kind == "ok":
        result = {"read": value, "write": None, "cas": True}.get(f, value)
        b.complete(process, "ok", result)
    elif kind == "fail" and f == "cas" and cas_fail_is_false:
        b.complete(process, "ok", False)
    else:
        b.complete(process, kind)


def parse_edn_kv(source: str | Path | Iterable[str]) -> list[Operation]:
    """Read an EDN key-value history (a Path, the text itself, or lines).

    Inputs become ``(f, (key, value))`` with value None for ``get``; a ``get``'s result is
    the value read, ``put``/``append`` results are None.
    """
    b = _Builder()
    for number, raw in enumerate(_lines(source), 1):
        if not raw.strip():
            continue
        m = parse_edn(raw)
        if not isinstance(m, dict):
            raise ParseError(f"line {number}: not an EDN map")
        try:
            process, kind, f = m[":process"], m[":type"][1:], m[":f"][1:]
            key, value = m[":key"], m.get(":value")
        except (KeyError, TypeError) as exc:
            raise ParseError(f"line {number}: missing field {exc}") from None
        if kind == "invoke":
            b.invoke(process, f, (key, None if f == "get" else value))
        else:
            b.complete(process, kind, value if f == "get" else None)
    return b.history.operations()


PARSERS: dict[str, Callable[[Path], list[Operation]]] = {
    "register": parse_jepsen_etcd,
    "kv": parse_edn_kv,
}
