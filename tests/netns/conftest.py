"""The multi-host bed (roost.testing.netns): three member namespaces and a client one.

The `bed` fixture builds it, moves the test's own thread into the client namespace "c" for
the whole test (so every client the test starts connects from there, and nothing it opens
can reach the test machine's own network), and tears everything down afterwards, also
when the test fails. Without root or iproute2 the tests skip, saying why."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from roost.testing.netensemble import CLIENT_HOST, build_hosts, member_addr
from roost.testing.netns import NetBed, unavailable

#: member i (1-based) is 10.231.0.1i on host "m<i>"; the clients are on 10.231.0.100
MEMBER_ADDRS = [member_addr(i) for i in range(3)]
ROOST = [sys.executable, "-m", "roost.cli"]


@pytest.fixture
def bed() -> Iterator[NetBed]:
    why = unavailable()
    if why is not None:
        pytest.skip(f"no network namespaces here: {why}")
    with NetBed() as b:
        build_hosts(b, 3)
        with b.inside(CLIENT_HOST):
            yield b


def serve_in(bed: NetBed, host: str, args: list[str], log: Path, cwd: Path,
             env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return bed.popen(host, [*ROOST, "serve", *args], stdout=out, stderr=subprocess.STDOUT,
                         cwd=cwd, env={**os.environ, **(env or {})})


def cli(bed: NetBed, *args: str, cwd: Path | None = None,
        timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """`roost ARGS` run on the client host."""
    return bed.run("c", [*ROOST, *args], timeout=timeout, cwd=cwd)
