"""Pure majority arithmetic: commit index and vote outcome for one voter set."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import Enum


class VoteResult(Enum):
    PENDING = 0
    LOST = 1
    WON = 2


def majority(n: int) -> int:
    """Smallest number of voters that is a majority of n."""
    return n // 2 + 1


def committed_index(voters: Collection[int], match: Mapping[int, int]) -> int:
    """Largest index stored by a majority of `voters` (0 for an empty voter set).

    Voters missing from `match` count as having nothing.
    """
    if not voters:
        return 0
    get = match.get  # (a list, not a generator: asked at every acknowledgement)
    acked = sorted([get(v, 0) for v in voters], reverse=True)
    return acked[majority(len(acked)) - 1]


def vote_result(voters: Collection[int], votes: Mapping[int, bool]) -> VoteResult:
    """WON once a majority granted, LOST once a majority can no longer be reached."""
    if not voters:
        return VoteResult.WON
    granted = sum(1 for v in voters if votes.get(v) is True)
    missing = sum(1 for v in voters if v not in votes)
    need = majority(len(voters))
    if granted >= need:
        return VoteResult.WON
    if granted + missing >= need:
        return VoteResult.PENDING
    return VoteResult.LOST


def has_quorum(voters: Collection[int], active: Collection[int]) -> bool:
    """Whether the nodes in `active` form a majority of `voters`."""
    if not voters:
        return False
    return sum(1 for v in voters if v in active) >= majority(len(voters))
