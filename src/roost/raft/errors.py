"""Exceptions raised by the raft core and its storage."""

from __future__ import annotations


class RaftError(Exception):
    """Base class of every raft error."""


class CompactedError(RaftError):
    """The requested index is at or below the last snapshot: the log no longer has it."""


class UnavailableError(RaftError):
    """The requested index is past the end of the log."""


class SnapshotOutOfDateError(RaftError):
    """A snapshot older than the one already held was offered."""


class ProposalDroppedError(RaftError):
    """The proposal was not accepted (not leader, transfer in progress, or a conf
    change is already pending). The host should retry elsewhere or later."""


class NotLeaderError(ProposalDroppedError):
    """The node is not the leader; `leader` is the leader it knows of (0 if none)."""

    def __init__(self, leader: int) -> None:
        super().__init__(f"not the leader (leader is {leader or 'unknown'})")
        self.leader = leader
