"""ReadIndex bookkeeping on the leader: batch reads into heartbeat rounds.

A read asked at commit index c is safe to serve at c once a heartbeat round sent *after*
the read arrived is acknowledged by a majority of voters (so no newer leader existed when
that round went out). Every read waiting when a round is sent rides on that round, so many
concurrent reads cost one round of heartbeats.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from .quorum import has_quorum

_ROUND_BYTES = 8


@dataclass(frozen=True, slots=True)
class ReadRequest:
    context: bytes
    index: int  # the leader's commit index when the read arrived
    origin: int  # the node that asked (the leader itself or a follower)
    round: int  # the heartbeat round that confirms it


def encode_round(n: int) -> bytes:
    return n.to_bytes(_ROUND_BYTES, "big")


def decode_round(ctx: bytes) -> int | None:
    if len(ctx) != _ROUND_BYTES:
        return None
    return int.from_bytes(ctx, "big")


class ReadOnly:
    def __init__(self) -> None:
        self.pending: list[ReadRequest] = []
        self._acks: dict[int, set[int]] = {}
        self.next_round = 1

    def add(self, context: bytes, index: int, origin: int) -> None:
        self.pending.append(ReadRequest(context, index, origin, self.next_round))

    def needs_round(self) -> bool:
        """Whether some read waits for a round that has not been sent yet."""
        return bool(self.pending) and self.pending[-1].round == self.next_round

    def start_round(self, leader: int) -> bytes:
        """Open the next round (the leader acks it itself); returns its heartbeat context."""
        n = self.next_round
        self._acks[n] = {leader}
        self.next_round += 1
        return encode_round(n)

    def ack(self, node: int, ctx: bytes, voters: Collection[int]) -> list[ReadRequest]:
        """Record a heartbeat ack; returns the reads it releases (in arrival order)."""
        n = decode_round(ctx)
        if n is None or n not in self._acks:
            return []
        acks = self._acks[n]
        acks.add(node)
        if not has_quorum(voters, acks):
            return []
        done = [r for r in self.pending if r.round <= n]
        self.pending = [r for r in self.pending if r.round > n]
        for k in [k for k in self._acks if k <= n]:
            del self._acks[k]
        return done

    def check_quorum_now(self, voters: Collection[int]) -> list[ReadRequest]:
        """Release rounds already acknowledged by a quorum (after the voter set shrank)."""
        done: list[ReadRequest] = []
        for n in sorted(self._acks):
            if has_quorum(voters, self._acks[n]):
                done = [r for r in self.pending if r.round <= n]
        if done:
            last = done[-1].round
            self.pending = [r for r in self.pending if r.round > last]
            for k in [k for k in self._acks if k <= last]:
                del self._acks[k]
        return done
