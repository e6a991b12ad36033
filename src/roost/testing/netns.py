"""A multi-host test bed on one Linux machine: every "host" is a network namespace.

    with NetBed() as bed:
        for i in (1, 2, 3):
            bed.add_host(f"m{i}", f"10.231.0.{i}")
        bed.add_host("clients", "10.231.0.100")
        proc = bed.popen("m1", ["roost", "serve", ...])     # runs inside m1's namespace
        with bed.inside("clients"):                          # this thread joins "clients"
            KazooClient(hosts="10.231.0.1:2181").start()
        bed.link_down("m1")                                  # m1 is cut off the network

Layout: a private "hub" namespace holds a bridge; each host namespace gets a veth pair
whose outer end is a port of that bridge (in the hub, never in the caller's namespace) and
whose inner end, ``eth0``, carries the host's addresses (/24 in a private test range,
10.231.0.0/24 by default) with no default route. Nothing is created in the namespace of the
process that builds the bed, so no packet can leave the bed or reach a real network, and
two beds (two test runs at once) never see each other. Namespace names carry the creating
process's id; `close()` (also on an exception in the ``with`` block, and at exit) stops the
processes the bed started and deletes every namespace, which removes their links too; a
new bed also removes what a dead process left behind.

A partition downs a host's bridge port (`link_down`): its packets go nowhere, connections
stay open on both sides until their own timeouts, as when a cable is pulled. Delay and loss
come from `roost.testing.proxy.TcpProxy` started `inside` a namespace between the others
(the kernels this runs on have no netem qdisc).

Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and iproute2's ``ip``; `unavailable()` says why
a bed cannot be built here, for tests to skip with.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

PREFIX = "roostbed"
NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
_NAME = re.compile(r"^[a-z][a-z0-9]{0,9}$")

_lock = threading.Lock()
_serial = 0
_open_beds: list[NetBed] = []


class NetBedError(RuntimeError):
    """A namespace, link or address could not be set up."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise NetBedError(f"ip {' '.join(args)}: {proc.stderr.strip() or proc.returncode}")
    return proc


def unavailable() -> str | None:
    """Why a bed cannot be built on this machine (None when it can)."""
    if shutil.which("ip") is None:
        return "iproute2's 'ip' is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root (CAP_NET_ADMIN)"
    name = f"{PREFIX}-{os.getpid()}-probe"
    proc = _ip("netns", "add", name, check=False)
    if proc.returncode != 0:
        return f"cannot create a network namespace: {proc.stderr.strip()}"
    try:
        link = _ip("-n", name, "link", "add", "probe0", "type", "veth", "peer", "name", "probe1",
                   check=False)
        if link.returncode != 0:
            return f"cannot create a veth pair: {link.stderr.strip()}"
        bridge = _ip("-n", name, "link", "add", "probebr", "type", "bridge", check=False)
        if bridge.returncode != 0:
            return f"cannot create a bridge: {bridge.stderr.strip()}"
    finally:
        _ip("netns", "del", name, check=False)
    return None


def sweep_stale() -> list[str]:
    """Delete the namespaces of beds whose creating process no longer runs."""
    removed = []
    with contextlib.suppress(OSError):
        for path in NETNS_DIR.iterdir():
            parts = path.name.split("-")
            if len(parts) < 3 or parts[0] != PREFIX or not parts[1].isdigit():
                continue
            pid = int(parts[1])
            if pid == os.getpid() or Path(f"/proc/{pid}").exists():
                continue
            _kill_inside(path.name)
            if _ip("netns", "del", path.name, check=False).returncode == 0:
                removed.append(path.name)
    return removed


def _kill_inside(ns: str) -> None:
    proc = _ip("netns", "pids", ns, check=False)
    for pid in proc.stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


_libc: Any = None


def _setns(fd: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise NetBedError(f"setns: {os.strerror(err)}")


@dataclass
class Host:
    """One namespace on the bridge."""

    name: str
    ns: str
    addrs: list[str]
    port: str  # the bridge port (in the hub namespace)

    @property
    def addr(self) -> str:
        return self.addrs[0]


@dataclass
class NetBed:
    """Namespaces on a private bridge; see the module docstring."""

    prefix_len: int = 24
    hosts: dict[str, Host] = field(default_factory=dict)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        global _serial
        with _lock:
            _serial += 1
            serial = _serial
        self.tag = f"{PREFIX}-{os.getpid()}-{serial}"
        self.hub = f"{self.tag}-hub"
        self._open = False

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Self:
        why = unavailable()
        if why is not None:
            raise NetBedError(why)
        sweep_stale()
        self._open = True
        _open_beds.append(self)
        try:
            _ip("netns", "add", self.hub)
            _ip("-n", self.hub, "link", "set", "lo", "up")
            # no spanning tree and no forward delay: a port brought back up forwards at once
            _ip("-n", self.hub, "link", "add", "br0", "type", "bridge", "stp_state", "0",
                "forward_delay", "0")
            _ip("-n", self.hub, "link", "set", "br0", "up")
        except BaseException:
            self.close()
            raise
        return self

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop the bed's processes and delete all its namespaces (idempotent)."""
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(15)
        for ns in [h.ns for h in self.hosts.values()] + [self.hub]:
            if (NETNS_DIR / ns).exists():
                _kill_inside(ns)
                _ip("netns", "del", ns, check=False)
        self.hosts.clear()
        if self in _open_beds:
            _open_beds.remove(self)
        self._open = False

    # -- hosts -------------------------------------------------------------------------------
    def add_host(self, name: str, *addrs: str) -> Host:
        """A new namespace `name` with `addrs` on its eth0, plugged into the bridge."""
        if not self._open:
            raise NetBedError("the bed is not started")
        if not _NAME.match(name):
            raise ValueError(f"host name {name!r}: 1-10 lower-case letters and digits")
        if name in self.hosts:
            raise ValueError(f"host {name!r} exists")
        if not addrs:
            raise ValueError("a host needs an address")
        ns = f"{self.tag}-{name}"
        port = f"p{len(self.hosts)}"
        host = Host(name, ns, list(addrs), port)
        _ip("netns", "add", ns)
        self.hosts[name] = host
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", self.hub, "link", "add", port, "type", "veth", "peer", "name", "eth0",
            "netns", ns)
        _ip("-n", self.hub, "link", "set", port, "master", "br0")
        _ip("-n", self.hub, "link", "set", port, "up")
        for addr in addrs:
            _ip("-n", ns, "addr", "add", f"{addr}/{self.prefix_len}", "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")
        return host

    def host(self, name: str) -> Host:
        return self.hosts[name]

    def addr(self, name: str) -> str:
        return self.hosts[name].addr

    def routes(self, name: str) -> str:
        """`ip route` inside host `name` (for checking there is no way out)."""
        return _ip("-n", self.hosts[name].ns, "route", "show", "table", "all").stdout

    # -- faults ------------------------------------------------------------------------------
    def link_down(self, name: str) -> None:
        """Cut host `name` off the bridge (its processes keep running)."""
        _ip("-n", self.hub, "link", "set", self.hosts[name].port, "down")

    def link_up(self, name: str) -> None:
        _ip("-n", self.hub, "link", "set", self.hosts[name].port, "up")

    # -- running things ----------------------------------------------------------------------
    def command(self, name: str, argv: Sequence[str]) -> list[str]:
        """`argv` wrapped to run inside host `name`."""
        return ["ip", "netns", "exec", self.hosts[name].ns, *argv]

    def popen(self, name: str, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start `argv` inside host `name`; `close()` stops it if it still runs."""
        proc: subprocess.Popen[bytes] = subprocess.Popen(self.command(name, argv), **kwargs)
        self.procs.append(proc)
        return proc

    def run(self, name: str, argv: Sequence[str], timeout: float = 60,
            **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run `argv` inside host `name` to completion (text output captured)."""
        return subprocess.run(self.command(name, argv), capture_output=True, text=True,
                              timeout=timeout, **kwargs)

    @contextlib.contextmanager
    def inside(self, name: str) -> Iterator[None]:
        """Move the calling thread into host `name` for the block. Sockets opened and threads
        started meanwhile stay there (a client started inside keeps its connections there)."""
        with open("/proc/thread-self/ns/net", "rb") as home, \
                open(NETNS_DIR / self.hosts[name].ns, "rb") as target:
            _setns(target.fileno())
            try:
                yield
            finally:
                _setns(home.fileno())


def _close_all() -> None:
    for bed in list(_open_beds):
        with contextlib.suppress(Exception):
            bed.close()


atexit.register(_close_all)

__all__ = ["Host", "NetBed", "NetBedError", "sweep_stale", "unavailable"]
