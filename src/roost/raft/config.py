"""Configuration of one raft node, and the planted-bug names used by tests."""

from __future__ import annotations

from dataclasses import dataclass

from .log import NO_LIMIT
from .messages import NONE

LEASE_MARGIN = 2  # ticks of tick-phase difference tolerated by lease reads

KNOWN_BUGS = frozenset(
    {"count_old_votes", "commit_old_term", "skip_up_to_date", "ack_before_persist",
     "ack_stale_term"}
)


@dataclass(frozen=True, slots=True)
class Config:
    """Tuning and behaviour of one raft node. Times are in ticks."""

    id: int
    election_tick: int = 10
    heartbeat_tick: int = 1
    applied: int = 0  # index the host's state machine already holds at start
    max_size_per_msg: int = 1 << 20
    max_inflight_msgs: int = 256
    max_inflight_bytes: int = NO_LIMIT
    max_committed_size_per_ready: int = NO_LIMIT
    pre_vote: bool = True
    check_quorum: bool = True
    lease_reads: bool = False  # see docs/raft.md for the clock assumption
    snapshot_timeout_ticks: int = 0  # 0 means 2 * election_tick without progress
    snapshot_chunk_size: int = 1 << 20  # bytes per SNAP message; 0 sends it whole
    _bugs: frozenset[str] = frozenset()  # planted faults, for tests of the checkers only

    def validate(self) -> None:
        if self.id == NONE:
            raise ValueError("node id must be >= 1")
        if self.heartbeat_tick <= 0 or self.election_tick <= self.heartbeat_tick:
            raise ValueError("need 0 < heartbeat_tick < election_tick")
        if self.lease_reads and not self.check_quorum:
            raise ValueError("lease_reads requires check_quorum")
        unknown = self._bugs - KNOWN_BUGS
        if unknown:
            raise ValueError(f"unknown bugs {sorted(unknown)}")
