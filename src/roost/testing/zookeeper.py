"""Run Debian's Apache ZooKeeper as a standalone server for tests and benchmarks.

`ZooKeeperServer` writes its own ``zoo.cfg`` and ``log4j.properties`` into a private
temporary directory (never /etc/zookeeper or /var/lib/zookeeper), starts
``org.apache.zookeeper.server.ZooKeeperServerMain`` on a free 127.0.0.1 port and waits
until the ``ruok`` four-letter word answers ``imok``.

The defaults match roost's test server: tickTime 2000 ms, every four-letter word
allowed, the super digest ``super:test``, TTL nodes enabled and a 1 s container sweep.

    with ZooKeeperServer() as zk:
        client = KazooClient(hosts=zk.hosts)
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from roost.testing.ports import free_port
from roost.testing.procs import stop_processes

#: The Debian package's server jar; its manifest Class-Path names the dependencies.
DEFAULT_JAR = Path("/usr/share/java/zookeeper.jar")
#: Optional jars that give slf4j a log4j binding, so the server log lands in the work dir.
LOGGING_JARS = (
    Path("/usr/share/java/slf4j-log4j12.jar"),
    Path("/usr/share/java/log4j-1.2.jar"),
)
MAIN_CLASS = "org.apache.zookeeper.server.ZooKeeperServerMain"
#: SHA-1 digest of "super:test": authenticating as super:test bypasses every ACL.
SUPER_DIGEST = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
SUPER_AUTH = "super:test"

DEFAULT_JVM_FLAGS = (
    "-Xms32m",
    "-Xmx256m",
    "-XX:+UseSerialGC",
    "-Djava.awt.headless=true",
    "-Dfile.encoding=UTF-8",
)
"""The functional tests' JVM flags: a small heap and the serial collector, cheap to start
many of. Not what ZooKeeper's users run: benchmarks take `PRODUCTION_JVM_FLAGS`."""

PRODUCTION_JVM_FLAGS = (
    "-Xmx1000m",
    "-XX:+HeapDumpOnOutOfMemoryError",
    "-XX:OnOutOfMemoryError=kill -9 %p",
)
"""The JVM flags ZooKeeper's own start script gives the server: bin/zkEnv.sh's default
``ZK_SERVER_HEAP=1000`` (``-Xmx1000m``) and bin/zkServer.sh's out-of-memory handling; no
collector is chosen, so the JVM's default (G1 on Java 9 and later) runs. (Debian's zkEnv.sh
sets no heap at all, which leaves the JVM's default of a quarter of physical memory.)"""


#: Servers started by this process; any still running at interpreter exit are killed,
#: so an aborted test run leaves no JVM behind.
_LIVE: weakref.WeakSet[ZooKeeperServer] = weakref.WeakSet()


@atexit.register
def _kill_leftovers() -> None:
    for server in list(_LIVE):
        with contextlib.suppress(Exception):
            server.kill()
            server.stop()  # removes the temp files unless keep_files


class ZooKeeperUnavailable(RuntimeError):
    """Java or the ZooKeeper jar is missing, or the server did not come up."""


def four_letter_word(host: str, port: int, cmd: str | bytes, timeout: float = 5.0) -> str:
    """Send a four-letter word and return the whole answer (the server closes after it)."""
    raw = cmd.encode() if isinstance(cmd, str) else cmd
    chunks: list[bytes] = []
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(raw)
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode("utf-8", errors="replace")


def mode_of(srvr: str) -> str | None:
    """The ``Mode:`` of a ``srvr`` answer (leader, follower, observer, standalone,
    read-only), or None if it has none."""
    for line in srvr.splitlines():
        if line.startswith("Mode: "):
            return line.removeprefix("Mode: ").strip()
    return None


def find_java(java: str | None = None) -> str:
    """The java executable to use, or raise `ZooKeeperUnavailable`."""
    candidates = [java] if java else [os.environ.get("ROOST_JAVA"), "/usr/bin/java", "java"]
    for cand in candidates:
        if not cand:
            continue
        found = shutil.which(cand)
        if found:
            return found
    raise ZooKeeperUnavailable(
        "Java was not found (looked for /usr/bin/java and java on PATH); "
        "install a JRE 11+ (Debian: apt-get install default-jre-headless zookeeper)"
    )


def check_jar(jar: Path) -> None:
    if not jar.is_file():
        raise ZooKeeperUnavailable(
            f"ZooKeeper jar {jar} is missing; install Debian's zookeeper package "
            "(apt-get install zookeeper) or pass jar=..."
        )


def build_classpath(conf_dir: Path, jar: Path) -> str:
    """conf dir (for log4j.properties), the ZooKeeper jar, and a log4j binding if present."""
    check_jar(jar)
    parts = [str(conf_dir), str(jar)]
    parts += [str(p) for p in LOGGING_JARS if p.is_file()]
    return os.pathsep.join(parts)


class ZooKeeperServer:
    """One standalone Apache ZooKeeper process on 127.0.0.1.

    ``data_dir``: where snapshots and logs go (default: ``<work_dir>/data``, removed on
    stop; a given one is kept, and `stop` copies the server's log into it). ``port``: 0
    picks a free port. ``config`` adds or overrides zoo.cfg entries; ``system_properties``
    adds or overrides ``-D`` properties; ``jvm_flags`` replaces the default heap and GC
    flags (`DEFAULT_JVM_FLAGS`, for tests; `PRODUCTION_JVM_FLAGS` is what ZooKeeper's start
    script uses).
    """

    host = "127.0.0.1"

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        port: int = 0,
        *,
        tick_ms: int = 2000,
        config: Mapping[str, str] | None = None,
        system_properties: Mapping[str, str] | None = None,
        jvm_flags: Sequence[str] = DEFAULT_JVM_FLAGS,
        java: str | None = None,
        jar: str | os.PathLike[str] = DEFAULT_JAR,
        startup_timeout: float = 60.0,
        keep_files: bool = False,
    ) -> None:
        self._requested_port = port
        self._requested_data_dir = Path(data_dir) if data_dir is not None else None
        self.tick_ms = tick_ms
        self.config = dict(config or {})
        self.system_properties = dict(system_properties or {})
        self.jvm_flags = list(jvm_flags)
        self._java = java
        self.jar = Path(jar)
        self.startup_timeout = startup_timeout
        self.keep_files = keep_files
        self.port = port
        self.work_dir: Path | None = None
        self.data_dir: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._bound_port: int | None = None

    # --- addresses ---------------------------------------------------------------------

    @property
    def hosts(self) -> str:
        """The connect string, "127.0.0.1:PORT"."""
        return f"{self.host}:{self.port}"

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def log_path(self) -> Path | None:
        return self.work_dir / "zookeeper.log" if self.work_dir else None

    # --- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:  # a server that did not start leaves no process or temp dir
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Start the server and wait until it answers ``ruok``; idempotent while running."""
        if self.running:
            return
        java = find_java(self._java)
        check_jar(self.jar)
        if self.work_dir is None:
            self.work_dir = Path(tempfile.mkdtemp(prefix="roost-zk-"))
        self.data_dir = self._requested_data_dir or self.work_dir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        classpath = build_classpath(self.work_dir, self.jar)
        # after kill()/restart() the server comes back on the port clients know
        fixed_port = self._requested_port or self._bound_port
        attempts = 1 if fixed_port else 3
        last_error = ""
        for _ in range(attempts):
            self.port = fixed_port or free_port(self.host)
            self._write_config()
            self._spawn(java, classpath)
            ok, last_error = self._wait_ready()
            if ok:
                self._bound_port = self.port
                return
            self._terminate()
        raise ZooKeeperUnavailable(f"ZooKeeper did not start: {last_error}\n{self._log_tail()}")

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL) and remove the temp files; the server's
        log is copied into a caller-given ``data_dir`` first (see `_save_log`)."""
        self._terminate()
        self._bound_port = None
        self._save_log()
        if self.work_dir is not None and not self.keep_files:
            shutil.rmtree(self.work_dir, ignore_errors=True)
            self.work_dir = None

    def restart(self, kill: bool = False) -> None:
        """Stop (SIGTERM, or SIGKILL with ``kill=True``) and start again on the same port,
        keeping the data directory."""
        if kill:
            self.kill()
        else:
            self._terminate()
        self.start()

    def kill(self) -> None:
        """SIGKILL the process, keeping its files (for crash/restart tests)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.proc = None

    def four_letter(self, cmd: str | bytes, timeout: float = 5.0) -> str:
        return four_letter_word(self.host, self.port, cmd, timeout)

    # --- internals ---------------------------------------------------------------------

    def _zoo_cfg(self) -> dict[str, str]:
        assert self.data_dir is not None
        cfg = {
            "tickTime": str(self.tick_ms),
            "dataDir": str(self.data_dir),
            "clientPort": str(self.port),
            "clientPortAddress": self.host,
            "4lw.commands.whitelist": "*",
            "admin.enableServer": "false",
            "maxClientCnxns": "0",
        }
        cfg.update(self.config)
        return cfg

    def _properties(self) -> dict[str, str]:
        assert self.work_dir is not None
        props = {
            "zookeeper.DigestAuthenticationProvider.superDigest": SUPER_DIGEST,
            "zookeeper.extendedTypesEnabled": "true",
            "znode.container.checkIntervalMs": "1000",
            "zookeeper.admin.enableServer": "false",
            "zookeeper.jmx.log4j.disable": "true",
            "zookeeper.log.dir": str(self.work_dir),
            "log4j.configuration": f"file:{self.work_dir / 'log4j.properties'}",
        }
        props.update(self.system_properties)
        return props

    def _write_config(self) -> None:
        assert self.work_dir is not None
        cfg = "".join(f"{k}={v}\n" for k, v in self._zoo_cfg().items())
        (self.work_dir / "zoo.cfg").write_text(cfg)
        log4j = (
            "log4j.rootLogger=INFO, FILE\n"
            "log4j.appender.FILE=org.apache.log4j.FileAppender\n"
            f"log4j.appender.FILE.File={self.work_dir / 'zookeeper.log'}\n"
            "log4j.appender.FILE.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] %m%n\n"
        )
        (self.work_dir / "log4j.properties").write_text(log4j)

    def _command(self, java: str, classpath: str) -> list[str]:
        assert self.work_dir is not None
        props = [f"-D{k}={v}" for k, v in self._properties().items()]
        cfg = str(self.work_dir / "zoo.cfg")
        return [java, *self.jvm_flags, "-cp", classpath, *props, MAIN_CLASS, cfg]

    def _spawn(self, java: str, classpath: str) -> None:
        assert self.work_dir is not None
        with open(self.work_dir / "stdout.log", "ab") as out:
            self.proc = subprocess.Popen(
                self._command(java, classpath),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.work_dir,
                start_new_session=True,
            )
        _LIVE.add(self)

    def _wait_ready(self) -> tuple[bool, str]:
        deadline = time.monotonic() + self.startup_timeout
        error = "timed out waiting for ruok"
        while time.monotonic() < deadline:
            assert self.proc is not None
            code = self.proc.poll()
            if code is not None:
                return False, f"java exited with status {code}"
            try:
                # ruok says imok before the server serves; srvr tells the difference.
                if self.four_letter("ruok", timeout=1.0) == "imok" and self.four_letter(
                    "srvr", timeout=1.0
                ).startswith("Zookeeper version:"):
                    return True, ""
            except OSError as e:
                error = f"ruok failed: {e}"
            time.sleep(0.05)
        return False, error

    def _terminate(self) -> None:
        if self.proc is not None:
            stop_processes([self.proc], grace=15)
        self.proc = None

    def _save_log(self) -> None:
        """Copy the server's log (every start since the first) into the caller's data dir,
        which outlives `stop` (e.g. pytest's tmp_path), for a look after a failed test."""
        target = self._requested_data_dir
        if self.work_dir is None or target is None or not target.is_dir():
            return
        for name in ("zookeeper.log", "stdout.log"):
            src = self.work_dir / name
            if src.is_file() and src.stat().st_size:
                with contextlib.suppress(OSError):
                    shutil.copyfile(src, target / name)

    def _log_tail(self, lines: int = 30) -> str:
        if self.work_dir is None:
            return ""
        text = []
        for name in ("stdout.log", "zookeeper.log"):
            path = self.work_dir / name
            with contextlib.suppress(OSError):
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                text.append(f"--- {path} ---\n" + "\n".join(tail))
        return "\n".join(text)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"ZooKeeperServer({self.hosts}, {state}, data_dir={self.data_dir})"


__all__ = [
    "DEFAULT_JVM_FLAGS",
    "PRODUCTION_JVM_FLAGS",
    "SUPER_AUTH",
    "SUPER_DIGEST",
    "ZooKeeperServer",
    "ZooKeeperUnavailable",
    "build_classpath",
    "check_jar",
    "find_java",
    "four_letter_word",
    "free_port",
]
