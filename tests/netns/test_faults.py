"""Faults across hosts: a member's link cut and healed, a rolling restart under load. Every
acknowledged write must be on every member afterwards; in the rolling restart every session
must survive with its id."""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from kazoo.client import KazooClient, KazooState
from kazoo.handlers.threading import KazooTimeoutError

from roost.testing.netensemble import BedRoostEnsemble, member_host
from roost.testing.netns import NetBed
from roost.testing.wait import wait_until

from .conftest import cli


def present_on_each(ens: BedRoostEnsemble, root: str) -> list[set[str]]:
    """The children of `root` on each member, read after a sync through that member alone."""
    out = []
    for i in range(len(ens)):
        zk = KazooClient(hosts=ens.hosts_of(i))
        zk.start(timeout=30)
        try:
            zk.sync(root)
            out.append(set(zk.get_children(root)))
        finally:
            zk.stop()
            zk.close()
    return out


def whole(ens: BedRoostEnsemble) -> None:
    """`roost cluster status --wait` from the client host: every member answers, one leads."""
    res = cli(ens.bed, "cluster", "status", "--wait", "60", ens.hosts)
    assert res.returncode == 0, res.stdout + res.stderr


@dataclass
class Writer:
    """A kazoo client creating root/<name>-NNNNNN back to back (paced) until `finish()`,
    bounded in time (`seconds`: as long as the test may wait for writes, so that it writes
    until the test is done) and in count (`max_ops`, by default as many as the pace allows
    in that time); `acked` are the creates that returned. A writer that ran out of either
    says so in `stopped` (see `wait_acked`)."""

    name: str
    hosts: str
    root: str
    seconds: float
    pace: float = 0.005
    max_ops: int = 0
    acked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    session: int = 0
    #: why the writer stopped by itself (a bound ran out), "" while it runs
    stopped: str = ""

    def __post_init__(self) -> None:
        if self.max_ops <= 0:
            self.max_ops = math.ceil(self.seconds / self.pace)
        self.client = KazooClient(hosts=self.hosts, randomize_hosts=False, timeout=10.0)
        self.client.add_listener(self._listen)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, name=f"writer-{self.name}", daemon=True)

    def _listen(self, state: KazooState) -> None:
        self.states.append(str(state))

    def start(self) -> None:
        self.client.start(timeout=30)
        assert self.client.client_id is not None
        self.session = self.client.client_id[0]
        self.client.ensure_path(self.root)
        self.thread.start()

    def run(self) -> None:
        deadline = time.monotonic() + self.seconds
        for n in range(self.max_ops):
            if self.done.is_set():
                return
            if time.monotonic() > deadline:
                self.stopped = f"its {self.seconds:g} s ran out"
                return
            node = f"{self.name}-{n:06d}"
            try:
                self.client.create_async(f"{self.root}/{node}", b"x").get(timeout=15)
            except Exception:  # outcome unknown
                self.failed.append(node)
            else:
                self.acked.append(node)
            self.done.wait(self.pace)
        self.stopped = f"its {self.max_ops} operations ran out"

    def finish(self) -> int:
        """Stop writing; the session id now (0 if none)."""
        self.done.set()
        self.thread.join(60)
        assert not self.thread.is_alive()
        cid = self.client.client_id
        session = cid[0] if cid else 0
        self.client.remove_listener(self._listen)  # closing below is LOST on purpose
        self.client.stop()
        self.client.close()
        return session


def wait_acked(writers: list[Writer], more: int, timeout: float, what: str) -> None:
    """Wait until each writer has `more` creates acknowledged beyond its count now; fail at
    once, saying why, if one has stopped."""
    targets = [len(w.acked) + more for w in writers]

    def done() -> bool:
        return all(len(w.acked) >= n or not w.thread.is_alive()
                   for w, n in zip(writers, targets, strict=True))

    wait_until(done, timeout, what=what)
    for w, n in zip(writers, targets, strict=True):
        assert len(w.acked) >= n, (
            f"writer {w.name} stopped before {what}: {w.stopped or 'it failed'} "
            f"({len(w.acked)} creates acknowledged, {len(w.failed)} unknown)")


def test_partition_by_downing_the_leaders_link_loses_no_acknowledged_write(
        bed: NetBed, tmp_path: Path) -> None:
    ens = BedRoostEnsemble(bed, tmp_path / "ens").start()
    try:
        old = ens.leader()
        # it writes until the end: the waits below take at most 245 s together
        w = Writer("p", ens.hosts, "/part", seconds=270, pace=0.002)
        w.start()
        wait_acked([w], 50, 30, what="writes before the partition")
        bed.link_down(member_host(old))
        new = ens.leader(timeout=30, exclude=(old,))
        assert new != old
        wait_acked([w], 100, 60, what="writes acknowledged by the majority side")
        assert ens.mode(old) is None  # out of reach from the clients
        with bed.inside(member_host(old)):  # a client on the cut-off host itself
            local = KazooClient(hosts=ens.hosts_of(old), timeout=10.0)
            try:
                with pytest.raises(KazooTimeoutError):  # no session without a quorum
                    local.start(timeout=3)
            finally:
                local.stop()
                local.close()
        bed.link_up(member_host(old))
        wait_until(lambda: ens.mode(old) == "follower", timeout=60,
                   what="the old leader back as a follower")
        wait_acked([w], 50, 60, what="writes after healing")
        w.finish()
        whole(ens)
        acked = set(w.acked)
        for i, present in enumerate(present_on_each(ens, "/part")):
            assert acked <= present, f"member {i + 1} lacks {sorted(acked - present)[:5]}"
    finally:
        codes = ens.stop()
    assert codes == [0, 0, 0], ens.log_tail(0)


def test_rolling_restart_under_load_keeps_every_session_and_write(
        bed: NetBed, tmp_path: Path) -> None:
    ens = BedRoostEnsemble(bed, tmp_path / "ens").start()
    rng = random.Random(16)
    try:
        hosts = [ens.hosts_of(i) for i in range(len(ens))]
        writers = []
        for k in range(3):  # writer k starts on member k, then tries the others in order
            order = hosts[k:] + hosts[:k]
            # they write as long as the test may run (its time-out is 300 s)
            writers.append(Writer(f"w{k}", ",".join(order), "/roll", seconds=290,
                                  pace=rng.uniform(0.01, 0.02)))
        for w in writers:
            w.start()
        wait_acked(writers, 20, 30, what="writes before")
        leader = ens.leader()
        for i in [*(j for j in range(len(ens)) if j != leader), leader]:  # the leader last
            assert ens.stop_member(i) == 0, ens.log_tail(i)
            ens.start_member(i)
            whole(ens)
            wait_acked(writers, 10, 60, what="every writer going on after the restart")
        sessions = [w.finish() for w in writers]
        assert sessions == [w.session for w in writers]
        for w in writers:
            assert str(KazooState.LOST) not in w.states, (w.name, w.states)
        acked = set().union(*(w.acked for w in writers))
        for i, present in enumerate(present_on_each(ens, "/roll")):
            assert acked <= present, f"member {i + 1} lacks {sorted(acked - present)[:5]}"
    finally:
        codes = ens.stop()
    assert codes == [0, 0, 0], ens.log_tail(0)
