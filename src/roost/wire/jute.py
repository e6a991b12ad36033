"""Jute primitives: big-endian ints, longs, booleans, buffers, strings, vectors.

`Reader` walks a bytes object and raises `ProtocolError` on anything short or
malformed; `Writer` appends to a bytearray. No I/O.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Final, Generic, TypeVar

from roost.wire.errors import ProtocolError

INT = struct.Struct(">i")
LONG = struct.Struct(">q")
INT_LONG = struct.Struct(">iq")
REPLY_HEADER = struct.Struct(">iqi")
REQUEST_HEADER = struct.Struct(">ii")

#: Largest string/buffer/vector length accepted inside a record (jute.maxbuffer + extrasize).
MAX_FIELD: Final = 2 * 0xFFFFF

# aliases: the Reader/Writer methods named int/bool shadow the builtins in class scope
_int = int
_bool = bool

T = TypeVar("T")

#: how many vector encodings a `RecentVectors` remembers, and up to what size each
RECENT_KEEP = 8
RECENT_MAX_BYTES = 512


def truncated(n: int, pos: int) -> ProtocolError:
    return ProtocolError(f"record truncated: need {n} bytes at offset {pos}")


def bad_length(n: int) -> ProtocolError:
    return ProtocolError(f"bad length {n}")


class Reader:
    """Sequential decoder over one frame body."""

    __slots__ = ("_buf", "_end", "_pos")

    def __init__(self, buf: bytes, pos: int = 0) -> None:
        self._buf = buf
        self._pos = pos
        self._end = len(buf)

    @property
    def pos(self) -> _int:
        return self._pos

    def remaining(self) -> _int:
        return self._end - self._pos

    def _need(self, n: _int) -> _int:
        p = self._pos
        if p + n > self._end:
            raise truncated(n, p)
        self._pos = p + n
        return p

    def int(self) -> _int:
        p = self._need(4)
        v: _int = INT.unpack_from(self._buf, p)[0]
        return v

    def long(self) -> _int:
        p = self._need(8)
        v: _int = LONG.unpack_from(self._buf, p)[0]
        return v

    def bool(self) -> _bool:
        p = self._need(1)
        return self._buf[p] != 0

    def _length(self) -> _int:
        n = self.int()
        if n > MAX_FIELD or n < -1:
            raise bad_length(n)
        return n

    def buffer(self) -> bytes | None:
        n = self._length()
        if n < 0:
            return None
        p = self._need(n)
        return bytes(self._buf[p : p + n])

    def ustring(self) -> str | None:
        n = self._length()
        if n < 0:
            return None
        p = self._need(n)
        try:
            return bytes(self._buf[p : p + n]).decode("utf-8", "surrogatepass")
        except UnicodeDecodeError as e:
            raise ProtocolError(f"string is not UTF-8: {e}") from None

    def string(self) -> str:
        """A ustring where null reads as the empty string."""
        s = self.ustring()
        return "" if s is None else s

    def count(self) -> _int:
        """A vector length; null (-1) reads as 0."""
        n = self._length()
        if n > self.remaining():
            raise ProtocolError(f"vector of {n} elements cannot fit in {self.remaining()} bytes")
        return max(n, 0)

    def strings(self) -> list[str]:
        return [self.string() for _ in range(self.count())]

    def end(self) -> None:
        """Assert the body was consumed (trailing bytes are tolerated like Java does)."""


class Writer:
    """Appends jute-encoded values to a bytearray."""

    __slots__ = ("buf",)

    def __init__(self, buf: bytearray | None = None) -> None:
        self.buf = bytearray() if buf is None else buf

    def int(self, v: _int) -> None:
        self.buf += INT.pack(v)

    def long(self, v: _int) -> None:
        self.buf += LONG.pack(v)

    def bool(self, v: _bool) -> None:
        self.buf.append(1 if v else 0)

    def buffer(self, v: bytes | None) -> None:
        if v is None:
            self.buf += INT.pack(-1)
        else:
            self.buf += INT.pack(len(v))
            self.buf += v

    def ustring(self, v: str | None) -> None:
        if v is None:
            self.buf += INT.pack(-1)
        else:
            b = v.encode("utf-8", "surrogatepass")
            self.buf += INT.pack(len(b))
            self.buf += b

    def strings(self, v: list[str] | tuple[str, ...]) -> None:
        self.int(len(v))
        for s in v:
            self.ustring(s)

    def getvalue(self) -> bytes:
        return bytes(self.buf)


class RecentVectors(Generic[T]):
    """Decodes a vector of records, remembering the encodings of the last few it saw.

    Nearly every create carries one of a handful of ACL lists, so the same bytes arrive
    again and again: a byte comparison then replaces decoding two strings and building
    two records per entry. The encoding is self-delimiting (count, then each entry with
    its lengths), so equal bytes at ``pos`` mean an equal vector. Each call returns a new
    list; the entries in it are shared and must be treated as immutable values.
    """

    __slots__ = ("_dec", "_recent")

    def __init__(self, item_dec: Callable[[bytes, _int, _int], tuple[T, _int]]) -> None:
        self._dec = item_dec
        self._recent: list[tuple[bytes, tuple[T, ...]]] = []

    def read(self, buf: bytes, pos: _int, end: _int) -> tuple[list[T], _int]:
        if type(buf) is bytes:
            for raw, items in self._recent:
                if buf.startswith(raw, pos) and pos + len(raw) <= end:
                    return list(items), pos + len(raw)
        start = pos
        if pos + 4 > end:
            raise truncated(4, pos)
        count: _int = INT.unpack_from(buf, pos)[0]
        pos += 4
        if count > MAX_FIELD or count < -1:
            raise bad_length(count)
        if count > end - pos:
            raise truncated(count, pos)
        out: list[T] = []
        dec = self._dec
        for _ in range(max(count, 0)):
            item, pos = dec(buf, pos, end)
            out.append(item)
        if pos - start <= RECENT_MAX_BYTES:
            if len(self._recent) >= RECENT_KEEP:
                self._recent.pop(0)
            self._recent.append((bytes(buf[start:pos]), tuple(out)))
        return out, pos
