"""Run one seed and turn any failure into a SimFailure that names its replay command."""

from __future__ import annotations

from .cluster import SimCluster, SimFailure, SimStats, replay_command


def run_seed(nodes: int, seed: int, bugs: frozenset[str] = frozenset(),
             trace: bool = False, minutes: float = 0) -> SimStats:
    cluster = SimCluster(nodes, seed, bugs, trace, minutes)
    try:
        return cluster.run()
    except Exception as exc:  # any exception, including invariant violations
        tail = ""
        if cluster.trace:
            tail = "\n" + "\n".join(cluster.trace[-40:])
        raise SimFailure(
            f"seed {seed} with {nodes} nodes failed at {cluster.now} ms: "
            f"{type(exc).__name__}: {exc}{tail}\n"
            f"replay: {replay_command(nodes, seed, bugs, minutes)}"
        ) from exc
