"""Deterministic simulation of raft clusters (one seed replays one run exactly)."""

from .checker import Checker, InvariantViolation
from .cluster import LIVENESS_BOUND_MS, SimCluster, SimFailure, SimStats, replay_command
from .runner import run_seed

__all__ = [
    "LIVENESS_BOUND_MS", "Checker", "InvariantViolation", "SimCluster", "SimFailure",
    "SimStats", "replay_command", "run_seed",
]
