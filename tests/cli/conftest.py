"""Fixtures for the command-line tests: one roost server per module, and `run_cli`, which
runs `roost ARGS...` in this process (through click's test isolation) the way the `roost`
entry point does, exit code and error reporting included."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from roost.cli import run
from roost.testing.server import RoostServer


@dataclass
class Outcome:
    code: int
    stdout: bytes
    stderr: bytes

    @property
    def out(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    @property
    def err(self) -> str:
        return self.stderr.decode("utf-8", "replace")


def run_cli(*args: str, stdin: bytes | str | None = None,
            env: dict[str, str | None] | None = None) -> Outcome:
    runner = CliRunner()
    with runner.isolation(input=stdin, env=env) as (out, err, _):
        code = run(list(args))
    return Outcome(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def server() -> Iterator[RoostServer]:
    with RoostServer(tick_ms=2000, ttl_enabled=True) as srv:
        yield srv


@pytest.fixture
def hosts(server: RoostServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """The server's host:port, also in $ROOST_SERVER for commands run without --server."""
    monkeypatch.setenv("ROOST_SERVER", server.hosts)
    return server.hosts
