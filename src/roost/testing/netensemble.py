"""roost and Apache ZooKeeper ensembles on a `NetBed`: each member in its own namespace.

    with NetBed() as bed:
        build_hosts(bed, 3, wan=True)            # hosts m1..m3, c, and w (the proxies)
        wan = Wan(bed, 3).start()
        with bed.inside("c"):
            ens = BedRoostEnsemble(bed, work_dir, wan=wan).start()
            wan.set(delay=0.005, loss=0.01)      # every link: 5 ms each way, 1% loss
            KazooClient(hosts=ens.hosts).start()

Member i runs on host ``m<i+1>`` (10.231.0.1<i+1>). Without a `Wan` the members advertise
those addresses. With one, they advertise 10.231.0.2<i+1>, addresses of the host ``w``
where a `roost.testing.proxy.TcpProxy` per member port (all in one process started in
``w``) forwards to the member: every
connection, between members and from clients, crosses exactly one proxy, whose delay and
loss are then the link's one-way figures. The members bind every address for that
(roost: ``[server] host = "*"`` and ``peer_bind_host``; ZooKeeper: ``quorumListenOnAllIPs``
and a client address of 0.0.0.0).

Both classes fit `roost.testing.ensemble.Ensemble` (the failover scenario). Their
four-letter and mode calls connect from the calling thread's namespace: call them inside
the client host (``bed.inside("c")``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from roost.testing.netns import NetBed
from roost.testing.proxy import TcpProxy
from roost.testing.server import four_letter, srvr_mode
from roost.testing.zkensemble import ZkMember, ZooKeeperEnsemble
from roost.testing.zookeeper import find_java

CLIENT_PORT = 2181
PEER_PORT = 2888
ELECTION_PORT = 3888
CLIENT_HOST = "c"
#: the peer secret of every `BedRoostEnsemble` member
PEER_SECRET = "bed-ensemble-secret"


def member_host(i: int) -> str:
    return f"m{i + 1}"


def member_addr(i: int) -> str:
    return f"10.231.0.1{i + 1}"


def proxy_addr(i: int) -> str:
    return f"10.231.0.2{i + 1}"


def build_hosts(bed: NetBed, n: int = 3, *, wan: bool = False) -> None:
    """Hosts m1..mN (members) and c (clients, 10.231.0.100); with `wan`, w (the proxies)."""
    if n > 9:
        raise ValueError("at most 9 members")
    for i in range(n):
        bed.add_host(member_host(i), member_addr(i))
    bed.add_host(CLIENT_HOST, "10.231.0.100")
    if wan:
        bed.add_host("w", *(proxy_addr(i) for i in range(n)))


@dataclass
class Wan:
    """One proxy per member port, on host ``w``, in a process of their own (so that they
    do not share a GIL with the load generator); see the module docstring."""

    bed: NetBed
    n: int
    ports: tuple[int, ...] = (CLIENT_PORT, PEER_PORT, ELECTION_PORT)
    proc: subprocess.Popen[str] | None = None

    def start(self) -> Self:
        argv = [sys.executable, "-m", "roost.testing.netensemble", str(self.n),
                *map(str, self.ports)]
        self.proc = subprocess.Popen(self.bed.command("w", argv), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=dict(os.environ))
        self._ask("ping")
        return self

    def _ask(self, line: str) -> str:
        proc = self.proc
        if proc is None or proc.stdin is None or proc.stdout is None:
            raise RuntimeError("the proxies are not running")
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
        answer = proc.stdout.readline().strip()
        if not answer.startswith("ok"):
            raise RuntimeError(f"proxies: {line!r} -> {answer or 'exited'}")
        return answer

    def set(self, delay: float = 0.0, loss: float = 0.0, seed: int = 1) -> None:
        """Every link `delay` seconds one way and `loss` of its segments lost."""
        self._ask(f"set {delay} {loss} {seed}")

    def lost(self) -> int:
        """Chunks held for a retransmission so far, over every proxy."""
        return int(self._ask("lost").split()[1])

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            if proc.stdin is not None:
                proc.stdin.close()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def serve_proxies(n: int, ports: list[int]) -> None:
    """The `Wan` process: proxies for n members, commands on stdin, one answer line each."""
    # a client port keeps listening while its server runs, and each four-letter word ends
    # its connection: no probe after each one
    proxies = [TcpProxy((member_addr(i), port), listen_port=port, listen_host=proxy_addr(i),
                        probe_on_close=port != CLIENT_PORT).start()
               for i in range(n) for port in ports]
    try:
        for line in sys.stdin:
            cmd, *args = line.split()
            if cmd == "set":
                delay, loss, seed = float(args[0]), float(args[1]), int(args[2])
                for k, p in enumerate(proxies):
                    p.heal()
                    if delay:
                        p.delay(delay)
                    if loss:
                        p.loss(loss, seed=seed * 1000 + k)
                print("ok", flush=True)
            elif cmd == "lost":
                print("ok", sum(p.lost_chunks for p in proxies), flush=True)
            else:
                print("ok" if cmd == "ping" else f"unknown command {cmd}", flush=True)
    finally:
        for p in proxies:
            p.stop()


class BedRoostEnsemble:
    """`n` roost members, one per host m1..mN, each `roost serve` in its namespace."""

    def __init__(self, bed: NetBed, work_dir: Path, n: int = 3, *, wan: Wan | None = None,
                 server_settings: str = "", startup_timeout: float = 60.0,
                 http: bool = False) -> None:
        self.bed = bed
        self.work_dir = work_dir
        self.n = n
        self.wan = wan
        self.server_settings = server_settings
        self.startup_timeout = startup_timeout
        #: serve the HTTP API (on each member's address, port 8500 unless set in an
        #: [http] table at the end of `server_settings`)
        self.http = http
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * n

    # -- addresses ---------------------------------------------------------------------------
    def advertised(self, i: int) -> str:
        return proxy_addr(i) if self.wan is not None else member_addr(i)

    def hosts_of(self, i: int) -> str:
        return f"{self.advertised(i)}:{CLIENT_PORT}"

    @property
    def hosts(self) -> str:
        return ",".join(self.hosts_of(i) for i in range(self.n))

    def __len__(self) -> int:
        return self.n

    def config(self, i: int) -> Path:
        return self.work_dir / f"member{i + 1}.toml"

    def log_path(self, i: int) -> Path:
        return self.work_dir / f"member{i + 1}.log"

    def write_config(self, i: int, listed: Iterable[int], data_dir: Path | None = None,
                     join: bool = False) -> Path:
        """Member i's config file (`config(i)`): the ensemble's settings, the members with
        the indexes `listed`, its data in `data_dir` (default: work_dir/data<i+1>)."""
        members = "".join(
            f'\n[[members]]\nid = {j + 1}\nhost = "{self.advertised(j)}"\n'
            f"client_port = {CLIENT_PORT}\npeer_port = {PEER_PORT}\n" for j in sorted(listed))
        bind = 'host = "*"\npeer_bind_host = "0.0.0.0"\n' if self.wan is not None else ""
        data_dir = data_dir or self.work_dir / f"data{i + 1}"
        self.config(i).write_text(
            f'[server]\nserver_id = {i + 1}\ndata_dir = "{data_dir}"\n'
            + ("join = true\n" if join else "") +
            f'peer_secret = "{PEER_SECRET}"\n{bind}{self.server_settings}\n' + members)
        return self.config(i)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Self:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        for i in range(self.n):
            self.write_config(i, range(self.n))
        try:
            for i in range(self.n):
                self.start_member(i, wait=False)
            self.leader(self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def start_member(self, i: int, wait: bool = True) -> None:
        if self.procs[i] is not None and self.procs[i].poll() is None:  # type: ignore[union-attr]
            return
        with open(self.log_path(i), "ab") as out:
            self.procs[i] = self.bed.popen(
                member_host(i), [sys.executable, "-m", "roost.cli", "serve",
                                 *([] if self.http else ["--no-http"]),
                                 "--config", str(self.config(i))],
                stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))
        if wait:
            deadline = time.monotonic() + self.startup_timeout
            while self.mode(i) is None:
                proc = self.procs[i]
                if proc is None or proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"member {i + 1} did not serve:\n{self.log_tail(i)}")
                time.sleep(0.05)

    def start_joiner(self, i: int, listed: Iterable[int], data_dir: Path | None = None,
                     timeout: float = 60.0) -> subprocess.Popen[bytes]:
        """A member that is not one of the `n` (index i >= n) started on host m<i+1> to
        join the ensemble (``join = true``), listing the members with the indexes `listed`;
        returned once it answers (its log: `log_tail(i)`). The caller stops it."""
        cfg = self.write_config(i, {*listed, i}, data_dir, join=True)
        with open(self.log_path(i), "ab") as out:
            proc = self.bed.popen(
                member_host(i), [sys.executable, "-m", "roost.cli", "serve", "--no-http",
                                 "--config", str(cfg)],
                stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))
        deadline = time.monotonic() + timeout
        while srvr_mode(self.advertised(i), CLIENT_PORT) == "down":
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"member {i + 1} did not answer:\n{self.log_tail(i)}")
            time.sleep(0.05)
        return proc

    def stop_member(self, i: int) -> int | None:
        """SIGTERM member i and wait (SIGKILL after 30 s); its exit code."""
        proc, self.procs[i] = self.procs[i], None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def kill(self, i: int) -> None:
        proc, self.procs[i] = self.procs[i], None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(30)

    def stop(self) -> list[int | None]:
        return [self.stop_member(i) for i in range(self.n)]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- state -------------------------------------------------------------------------------
    @property
    def running(self) -> list[bool]:
        return [p is not None and p.poll() is None for p in self.procs]

    def four_letter(self, i: int, cmd: str, timeout: float = 1.0) -> str:
        return four_letter(self.advertised(i), CLIENT_PORT, cmd, timeout)

    def mode(self, i: int) -> str | None:
        if not self.running[i]:
            return None
        try:
            out = self.four_letter(i, "srvr", 0.5)
        except OSError:
            return None
        for line in out.splitlines():
            if line.startswith("Mode: "):
                return line.removeprefix("Mode: ").strip()
        return None

    def leader(self, timeout: float = 30.0, exclude: tuple[int, ...] = ()) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i in range(self.n):
                if i not in exclude and self.mode(i) == "leader":
                    return i
            time.sleep(0.05)
        raise TimeoutError("no roost leader elected")

    def log_tail(self, i: int, chars: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path(i).read_text(errors="replace")[-chars:]
        return ""


class BedZooKeeperEnsemble(ZooKeeperEnsemble):
    """Apache ZooKeeper 3.8 members on hosts m1..mN (QuorumPeerMain under
    ``ip netns exec``), with the production settings of `ZooKeeperEnsemble`."""

    def __init__(self, bed: NetBed, n: int = 3, *, wan: Wan | None = None,
                 **kwargs: object) -> None:
        super().__init__(n, **kwargs)  # type: ignore[arg-type]
        self.bed = bed
        self.wan = wan

    def start(self) -> None:
        java = find_java(self._java)
        import tempfile
        if self._keep_dir is not None:
            self._keep_dir.mkdir(parents=True, exist_ok=True)
            self.base_dir = Path(tempfile.mkdtemp(prefix="zkbed-", dir=self._keep_dir))
        else:
            self.base_dir = Path(tempfile.mkdtemp(prefix="roost-zkbed-"))
        self.members = [
            ZkMember(i + 1, CLIENT_PORT, PEER_PORT, ELECTION_PORT, self.base_dir / f"zk{i + 1}",
                     host=proxy_addr(i) if self.wan is not None else member_addr(i))
            for i in range(self.n)]
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

    def _write_config(self, m: ZkMember) -> None:
        super()._write_config(m)
        if self.wan is None:
            return
        # listen on every address; advertise the proxies'
        cfg = m.work_dir / "zoo.cfg"
        lines = [line.split(";")[0] + f";0.0.0.0:{CLIENT_PORT}" if line.startswith("server.")
                 else line for line in cfg.read_text().splitlines()]
        cfg.write_text("\n".join([*lines, "quorumListenOnAllIPs=true"]) + "\n")

    def _command(self, m: ZkMember, java: str) -> list[str]:
        return self.bed.command(member_host(m.id - 1), super()._command(m, java))


if __name__ == "__main__":
    serve_proxies(int(sys.argv[1]), [int(a) for a in sys.argv[2:]])

__all__ = ["BedRoostEnsemble", "BedZooKeeperEnsemble", "Wan", "build_hosts", "member_addr",
           "member_host", "proxy_addr"]
