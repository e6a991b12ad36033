"""Jute primitives: big-endian ints, longs, booleans, buffers, strings, vectors.

`Reader` walks a bytes object and raises `ProtocolError` on anything short or
malformed; `Writer` appends to a bytearray. No I/O.
"""

from __future__ import annotations

import struct

from roost.wire.errors import ProtocolError

INT = struct.Struct(">i")
LONG = struct.Struct(">q")
INT_LONG = struct.Struct(">iq")
REPLY_HEADER = struct.Struct(">iqi")
REQUEST_HEADER = struct.Struct(">ii")

#: Largest string/buffer/vector length accepted inside a record (jute.maxbuffer + extrasize).
MAX_FIELD = 2 * 0xFFFFF

# aliases: the Reader/Writer methods named int/bool shadow the builtins in class scope
_int = int
_bool = bool


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
            raise ProtocolError(f"record truncated: need {n} bytes at offset {p}")
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
            raise ProtocolError(f"bad length {n}")
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
