"""One nemesis run: ensemble + clients + faults, then heal, recover and check everything."""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roost.testing.ensemble import RoostEnsemble
from roost.testing.history import History, Status
from roost.testing.linearizability import Verdict, ZnodeModel, check
from roost.testing.nemesis import checks
from roost.testing.nemesis.faults import Nemesis
from roost.testing.nemesis.lockcheck import LockRun, lock_worker
from roost.testing.nemesis.schedule import make_schedule
from roost.testing.nemesis.workload import Workload, read

log = logging.getLogger("roost.nemesis")

#: server settings for fault runs: short client sessions (min 1 s), fast raft timers
SERVER_DEFAULTS: dict[str, Any] = {"tick_ms": 500}


@dataclass
class VerifyConfig:
    members: int = 3
    seconds: float = 60.0
    seed: int = 1
    nemesis: tuple[str, ...] = ("kill", "pause", "partition")
    clients: int = 4
    keys: int = 5
    session_timeout: float = 3.0
    op_timeout: float = 5.0
    check_timeout: float = 120.0
    #: clients contending for a Lock and a LeaderLatch (alternating) with fencing tokens
    lock_clients: int = 4
    #: share of operations that are sync+get reads (the rest: writes and appends)
    read_fraction: float = 0.35
    #: the first `readers` clients do nothing but sync+get reads
    readers: int = 0
    #: pin every client to one member (default: even-numbered workers pinned, odd ones
    #: given every member's address)
    pin_all: bool = False
    #: explicit fault schedule instead of a seeded one
    schedule: list[Any] | None = None
    server: dict[str, Any] = field(default_factory=dict)
    #: keep the history (JSON lines) and the violation timeline here
    out_dir: Path | None = None


@dataclass
class VerifyResult:
    config: VerifyConfig
    ops: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    journal: list[str] = field(default_factory=list)
    verdict: str = "not checked"
    violation: str = ""
    lost_writes: list[str] = field(default_factory=list)
    divergent: list[str] = field(default_factory=list)
    ephemerals: list[str] = field(default_factory=list)
    harness_errors: list[str] = field(default_factory=list)
    acked_appends: int = 0
    #: lock/latch safety: grants seen, writes the fenced store accepted and refused, anomalies
    grants: int = 0
    fenced_writes: int = 0
    fenced_refused: int = 0
    #: tenures of different holders that overlapped as the holders saw them (not by itself
    #: an anomaly: it is one only if both holders' writes were accepted in the overlap)
    tenure_overlaps: int = 0
    overlap_notes: list[str] = field(default_factory=list)
    lock_anomalies: list[str] = field(default_factory=list)
    #: client sessions the ensemble expired during the run (their ephemerals must go)
    sessions_expired: int = 0
    final_zxid: int = 0
    seconds: float = 0.0

    @property
    def anomalies(self) -> int:
        """Everything that contradicts the guarantees (0 for a correct server)."""
        return ((self.verdict == Verdict.NOT_LINEARIZABLE.name)
                + len(self.lost_writes) + len(self.divergent) + len(self.ephemerals)
                + len(self.lock_anomalies))

    @property
    def ok(self) -> bool:
        return (self.anomalies == 0 and not self.harness_errors
                and self.verdict == Verdict.LINEARIZABLE.name)

    def summary(self) -> str:
        c = self.config
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())) or "none"
        lines = [
            f"members {c.members}, seed {c.seed}, {c.seconds:g} s of load, nemesis "
            f"{','.join(c.nemesis) or 'none'}, run took {self.seconds:.1f} s",
            f"operations: {sum(self.ops.values())} ({self.ops['ok']} ok, {self.ops['info']} "
            f"unknown outcome, {self.ops['fail']} failed) + {self.acked_appends} acked appends",
            f"faults injected: {sum(self.faults.values())} ({faults})",
            f"linearizability: {self.verdict}",
            f"lost acknowledged writes: {len(self.lost_writes)}",
            f"members diverging at zxid {self.final_zxid:#x}: {len(self.divergent)}",
            f"ephemeral/session anomalies: {len(self.ephemerals)} ({self.sessions_expired} "
            "sessions expired)",
            f"lock/latch: {self.grants} grants, {self.fenced_writes} fenced writes accepted, "
            f"{self.fenced_refused} refused, {self.tenure_overlaps} overlapping tenures, "
            f"{len(self.lock_anomalies)} anomalies",
            f"anomalies: {self.anomalies}",
        ]
        for title, items in (("violation", [self.violation] if self.violation else []),
                             ("lost", self.lost_writes), ("divergent", self.divergent),
                             ("ephemeral", self.ephemerals), ("lock", self.lock_anomalies),
                             ("overlapping tenure", self.overlap_notes),
                             ("harness error", self.harness_errors)):
            lines += [f"  {title}: {x}" for x in items[:10]]
        lines.append("VERDICT: " + ("PASS" if self.ok else "FAIL"))
        return "\n".join(lines)


def run(config: VerifyConfig) -> VerifyResult:
    """Run one nemesis test end to end (ensemble started and removed here)."""
    t0 = time.monotonic()
    result = VerifyResult(config)
    ens = _start_ensemble(config)
    try:
        _run_in(ens, config, result)
    finally:
        try:
            ens.stop()
        finally:
            ens.cleanup()
    result.seconds = time.monotonic() - t0
    return result


def _start_ensemble(config: VerifyConfig, attempts: int = 3) -> RoostEnsemble:
    """A started ensemble. Ports are picked free beforehand, so another process on the
    machine may take one first: then start again on new ports."""
    overrides = {**SERVER_DEFAULTS, **config.server}
    for attempt in range(attempts):
        ens = RoostEnsemble(config.members, subprocess=True, proxied=True, **overrides)
        try:
            return ens.start()
        except (OSError, RuntimeError) as e:
            ens.stop()
            ens.cleanup()
            in_use = getattr(e, "errno", None) == errno.EADDRINUSE or "in use" in str(e)
            if not in_use or attempt == attempts - 1:
                raise
            log.warning("ensemble start failed (%s); trying other ports", e)
    raise AssertionError("unreachable")


def _hosts_for(ens: RoostEnsemble, config: VerifyConfig) -> list[str]:
    n = len(ens)
    return [ens.hosts_of(i % n) if (config.pin_all or i % 2 == 0) else ens.hosts
            for i in range(config.clients)]


def _run_in(ens: RoostEnsemble, config: VerifyConfig, result: VerifyResult) -> None:
    history = History()
    work = Workload("/verify", config.keys, history, config.session_timeout,
                    config.op_timeout, config.seed, read_fraction=config.read_fraction,
                    readers=config.readers)
    kinds = ["kazoo" if i % 2 == 0 else "roost" for i in range(config.clients)]
    work.connect(_hosts_for(ens, config), kinds)
    schedule = config.schedule
    if schedule is None:
        schedule = make_schedule(config.seed, config.nemesis, config.seconds, config.members,
                                 pause_hold=config.session_timeout + 1.0)
    nemesis = Nemesis(ens, schedule, config.seed)
    locks = {"lock": LockRun(), "latch": LockRun()}
    lockers = _start_lockers(ens, config, locks)
    nemesis.start()
    try:
        # a loaded machine slows the restarts that kill and slowdisk faults do, so the
        # schedule can slip: the load goes on until every fault was injected and healed
        work.run(config.seconds, until=nemesis.finished, limit=2 * config.seconds + 30)
    except BaseException:  # interrupted: stop injecting, leave healing to the ensemble's stop
        nemesis.abort()
        raise
    nemesis.stop()
    for t in lockers:
        t.join(config.seconds + 60)
    for run_ in locks.values():
        result.grants += len(run_.tenures)
        result.fenced_writes += len(run_.store.accepted)
        result.fenced_refused += run_.store.refused
        result.tenure_overlaps += len(run_.overlaps())
        result.overlap_notes += [run_.describe_overlap(a, b) for a, b in run_.overlaps()]
        result.lock_anomalies += run_.anomalies()
        result.harness_errors += run_.errors
    result.faults, result.journal = nemesis.injected, nemesis.journal
    result.harness_errors += nemesis.errors
    ens.wait_settled(timeout=60)
    _final_reads(ens, work, history)
    _check(ens, work, history, result)


def _start_lockers(ens: RoostEnsemble, config: VerifyConfig,
                   locks: dict[str, LockRun]) -> list[threading.Thread]:
    deadline = time.monotonic() + config.seconds
    threads = []
    for i in range(config.lock_clients):
        kind = "lock" if i % 2 == 0 else "latch"
        t = threading.Thread(target=lock_worker, name=f"{kind}-{i}", daemon=True,
                             args=(kind, ens.hosts, f"{kind}{i}", locks[kind], deadline,
                                   config.session_timeout))
        t.start()
        threads.append(t)
    return threads


def _final_reads(ens: RoostEnsemble, work: Workload, history: History) -> None:
    """After healing: a fresh client syncs and reads every key (so the final state is
    checked against every acknowledged write)."""
    from roost.testing.nemesis.clients import make_client

    client = make_client("kazoo", ens.hosts, work.session_timeout, 30.0)
    try:
        for k in range(work.keys):
            read(history, "final", client, work.key(k))
    finally:
        client.close()


def _check(ens: RoostEnsemble, work: Workload, history: History, result: VerifyResult) -> None:
    config = result.config
    ops = history.operations()
    result.ops = Counter(Status(op.status).value for op in ops)
    result.acked_appends = sum(len(w.acked_appends) for w in work.workers)
    result.sessions_expired = sum(1 for w in work.workers
                                  if w.client is not None and w.client.lost.is_set())
    for w in work.workers:
        result.harness_errors += [f"worker {w.index}: {e}" for e in w.errors]
    lin = check(history, ZnodeModel(), timeout=config.check_timeout)
    result.verdict = lin.verdict.name
    if not lin:
        result.violation = lin.report() if lin.verdict == Verdict.NOT_LINEARIZABLE else ""
    if config.out_dir is not None:
        config.out_dir.mkdir(parents=True, exist_ok=True)
        history.save(config.out_dir / f"history-seed{config.seed}.jsonl")
        if lin.verdict == Verdict.NOT_LINEARIZABLE:
            lin.write_html(config.out_dir / f"violation-seed{config.seed}.html")
    # half the sessions end cleanly: their ephemerals must disappear everywhere
    closed = {w.index for w in work.workers if w.index % 2 == 1}
    for w in work.workers:
        if w.index in closed and w.client is not None:
            w.client.close()
    checks.wait_connected(work, closed)
    try:
        result.final_zxid, trees = checks.member_trees(ens, work.root)
        result.divergent = checks.divergence(trees)
        result.lost_writes = checks.lost_appends(work, trees)
        result.ephemerals = checks.ephemeral_anomalies(work, trees, closed)
    finally:
        for w in work.workers:
            if w.index not in closed and w.client is not None:
                w.client.close()
