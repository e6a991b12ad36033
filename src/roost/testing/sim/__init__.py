"""Deterministic simulation of raft clusters (one seed replays one run exactly)."""

from .checker import Checker, InvariantViolation
from .cluster import LIVENESS_BOUND_MS, SimCluster
from .runner import run_seed
from .stats import SimFailure, SimStats, replay_command

__all__ = [
    "LIVENESS_BOUND_MS", "Checker", "InvariantViolation", "SimCluster", "SimFailure",
    "SimStats", "replay_command", "run_seed",
]
