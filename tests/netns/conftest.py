"""The multi-host bed (roost.testing.netns): three member namespaces and a client one.

The `bed` fixture builds it, moves the test's own thread into the client namespace "c" for
the whole test (so every client the test starts connects from there, and nothing it opens
can reach the test machine's own network), and tears everything down afterwards, also
when the test fails. Without root or iproute2 the tests skip, saying why. `shared_bed` is
the same for a module whose tests share one bed and ensemble (in order)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest
from kazoo.client import KazooClient

from roost.testing.netensemble import (
    CLIENT_HOST,
    CLIENT_PORT,
    BedRoostEnsemble,
    build_hosts,
    member_addr,
)
from roost.testing.netns import NetBed, unavailable
from roost.testing.procs import stop_processes

#: member i (1-based) is 10.231.0.1i on host "m<i>"; the clients are on 10.231.0.100
MEMBER_ADDRS = [member_addr(i) for i in range(3)]
ROOST = [sys.executable, "-m", "roost.cli"]


def hosts(ids: Iterable[int]) -> str:
    """The client connect string of the members with ids `ids` (1-based)."""
    return ",".join(f"{member_addr(i - 1)}:{CLIENT_PORT}" for i in ids)


def skip_without_namespaces() -> None:
    why = unavailable()
    if why is not None:
        pytest.skip(f"no network namespaces here: {why}")


@pytest.fixture
def bed() -> Iterator[NetBed]:
    skip_without_namespaces()
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


@dataclass
class SharedBed:
    """A bed and an ensemble shared by the tests of a module, the members those tests
    started themselves (id -> process; ids 4 and up) and the znodes they were told they
    created."""

    bed: NetBed
    ens: BedRoostEnsemble
    work: Path
    extra: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    acked: set[str] = field(default_factory=set)

    def start_joiner(self, sid: int, listed: Iterable[int],
                     data_dir: Path | None = None) -> None:
        """Member `sid` on its own host, joining the ensemble of the members `listed`."""
        self.extra[sid] = self.ens.start_joiner(sid - 1, [i - 1 for i in listed], data_dir)

    def log(self, sid: int) -> str:
        return self.ens.log_tail(sid - 1)

    def present_on(self, sid: int) -> set[str]:
        """The znodes under /data on member `sid`, read through it alone after a sync."""
        zk = KazooClient(hosts=hosts([sid]))
        zk.start(timeout=30)
        try:
            zk.sync("/data")
            return {f"/data/{c}" for c in zk.get_children("/data")}
        finally:
            zk.stop()
            zk.close()


S = TypeVar("S", bound=SharedBed)


@contextlib.contextmanager
def shared_bed(work: Path, n_hosts: int, settings: str,
               make: Callable[[NetBed, BedRoostEnsemble, Path], S],
               http: bool = False) -> Iterator[S]:
    """`n_hosts` member hosts with an ensemble of three on the first three (`settings`:
    their [server] settings and any tables after them), the calling thread in the client
    host; `make` builds the module's state. Every member is stopped afterwards, each must
    exit cleanly."""
    skip_without_namespaces()
    with NetBed() as bed:
        build_hosts(bed, n_hosts)
        with bed.inside(CLIENT_HOST):
            ens = BedRoostEnsemble(bed, work / "ens", http=http, server_settings=settings).start()
            state = make(bed, ens, work)
            try:
                yield state
            finally:
                codes = ens.stop() + stop_processes(list(state.extra.values()))
                assert all(c in (0, None) for c in codes), (codes, ens.log_tail(0))
