"""Run a client program and watch its output line by line, with deadlines.

`LineProcess` starts a subprocess whose stdout (and, unless redirected, stderr) lines are
collected by a reader thread; `wait_for` blocks until a line matching a regular expression
shows up at or after a given index, or fails with the whole output so far.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import IO, Any

DEFAULT_WAIT = 30.0


class LineProcess:
    """A subprocess fed on stdin whose output lines are collected as they come."""

    def __init__(self, argv: Sequence[str], stderr: IO[Any] | int = subprocess.STDOUT) -> None:
        self.argv = list(argv)
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._eof = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    @property
    def mark(self) -> int:
        """The number of lines seen so far: a start index for `wait_for`."""
        with self._cond:
            return len(self.lines)

    def send(self, line: str) -> int:
        """Write one line to stdin; returns the index of the first line after it."""
        start = self.mark
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        return start

    def output(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def wait_for(
        self, pattern: str, start: int = 0, timeout: float = DEFAULT_WAIT
    ) -> tuple[int, re.Match[str]]:
        """The first line at index >= start matching `pattern` (re.search), and its match."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        index = start
        with self._cond:
            while True:
                while index < len(self.lines):
                    found = regex.search(self.lines[index])
                    if found:
                        return index, found
                    index += 1
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    why = "the process ended" if self._eof else f"{timeout:.0f} s passed"
                    raise AssertionError(
                        f"{why} before a line matching {pattern!r} (from line {start}) in "
                        f"the output of {self.argv[0]}:\n" + "\n".join(self.lines)
                    )
                self._cond.wait(left)

    def finish(self, timeout: float = DEFAULT_WAIT) -> int:
        """Close stdin and wait for the exit status (killing the process on timeout)."""
        assert self.proc.stdin is not None
        if not self.proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(
                f"{self.argv[0]} did not exit within {timeout:.0f} s:\n{self.output()}"
            ) from None
        self._reader.join(10)
        return code

    def __enter__(self) -> LineProcess:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
