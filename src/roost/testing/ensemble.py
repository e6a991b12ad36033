"""A local roost ensemble for tests and development: N members on loopback.

    with RoostEnsemble(3) as ens:
        client = KazooClient(hosts=ens.hosts)
        ens.kill(ens.leader())

Members run in background threads (fast) or as subprocesses (`subprocess=True`,
needed to SIGKILL or SIGSTOP one).
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from roost.server.config import Member
from roost.testing.server import RoostServer, four_letter, free_port


class RoostEnsemble:
    def __init__(self, voters: int = 3, observers: int = 0, *, base_dir: str | Path | None = None,
                 subprocess: bool = False, secret: str = "roost-test-secret",
                 start_timeout: float = 30.0, **overrides: Any) -> None:
        self._own_dir = base_dir is None
        self.base_dir = Path(base_dir) if base_dir else Path(tempfile.mkdtemp(prefix="roost-ens-"))
        n = voters + observers
        self.members = [
            Member(i + 1, "127.0.0.1", free_port(), free_port(),
                   "voter" if i < voters else "observer")
            for i in range(n)
        ]
        self.servers = [
            RoostServer(data_dir=self.base_dir / f"member{m.id}", port=m.client_port,
                        subprocess=subprocess, start_timeout=start_timeout, server_id=m.id,
                        members=self.members, peer_secret=secret, **overrides)
            for m in self.members
        ]
        self.running = [False] * n

    @property
    def hosts(self) -> str:
        return ",".join(s.hosts for s in self.servers)

    def start(self) -> RoostEnsemble:
        for i in range(len(self.servers)):
            self.start_member(i)
        return self

    def start_member(self, i: int) -> None:
        self.servers[i].start()
        self.running[i] = True

    def stop_member(self, i: int) -> None:
        self.servers[i].stop()
        self.running[i] = False

    def kill(self, i: int) -> None:
        self.servers[i].kill()
        self.running[i] = False

    def pause(self, i: int) -> None:
        proc = self.servers[i].process
        assert proc is not None, "pause needs subprocess=True"
        os.kill(proc.pid, signal.SIGSTOP)

    def resume(self, i: int) -> None:
        proc = self.servers[i].process
        assert proc is not None, "resume needs subprocess=True"
        os.kill(proc.pid, signal.SIGCONT)

    def mode(self, i: int) -> str | None:
        """The member's `Mode:` from srvr, or None if it does not answer."""
        s = self.servers[i]
        try:
            out = four_letter(s.host, s.port, "srvr", timeout=1.0)
        except OSError:
            return None
        for line in out.splitlines():
            if line.startswith("Mode: "):
                return line[6:]
        return None

    def leader(self, timeout: float = 20.0, exclude: tuple[int, ...] = ()) -> int:
        """Index of the member that says it leads (waits for one)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i in range(len(self.servers)):
                if self.running[i] and i not in exclude and self.mode(i) == "leader":
                    return i
            time.sleep(0.02)
        raise TimeoutError("no leader elected")

    def stop(self) -> None:
        for i in range(len(self.servers)):
            if self.running[i]:
                self.stop_member(i)

    def cleanup(self) -> None:
        for s in self.servers:
            s.cleanup()
        if self._own_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> RoostEnsemble:
        try:
            return self.start()
        except BaseException:
            self.stop()
            self.cleanup()
            raise

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.stop()
        finally:
            self.cleanup()
