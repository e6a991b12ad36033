"""Run Debian's Apache ZooKeeper 3.8 as a replicated ensemble on loopback, for tests and
benchmarks that compare roost's ensemble with the real thing.

    with ZooKeeperEnsemble(3) as zk:
        client = KazooClient(hosts=zk.hosts)
        zk.kill(zk.leader())

Each member is its own ``org.apache.zookeeper.server.quorum.QuorumPeerMain`` process with a
private work directory (zoo.cfg, log4j.properties, the log) and data directory (with its
``myid``), all under one temporary directory removed by `stop()` (or, with ``base_dir``, a
new directory inside it that is kept). Every port (client, quorum,
election) is a free 127.0.0.1 port and every listener binds 127.0.0.1 only.

Settings are ZooKeeper's usual production ones: tickTime 2000 ms, initLimit 10, syncLimit 5
(ZooKeeper's sample zoo.cfg), with forceSync on; every four-letter word is allowed and the
admin server is off. They can be overridden (``tick_ms``, ``config``). ``jvm_flags``
replaces the heap and GC flags of every member (default: the functional tests'
`DEFAULT_JVM_FLAGS`; benchmarks pass `PRODUCTION_JVM_FLAGS`, those of ZooKeeper's own start
script).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from roost.testing.procs import stop_processes
from roost.testing.zookeeper import (
    DEFAULT_JAR,
    DEFAULT_JVM_FLAGS,
    SUPER_DIGEST,
    ZooKeeperUnavailable,
    build_classpath,
    find_java,
    four_letter_word,
    free_port,
    mode_of,
)

QUORUM_MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
HOST = "127.0.0.1"


@dataclass
class ZkMember:
    """One member: its id (myid), ports, directories and process."""

    id: int
    port: int
    quorum_port: int
    election_port: int
    work_dir: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    host: str = HOST

    @property
    def hosts(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.work_dir / "data"

    @property
    def log_path(self) -> Path:
        return self.work_dir / "zookeeper.log"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def server_line(self) -> str:
        return (f"server.{self.id}={self.host}:{self.quorum_port}:{self.election_port}"
                f";{self.host}:{self.port}")


def _log4j(work_dir: Path) -> str:
    return (
        "log4j.rootLogger=INFO, FILE\n"
        "log4j.appender.FILE=org.apache.log4j.FileAppender\n"
        f"log4j.appender.FILE.File={work_dir / 'zookeeper.log'}\n"
        "log4j.appender.FILE.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] %m%n\n"
    )


class ZooKeeperEnsemble:
    """`n` ZooKeeper members on 127.0.0.1, each a QuorumPeerMain subprocess."""

    def __init__(
        self,
        n: int = 3,
        *,
        tick_ms: int = 2000,
        init_limit: int = 10,
        sync_limit: int = 5,
        config: Mapping[str, str] | None = None,
        jvm_flags: Sequence[str] = DEFAULT_JVM_FLAGS,
        java: str | None = None,
        jar: str | Path = DEFAULT_JAR,
        startup_timeout: float = 90.0,
        base_dir: str | Path | None = None,
    ) -> None:
        if n < 1:
            raise ValueError("an ensemble needs at least one member")
        self.n = n
        self.tick_ms = tick_ms
        self.init_limit = init_limit
        self.sync_limit = sync_limit
        self.config = dict(config or {})
        self.jvm_flags = list(jvm_flags)
        self._java = java
        self.jar = Path(jar)
        self.startup_timeout = startup_timeout
        #: given: every member's files go under it and are kept; else a temporary directory
        self._keep_dir = Path(base_dir) if base_dir is not None else None
        self.base_dir: Path | None = None
        self.members: list[ZkMember] = []

    # --- addresses ---------------------------------------------------------------------
    @property
    def hosts(self) -> str:
        return ",".join(m.hosts for m in self.members)

    def hosts_of(self, i: int) -> str:
        return self.members[i].hosts

    def __len__(self) -> int:
        return len(self.members)

    # --- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        """Start every member and wait until all serve and one of them leads."""
        java = find_java(self._java)
        if self._keep_dir is not None:
            self._keep_dir.mkdir(parents=True, exist_ok=True)
            self.base_dir = Path(tempfile.mkdtemp(prefix="zkens-", dir=self._keep_dir))
        else:
            self.base_dir = Path(tempfile.mkdtemp(prefix="roost-zkens-"))
        self.members = [
            ZkMember(i + 1, free_port(), free_port(), free_port(), self.base_dir / f"zk{i + 1}")
            for i in range(self.n)
        ]
        for m in self.members:
            m.data_dir.mkdir(parents=True)
            (m.data_dir / "myid").write_text(f"{m.id}\n")
            self._write_config(m)
        for m in self.members:
            self._spawn(m, java)
        deadline = time.monotonic() + self.startup_timeout
        for i in range(self.n):
            self._wait_serving(i, deadline)
        self.leader(max(deadline - time.monotonic(), 1.0))

    def start_member(self, i: int) -> None:
        """Start member i again (its data directory is kept) and wait until it serves."""
        m = self.members[i]
        if m.running:
            return
        self._spawn(m, find_java(self._java))
        self._wait_serving(i, time.monotonic() + self.startup_timeout)

    def stop_member(self, i: int) -> None:
        """SIGTERM member i (SIGKILL if it does not exit in 15 s)."""
        m = self.members[i]
        proc, m.proc = m.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGCONT)  # in case it was paused
        stop_processes([proc], grace=15)

    def kill(self, i: int) -> None:
        """SIGKILL member i, keeping its files."""
        m = self.members[i]
        proc, m.proc = m.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)

    def pid(self, i: int) -> int:
        proc = self.members[i].proc
        assert proc is not None, f"member {i} is not running"
        return proc.pid

    def pause(self, i: int) -> None:
        """SIGSTOP member i."""
        self._signal(i, signal.SIGSTOP)

    def resume(self, i: int) -> None:
        """SIGCONT member i."""
        self._signal(i, signal.SIGCONT)

    def _signal(self, i: int, sig: signal.Signals) -> None:
        proc = self.members[i].proc
        assert proc is not None, f"member {i} is not running"
        proc.send_signal(sig)

    def stop(self) -> None:
        """Stop every member and remove all files (unless a base_dir was given)."""
        for i in range(len(self.members)):
            self.stop_member(i)
        if self.base_dir is not None and self._keep_dir is None:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None

    # --- state -----------------------------------------------------------------------------
    @property
    def running(self) -> list[bool]:
        return [m.running for m in self.members]

    def four_letter(self, i: int, cmd: str, timeout: float = 1.0) -> str:
        m = self.members[i]
        return four_letter_word(m.host, m.port, cmd, timeout)

    def mode(self, i: int) -> str | None:
        """Member i's `Mode:` from srvr (leader/follower/observer), None if not serving."""
        if not self.members[i].running:
            return None
        try:
            out = self.four_letter(i, "srvr")
        except OSError:
            return None
        return mode_of(out)

    def leader(self, timeout: float = 30.0, exclude: tuple[int, ...] = ()) -> int:
        """Index of the member whose srvr says `Mode: leader` (waits for one)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i in range(len(self.members)):
                if i not in exclude and self.mode(i) == "leader":
                    return i
            time.sleep(0.05)
        raise TimeoutError("no ZooKeeper leader elected")

    def followers(self) -> list[int]:
        return [i for i in range(len(self.members)) if self.mode(i) == "follower"]

    def log_text(self, i: int) -> str:
        with contextlib.suppress(OSError):
            return self.members[i].log_path.read_text(errors="replace")
        return ""

    # --- internals ---------------------------------------------------------------------------
    def _zoo_cfg(self, m: ZkMember) -> dict[str, str]:
        cfg = {
            "tickTime": str(self.tick_ms),
            "initLimit": str(self.init_limit),
            "syncLimit": str(self.sync_limit),
            "dataDir": str(m.data_dir),
            "4lw.commands.whitelist": "*",
            "admin.enableServer": "false",
            "maxClientCnxns": "0",
            "reconfigEnabled": "false",
            "standaloneEnabled": "false",
        }
        cfg.update(self.config)
        return cfg

    def _write_config(self, m: ZkMember) -> None:
        m.work_dir.mkdir(parents=True, exist_ok=True)
        lines = [f"{k}={v}" for k, v in self._zoo_cfg(m).items()]
        lines += [other.server_line() for other in self.members]
        (m.work_dir / "zoo.cfg").write_text("\n".join(lines) + "\n")
        (m.work_dir / "log4j.properties").write_text(_log4j(m.work_dir))

    def _command(self, m: ZkMember, java: str) -> list[str]:
        props = {
            "zookeeper.DigestAuthenticationProvider.superDigest": SUPER_DIGEST,
            "zookeeper.extendedTypesEnabled": "true",
            "zookeeper.admin.enableServer": "false",
            "zookeeper.jmx.log4j.disable": "true",
            "zookeeper.log.dir": str(m.work_dir),
            "log4j.configuration": f"file:{m.work_dir / 'log4j.properties'}",
        }
        classpath = build_classpath(m.work_dir, self.jar)
        return [java, *self.jvm_flags, "-cp", classpath,
                *(f"-D{k}={v}" for k, v in props.items()), QUORUM_MAIN,
                str(m.work_dir / "zoo.cfg")]

    def _spawn(self, m: ZkMember, java: str) -> None:
        with open(m.work_dir / "stdout.log", "ab") as out:
            m.proc = subprocess.Popen(
                self._command(m, java), stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, cwd=m.work_dir, start_new_session=True,
            )

    def _wait_serving(self, i: int, deadline: float) -> None:
        m = self.members[i]
        while time.monotonic() < deadline:
            assert m.proc is not None
            if m.proc.poll() is not None:
                raise ZooKeeperUnavailable(
                    f"ZooKeeper member {m.id} exited with {m.proc.returncode}\n{self._tail(m)}")
            if self.mode(i) is not None:
                return
            time.sleep(0.05)
        raise ZooKeeperUnavailable(f"ZooKeeper member {m.id} did not serve\n{self._tail(m)}")

    def _tail(self, m: ZkMember, lines: int = 30) -> str:
        out = []
        for name in ("stdout.log", "zookeeper.log"):
            with contextlib.suppress(OSError):
                text = (m.work_dir / name).read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- {m.work_dir / name} ---\n" + "\n".join(text))
        return "\n".join(out)


__all__ = ["QUORUM_MAIN", "ZkMember", "ZooKeeperEnsemble"]
