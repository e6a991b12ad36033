"""Run one seed and turn any failure into a SimFailure that names its replay command; run
many seeds, on several processes if asked."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from dataclasses import dataclass

from .cluster import SimCluster
from .network import DEFAULT_NETWORK
from .stats import SimFailure, SimStats, replay_command
from .timing import DEFAULT as DEFAULT_TIMING


def run_seed(nodes: int, seed: int, bugs: frozenset[str] = frozenset(),
             trace: bool = False, minutes: float = 0, timing: str = DEFAULT_TIMING,
             network: str = DEFAULT_NETWORK) -> SimStats:
    cluster = SimCluster(nodes, seed, bugs, trace, minutes, timing, network)
    try:
        return cluster.run()
    except Exception as exc:  # any exception, including invariant violations
        tail = ""
        if cluster.trace:
            tail = "\n" + "\n".join(cluster.trace[-40:])
        raise SimFailure(
            f"seed {seed} with {nodes} nodes failed at {cluster.now} ms: "
            f"{type(exc).__name__}: {exc}{tail}\n"
            f"replay: {replay_command(nodes, seed, bugs, minutes, timing, network)}"
        ) from exc


@dataclass(frozen=True)
class SeedResult:
    """One seed's outcome: its stats, or the failure's message (with the replay command);
    `cpu_s`: the CPU time the run took in the process that ran it."""

    nodes: int
    seed: int
    stats: SimStats | None
    failure: str | None
    cpu_s: float


def _one(args: tuple[int, int, frozenset[str], bool, float, str, str]) -> SeedResult:
    nodes, seed, bugs, trace, minutes, timing, network = args
    cpu = time.process_time()
    try:
        st = run_seed(nodes, seed, bugs, trace, minutes, timing, network)
    except SimFailure as exc:
        return SeedResult(nodes, seed, None, str(exc), time.process_time() - cpu)
    return SeedResult(nodes, seed, st, None, time.process_time() - cpu)


def _quiet() -> None:
    import logging

    # the replicas log what a server would (removals, membership steps): not for a run's
    # output
    logging.getLogger("roost").setLevel(logging.ERROR)


def run_seeds(nodes: int, seeds: range, bugs: frozenset[str] = frozenset(),
              minutes: float = 0, jobs: int = 1, trace: bool = False,
              timing: str = DEFAULT_TIMING, network: str = DEFAULT_NETWORK
              ) -> Iterator[SeedResult]:
    """Each seed of `seeds`, in order; on `jobs` worker processes when more than one (each
    run is deterministic wherever it runs: the results are the same)."""
    work = [(nodes, s, bugs, trace, minutes, timing, network) for s in seeds]
    if jobs <= 1 or len(work) <= 1:
        for w in work:
            yield _one(w)
        return
    # spawn: a forked child of a process with threads (a test run's) may inherit a held lock
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(min(jobs, len(work)), initializer=_quiet) as pool:
        yield from pool.imap(_one, work, chunksize=max(1, min(16, len(work) // (8 * jobs))))
