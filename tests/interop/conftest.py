"""Fixtures for the interop suite: unmodified official ZooKeeper clients against roost.

Every test runs against roost AND Apache ZooKeeper: `backend` and the kazoo `admin` client
are the compat suite's package-scoped fixtures (parametrized over ``roost`` and ``zookeeper`` with
identical settings), re-exported here, so test ids carry the backend name.

The clients:

* the **Java client** from Debian's ``zookeeper`` package. The programs in ``java/`` are
  compiled once per session into pytest's temp dir (`java_client`), and one JVM per backend
  runs every scenario that needs no outside help (`java_transcripts`);
* the **C client**'s shell ``cli_mt`` from Debian's ``zookeeper-bin`` package (`cli_mt`).

A missing ``javac``, ``java``, jar or ``cli_mt`` fails the tests with the package to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from compat.conftest import BACKENDS, Backend, admin, start_backend, stop_backend


@pytest.fixture(scope="package", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    """roost (standalone) and Apache ZooKeeper: the Java and C clients' peers."""
    b = start_backend(request.param, tmp_path_factory.mktemp(f"{request.param}-interop"))
    try:
        yield b
    finally:
        stop_backend(b)

__all__ = ["JAVA_BASE", "Backend", "JavaClient", "Transcripts", "admin", "backend"]

JAVA_DIR = Path(__file__).parent / "java"
SHARE_JAVA = Path("/usr/share/java")
#: What zkCli.sh puts on its classpath (zookeeper.jar, whose manifest names the rest),
#: made explicit, plus slf4j's simple binding so client warnings go to stderr.
JARS = tuple(
    SHARE_JAVA / name
    for name in ("zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-simple.jar")
)
JVM_FLAGS = (
    "-Xmx128m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
)
CLI_MT = Path("/usr/lib/zookeeper/bin/cli_mt")
#: Where the Java scenarios put their nodes (each scenario under JAVA_BASE/<scenario>).
JAVA_BASE = "/interop-java"
#: Scenarios of RoostInterop that run in the one shared JVM per backend.
BULK_SCENARIOS = (
    "crud",
    "seq_eph",
    "watches",
    "multi",
    "chroot",
    "watch_acl",
    "addwatch",
    "removewatches",
    "ttl_container",
    "ephemerals",
    "whoami",
    "auth_acl",
    "sync",
    "system",
    "sessions",
    "limits",
)


def require_program(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} was not found on PATH: install {package}", pytrace=False)
    return found


@dataclass(frozen=True)
class JavaClient:
    """How to run the compiled RoostInterop program."""

    java: str
    classpath: str

    def command(self, hosts: str, base: str, scenarios: Sequence[str]) -> list[str]:
        return [
            self.java,
            *JVM_FLAGS,
            "-cp",
            self.classpath,
            "RoostInterop",
            hosts,
            base,
            *scenarios,
        ]


@pytest.fixture(scope="session")
def java_client(tmp_path_factory: pytest.TempPathFactory) -> JavaClient:
    """Compile java/*.java against Debian's ZooKeeper jars (once per session)."""
    jdk = "a JDK (Debian: apt-get install -y openjdk-17-jdk-headless)"
    javac = require_program("javac", jdk)
    java = require_program("java", jdk)
    missing = [str(jar) for jar in JARS if not jar.is_file()]
    if missing:
        pytest.fail(
            f"missing {', '.join(missing)}: install Debian's zookeeper package "
            "(apt-get install -y zookeeper)",
            pytrace=False,
        )
    classes = tmp_path_factory.mktemp("java-classes")
    jars = os.pathsep.join(str(jar) for jar in JARS)
    sources = sorted(str(p) for p in JAVA_DIR.glob("*.java"))
    proc = subprocess.run(
        [javac, "-encoding", "UTF-8", "-d", str(classes), "-cp", jars, *sources],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"javac failed:\n{proc.stdout}\n{proc.stderr}", pytrace=False)
    return JavaClient(java, os.pathsep.join([jars, str(classes)]))


@dataclass
class Transcripts:
    """The lines each scenario printed, from one RoostInterop run."""

    returncode: int
    stderr: str
    sections: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, stdout: str, stderr: str, returncode: int) -> Transcripts:
        result = cls(returncode, stderr)
        current: list[str] | None = None
        for line in stdout.splitlines():
            if line.startswith("### end "):
                current = None
            elif line.startswith("### "):
                current = result.sections.setdefault(line[4:], [])
            elif current is not None:
                current.append(line)
        return result

    def __getitem__(self, scenario: str) -> list[str]:
        lines = self.sections.get(scenario)
        context = f"exit status {self.returncode}; client stderr:\n{self.stderr[-6000:]}"
        assert lines is not None, f"scenario {scenario!r} did not run ({context})"
        failed = [line for line in lines if line.startswith("FAILED ")]
        assert not failed, f"scenario {scenario!r}: {failed} ({context})"
        return lines


@pytest.fixture(scope="package")
def java_transcripts(backend: Backend, java_client: JavaClient) -> Transcripts:
    """One JVM per backend running every BULK_SCENARIOS scenario against it."""
    proc = subprocess.run(
        java_client.command(backend.hosts, JAVA_BASE, BULK_SCENARIOS),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    return Transcripts.parse(proc.stdout, proc.stderr, proc.returncode)


@pytest.fixture(scope="session")
def cli_mt() -> Path:
    """The C client's shell."""
    if not CLI_MT.is_file():
        pytest.fail(
            f"{CLI_MT} is missing: install Debian's zookeeper-bin package "
            "(apt-get install -y zookeeper-bin)",
            pytrace=False,
        )
    return CLI_MT
