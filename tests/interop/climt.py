"""Drive the C client's shell, ``cli_mt``, one command at a time.

cli_mt reads commands on stdin and prints results (and watch events) on stderr as its
completion thread receives them; most commands are asynchronous, so each method here sends
one command and waits for the line that ends its result. Output formats (ZooKeeper's
``zookeeper-client-c/src/cli.c``):

* create: ``[PATH]: rc = N`` then, on success, a tab and ``name = ACTUAL``;
* get: ``PATH: rc = N``, `` value_len = L``, the value, ``Stat:``, then the Stat (hex
  numbers) ending with a tab and ``ephemeralOwner = X``; on error ``Stat:`` and ``null``;
* set: ``PATH: rc = N Stat:`` then the Stat (or ``null``); delete: ``PATH: rc = N``;
* ls: ``PATH: rc = N``, one tab-indented child a line, then ``time = T msec``;
* sync: like create; exists/wexists are synchronous and print only ``Error N for PATH``;
* events: ``Watcher TYPE state = STATE for path PATH``.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import TracebackType

from .procs import LineProcess

SESSION_ID = r"^Got a new session id: (0x[0-9a-f]+)$"


class CliMt:
    """One cli_mt process connected to `hosts`."""

    def __init__(self, binary: Path, hosts: str) -> None:
        self.proc = LineProcess([str(binary), "-h", hosts])
        #: index of the line that reported the last command's result code
        self.last_reply = -1

    def __enter__(self) -> CliMt:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.proc.__exit__(et, ev, tb)

    @property
    def lines(self) -> list[str]:
        return self.proc.lines

    def wait_for(self, pattern: str, start: int = 0) -> tuple[int, re.Match[str]]:
        return self.proc.wait_for(pattern, start)

    def wait_connected(self) -> str:
        """The session id (0x...) printed when the first connection is made."""
        return self.wait_for(SESSION_ID)[1].group(1)

    def _rc(self, pattern: str, start: int) -> tuple[int, int]:
        index, found = self.wait_for(pattern, start)
        self.last_reply = index
        return index, int(found.group(1))

    def create(self, path: str, flags: str = "") -> tuple[int, str | None]:
        """(rc, created path or None); flags: e (ephemeral), s (sequential), es."""
        start = self.proc.send(f"create +{flags} {path}" if flags else f"create {path}")
        index, rc = self._rc(rf"^\[{re.escape(path)}\]: rc = (-?\d+)$", start)
        if rc != 0:
            return rc, None
        return 0, self.wait_for(r"^\tname = (.*)$", index + 1)[1].group(1)

    def get(self, path: str) -> tuple[int, str | None, dict[str, str]]:
        """(rc, value, Stat fields as printed) of a get, which also sets a data watch."""
        start = self.proc.send(f"get {path}")
        index, rc = self._rc(rf"^{re.escape(path)}: rc = (-?\d+)$", start)
        if rc != 0:
            self.wait_for(r"^null$", index + 1)
            return rc, None, {}
        end, _ = self.wait_for(r"^\tephemeralOwner = ", index + 1)
        block = self.lines[index + 1 : end + 1]
        stat_at = block.index("Stat:")
        value = "\n".join(block[1:stat_at])
        return rc, value, parse_stat(block[stat_at + 1 :])

    def set(self, path: str, data: str) -> tuple[int, dict[str, str]]:
        start = self.proc.send(f"set {path} {data}")
        index, rc = self._rc(rf"^{re.escape(path)}: rc = (-?\d+) Stat:$", start)
        if rc != 0:
            self.wait_for(r"^null$", index + 1)
            return rc, {}
        end, _ = self.wait_for(r"^\tephemeralOwner = ", index + 1)
        return rc, parse_stat(self.lines[index + 1 : end + 1])

    def delete(self, path: str) -> int:
        start = self.proc.send(f"delete {path}")
        return self._rc(rf"^{re.escape(path)}: rc = (-?\d+)$", start)[1]

    def ls(self, path: str) -> tuple[int, list[str]]:
        """(rc, children) of an ls, which also sets a child watch."""
        start = self.proc.send(f"ls {path}")
        index, rc = self._rc(rf"^{re.escape(path)}: rc = (-?\d+)$", start)
        end, _ = self.wait_for(r"^time = \d+ msec$", index + 1)
        return rc, [line[1:] for line in self.lines[index + 1 : end] if line.startswith("\t")]

    def sync(self, path: str) -> int:
        start = self.proc.send(f"sync {path}")
        index, rc = self._rc(rf"^\[{re.escape(path)}\]: rc = (-?\d+)$", start)
        if rc == 0:
            self.wait_for(r"^\tname = ", index + 1)
        return rc

    def exists(self, path: str, watch: bool = False) -> int:
        """rc of a synchronous exists (wexists with watch=True, which sets a watch)."""
        start = self.proc.send(f"{'wexists' if watch else 'exists'} {path}")
        self.sync("/")  # a barrier: exists prints only on error, before the sync is sent
        error = re.compile(rf"^Error (-?\d+) for {re.escape(path)}$")
        for line in self.lines[start:]:
            found = error.match(line)
            if found:
                return int(found.group(1))
        return 0

    def addauth(self, scheme: str, credentials: str) -> None:
        """Queue an auth packet (cli_mt prints nothing for it)."""
        self.proc.send(f"addauth {scheme} {credentials}")

    def quit(self) -> int:
        """Close the session and return cli_mt's exit status."""
        start = self.proc.send("quit")
        self.wait_for(r"^Quitting\.\.\.$", start)
        return self.proc.finish()


def parse_stat(lines: list[str]) -> dict[str, str]:
    """Stat fields from cli_mt's dump ("\\tczxid=3", "\\tversion=1\\taversion=0", ...)."""
    fields: dict[str, str] = {}
    for line in lines:
        for part in line.strip("\t").split("\t"):
            key, sep, value = part.partition("=")
            if sep:
                fields[key.strip()] = value.strip()
    return fields
