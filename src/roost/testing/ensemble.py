"""A local roost ensemble for tests and development: N members on loopback.

    with RoostEnsemble(3) as ens:
        client = KazooClient(hosts=ens.hosts)
        ens.kill(ens.leader())

Members run in background threads (fast) or as subprocesses (`subprocess=True`,
needed to SIGKILL or SIGSTOP one).

With `proxied=True` every directed peer link i -> j goes through its own
`TcpProxy`: member i is told that member j's peer port is the proxy's port. Then
`isolate(i)` cuts every link to and from member i, `partition([0], [1, 2])` cuts the
links between groups, and `heal()` restores them all. Client ports are never proxied.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol

from roost.replica.member import Member
from roost.testing.ports import free_port
from roost.testing.proxy import TcpProxy
from roost.testing.server import RoostServer, four_letter
from roost.testing.zookeeper import mode_of

#: how isolate()/partition() break a link: reset connections ("cut") or drop bytes silently
Fault = Literal["cut", "blackhole"]


class RoostEnsemble:
    def __init__(self, voters: int = 3, observers: int = 0, *, base_dir: str | Path | None = None,
                 subprocess: bool = False, proxied: bool = False,
                 secret: str = "roost-test-secret", start_timeout: float = 30.0,
                 http: bool = False, **overrides: Any) -> None:
        self._own_dir = base_dir is None
        self.base_dir = Path(base_dir) if base_dir else Path(tempfile.mkdtemp(prefix="roost-ens-"))
        self.base_dir.mkdir(parents=True, exist_ok=True)
        n = voters + observers
        self._shape = (voters, observers, subprocess, proxied, secret, start_timeout, http,
                       overrides)
        self._allocate()
        self.running = [False] * n
        self.paused: set[int] = set()
        self._broken: set[TcpProxy] = set()

    def _allocate(self) -> None:
        """Pick free ports for every member (and proxy) and build the member servers."""
        voters, observers, subprocess, proxied, secret, start_timeout, http, overrides = (
            self._shape)
        n = voters + observers
        self.members = [
            Member(i + 1, "127.0.0.1", free_port(), free_port(),
                   "voter" if i < voters else "observer")
            for i in range(n)
        ]
        #: (i, j) -> the proxy that carries member i's outbound link to member j
        self.proxies: dict[tuple[int, int], TcpProxy] = {}
        if proxied:
            for i in range(n):
                for j in range(n):
                    if i != j:
                        target = ("127.0.0.1", self.members[j].peer_port)
                        self.proxies[(i, j)] = TcpProxy(target, listen_port=free_port())
        #: with http=True: member i's HTTP API port (roost.http), else empty
        self.http_ports = [free_port() for _ in range(n)] if http else []
        per_member: list[dict[str, Any]] = [
            {"http_port": self.http_ports[i]} if http else {} for i in range(n)]
        self.servers = [
            RoostServer(data_dir=self.base_dir / f"member{m.id}", port=m.client_port,
                        subprocess=subprocess, start_timeout=start_timeout, server_id=m.id,
                        members=self.view(i), peer_secret=secret, **per_member[i], **overrides)
            for i, m in enumerate(self.members)
        ]

    def view(self, i: int) -> list[Member]:
        """Member i's members list: through the proxies when the ensemble is proxied."""
        out = []
        for j, m in enumerate(self.members):
            proxy = self.proxies.get((i, j))
            if proxy is not None:
                m = Member(m.id, m.host, m.client_port, proxy.port, m.role)
            out.append(m)
        return out

    @property
    def hosts(self) -> str:
        return ",".join(s.hosts for s in self.servers)

    def hosts_of(self, i: int) -> str:
        """Member i's client address, "127.0.0.1:PORT"."""
        return self.servers[i].hosts

    def __len__(self) -> int:
        return len(self.servers)

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> RoostEnsemble:
        """Start every member; returns once all of them follow one elected leader."""
        for attempt in range(3):
            for proxy in self.proxies.values():
                proxy.start()
            try:
                self._start_members()
                break
            except (OSError, RuntimeError) as e:
                # a port picked free was taken by someone else before a member bound it:
                # start again on new ports (the data dirs are still empty)
                if "address already in use" not in str(e) or attempt == 2:
                    raise
                self.stop()
                for proxy in self.proxies.values():
                    proxy.stop()
                shutil.rmtree(self.base_dir, ignore_errors=True)
                self.base_dir.mkdir(parents=True, exist_ok=True)
                self._allocate()
        self.wait_settled()
        return self

    def wait_settled(self, timeout: float = 30.0) -> int:
        """Wait until one member leads and every running member names it as its leader (a
        member without a leader refuses read-write clients); returns the leader's index."""
        deadline = time.monotonic() + timeout
        while True:
            leader = self.leader(timeout=max(deadline - time.monotonic(), 0.1))
            want = str(self.members[leader].id)
            if all(self._leader_seen_by(i) == want
                   for i in range(len(self.servers)) if self.running[i]):
                return leader
            if time.monotonic() > deadline:
                raise TimeoutError("the members do not agree on a leader")
            time.sleep(0.02)

    def _leader_seen_by(self, i: int) -> str | None:
        try:
            return self.mntr(i).get("raft_leader")
        except OSError:
            return None

    def _start_members(self) -> None:
        """Start every member: subprocesses side by side (all spawned, then each waited
        for), threads one after the other."""
        if not self.servers[0].use_subprocess:
            for i in range(len(self.servers)):
                self.start_member(i)
            return
        for i, srv in enumerate(self.servers):
            srv.spawn()
            self.running[i] = True  # stop() ends it, whether it comes up or not
        for srv in self.servers:
            srv.wait_spawned()

    def start_member(self, i: int) -> None:
        self.servers[i].start()
        self.running[i] = True

    def stop_member(self, i: int) -> None:
        if i in self.paused:  # a stopped process would not see SIGTERM
            self.resume(i)
        self.servers[i].stop()
        self.running[i] = False

    def wipe_member(self, i: int) -> None:
        """Stop member i (if running) and delete its whole data directory."""
        if self.running[i]:
            self.stop_member(i)
        shutil.rmtree(self.servers[i].data_dir, ignore_errors=True)

    def kill(self, i: int) -> None:
        self.servers[i].kill()
        self.paused.discard(i)
        self.running[i] = False

    def pid(self, i: int) -> int:
        proc = self.servers[i].process
        assert proc is not None, "a pid needs subprocess=True and a running member"
        return proc.pid

    def pause(self, i: int) -> None:
        os.kill(self.pid(i), signal.SIGSTOP)
        self.paused.add(i)

    def resume(self, i: int) -> None:
        os.kill(self.pid(i), signal.SIGCONT)
        self.paused.discard(i)

    def log_text(self, i: int) -> str:
        """Member i's log so far (subprocess members only)."""
        path = getattr(self.servers[i], "log_path", None)
        if path is None:
            return ""
        with contextlib.suppress(OSError):
            return Path(path).read_text(errors="replace")
        return ""

    # --- faults --------------------------------------------------------------------------
    def _links(self, a: Iterable[int], b: Iterable[int]) -> list[TcpProxy]:
        if not self.proxies:
            raise RuntimeError("link faults need RoostEnsemble(proxied=True)")
        bs = list(b)
        return [self.proxies[(i, j)] for i in a for j in bs if i != j]

    def _break(self, proxies: list[TcpProxy], how: Fault) -> None:
        self.verify_links()
        for p in proxies:
            if how == "cut":
                p.cut()
            else:
                p.blackhole("both")
            self._broken.add(p)

    def verify_links(self, timeout: float = 5.0) -> None:
        """Check that every intact link between running members really goes through its
        proxy (a member that dials a peer directly would make link faults a silent no-op)."""
        deadline = time.monotonic() + timeout
        while True:
            bypassed = [(i, j) for (i, j), p in self.proxies.items()
                        if self.running[i] and self.running[j] and p not in self._broken
                        and p.connections == 0]
            if not bypassed:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"peer links {bypassed} (member index -> member index) carry no connection "
                    "through their proxies: those members dial their peers some other way")
            time.sleep(0.02)

    def isolate(self, i: int, how: Fault = "cut") -> None:
        """Break every peer link to and from member i (its client port stays reachable)."""
        others = [j for j in range(len(self.servers)) if j != i]
        self._break(self._links([i], others) + self._links(others, [i]), how)

    def partition(self, *groups: Iterable[int], how: Fault = "cut") -> None:
        """Break every peer link between members of different groups."""
        gs = [list(g) for g in groups]
        links: list[TcpProxy] = []
        for x, ga in enumerate(gs):
            for gb in gs[x + 1:]:
                links += self._links(ga, gb) + self._links(gb, ga)
        self._break(links, how)

    def heal(self) -> None:
        """Restore every peer link."""
        for p in self.proxies.values():
            p.heal()
        self._broken.clear()

    # --- state -----------------------------------------------------------------------------
    def four_letter(self, i: int, cmd: str, timeout: float = 1.0) -> str:
        s = self.servers[i]
        return four_letter(s.host, s.port, cmd, timeout=timeout)

    def mntr(self, i: int) -> dict[str, str]:
        """Member i's `mntr` figures (without the zk_ prefix)."""
        out = {}
        for line in self.four_letter(i, "mntr").splitlines():
            key, _, value = line.partition("\t")
            out[key.removeprefix("zk_")] = value
        return out

    def mode(self, i: int) -> str | None:
        """The member's `Mode:` from srvr, or None if it does not answer."""
        try:
            out = self.four_letter(i, "srvr")
        except OSError:
            return None
        return mode_of(out)

    def leader(self, timeout: float = 20.0, exclude: tuple[int, ...] = ()) -> int:
        """Index of the member that says it leads (waits for one)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i in range(len(self.servers)):
                if self.running[i] and i not in exclude and self.mode(i) == "leader":
                    return i
            time.sleep(0.02)
        raise TimeoutError("no leader elected")

    def followers(self) -> list[int]:
        """Indexes of the running voters that say they follow."""
        return [i for i in range(len(self.servers))
                if self.running[i] and self.mode(i) == "follower"]

    def stop(self) -> None:
        for i in range(len(self.servers)):
            if self.running[i]:
                self.stop_member(i)
        for p in self.proxies.values():
            p.stop()

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


# --- the failover scenario (shared by the ensemble tests and benchmarks/compare_ensemble.py) ---


class Ensemble(Protocol):
    """What the failover scenario needs: RoostEnsemble and ZooKeeperEnsemble both fit."""

    def leader(self, timeout: float = ..., exclude: tuple[int, ...] = ...) -> int: ...
    def mode(self, i: int) -> str | None: ...
    def kill(self, i: int) -> None: ...
    def hosts_of(self, i: int) -> str: ...
    def four_letter(self, i: int, cmd: str, timeout: float = ...) -> str: ...
    def __len__(self) -> int: ...
    @property
    def running(self) -> list[bool]: ...


def last_zxid(ens: Ensemble, i: int) -> int | None:
    """Member i's last applied zxid from srvr, or None if it does not answer."""
    try:
        out = ens.four_letter(i, "srvr")
    except OSError:
        return None
    for line in out.splitlines():
        if line.startswith("Zxid: "):
            return int(line[6:], 16)
    return None


def wait_caught_up(ens: Ensemble, timeout: float = 120.0) -> int:
    """With no writes going on: wait until every running member reports the same last zxid
    (a restarted member has caught up); returns it."""
    deadline = time.monotonic() + timeout
    while True:
        zxids = {last_zxid(ens, i) for i in range(len(ens)) if ens.running[i]}
        if len(zxids) == 1 and None not in zxids:
            return zxids.pop() or 0
        if time.monotonic() > deadline:
            raise TimeoutError(f"members still at different zxids: {zxids}")
        time.sleep(0.05)


@dataclass
class FailoverRun:
    """What one failover run saw. Times are time.monotonic() values."""

    leader: int
    follower: int
    kill_at: float = 0.0
    #: node names whose create was acknowledged, in order, and when each ack arrived
    acked: list[str] = field(default_factory=list)
    ack_times: list[float] = field(default_factory=list)
    #: creates that failed or timed out (outcome unknown), with the error's class name
    failed: list[tuple[str, str]] = field(default_factory=list)
    #: kazoo connection states seen by the writing client, in order
    states: list[str] = field(default_factory=list)
    session_before: int = 0
    session_after: int = 0
    ephemeral: str = ""
    new_leader: int = -1
    #: seconds from the SIGKILL until srvr named a new leader (polled, so approximate)
    election_seconds: float = 0.0
    #: read back after the run (before the writer closed) through member `checked_on`:
    #: the children of the root, and the session that owns the ephemeral (0: gone)
    checked_on: int = -1
    present: set[str] = field(default_factory=set)
    ephemeral_owner: int = 0

    @property
    def max_gap(self) -> float:
        """The longest pause between two consecutive acknowledged writes (seconds)."""
        t = self.ack_times
        return max((b - a for a, b in itertools.pairwise(t)), default=0.0)

    @property
    def acked_after_kill(self) -> int:
        return sum(1 for t in self.ack_times if t > self.kill_at)


def run_failover(ens: Ensemble, *, root: str = "/failover", before_kill: float = 1.0,
                 after_kill: float = 4.0, max_ops: int = 50_000, op_timeout: float = 15.0,
                 session_timeout: float = 10.0) -> FailoverRun:
    """A kazoo client connected to one follower only writes back to back (creates
    root/n000000, n000001, ...) and keeps an ephemeral node; after `before_kill` seconds
    the leader gets SIGKILL; writing stops `after_kill` seconds later (or after `max_ops`
    creates). Then, while the writer's session still lives, a second client on the third
    member syncs and reads back the children and the ephemeral's owner (`run.present`,
    `run.ephemeral_owner`); judging them against `run.acked` is up to the caller. The
    writer is closed cleanly at the end."""
    from kazoo.client import KazooClient

    leader = ens.leader()
    follower = next(i for i in range(len(ens)) if i != leader and ens.mode(i) == "follower")
    run = FailoverRun(leader, follower)
    client = KazooClient(hosts=ens.hosts_of(follower), timeout=session_timeout)

    def listener(state: Any) -> None:
        run.states.append(str(state))

    client.add_listener(listener)
    client.start(timeout=30)
    try:
        run.session_before = client.client_id[0]
        client.ensure_path(root)
        run.ephemeral = client.create(f"{root}/eph-", b"", ephemeral=True, sequence=True)
        _write_through_failover(ens, client, run, root, before_kill, after_kill, max_ops,
                                op_timeout)
        run.session_after = client.client_id[0] if client.client_id else 0
        client.remove_listener(listener)  # closing the client below is not a failure
        _read_back(ens, run, root, session_timeout)  # while the writer's session lives
    finally:
        client.stop()
        client.close()
    return run


def _read_back(ens: Ensemble, run: FailoverRun, root: str, session_timeout: float) -> None:
    """Through the member that neither led nor served the writer: sync, then read what is
    under `root` and who owns the ephemeral."""
    from kazoo.client import KazooClient

    other = next(i for i in range(len(ens)) if i not in (run.leader, run.follower))
    run.checked_on = other
    reader = KazooClient(hosts=ens.hosts_of(other), timeout=session_timeout)
    reader.start(timeout=30)
    try:
        reader.sync(root)
        run.present = set(reader.get_children(root))
        stat = reader.exists(run.ephemeral)
        run.ephemeral_owner = stat.ephemeralOwner if stat is not None else 0
    finally:
        reader.stop()
        reader.close()


def _write_through_failover(ens: Ensemble, client: Any, run: FailoverRun, root: str,
                            before_kill: float, after_kill: float, max_ops: int,
                            op_timeout: float) -> None:
    start = time.monotonic()
    stop_at = start + before_kill + after_kill
    for n in range(max_ops):
        now = time.monotonic()
        if not run.kill_at and now >= start + before_kill:
            ens.kill(run.leader)
            run.kill_at = time.monotonic()
            _watch_election(ens, run)
        elif now >= stop_at:
            break
        name = f"n{n:06d}"
        try:
            client.create_async(f"{root}/{name}", b"").get(timeout=op_timeout)
        except Exception as e:  # outcome unknown: recorded, and the run goes on
            run.failed.append((name, type(e).__name__))
            continue
        run.acked.append(name)
        run.ack_times.append(time.monotonic())


def _watch_election(ens: Ensemble, run: FailoverRun) -> None:
    """Note the new leader in a background thread, so the writer is never held up."""
    import threading

    def watch() -> None:
        with contextlib.suppress(TimeoutError):
            run.new_leader = ens.leader(timeout=30.0, exclude=(run.leader,))
            run.election_seconds = time.monotonic() - run.kill_at

    threading.Thread(target=watch, name="failover-watch", daemon=True).start()
