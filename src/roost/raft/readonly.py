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
        self._sent: dict[int, int] = {}  # round -> leader tick when it was sent
        self.next_round = 1
        self.confirmed_sent = -1  # send tick of the newest round a quorum acknowledged

    def add(self, context: bytes, index: int, origin: int) -> None:
        self.pending.append(ReadRequest(context, index, origin, self.next_round))

    def needs_round(self) -> bool:
        """Whether some read waits for a round that has not been sent yet."""
        return bool(self.pending) and self.pending[-1].round == self.next_round

    def start_round(self, leader: int, now: int, keep: int) -> bytes:
        """Open the next round (the leader acks it itself); returns its heartbeat context.
        Rounds sent more than `keep` ticks ago are forgotten (a later round that reaches
        a quorum releases their reads anyway)."""
        for k in [k for k, t in self._sent.items() if t < now - keep]:
            del self._sent[k]
            self._acks.pop(k, None)
        n = self.next_round
        self._acks[n] = {leader}
        self._sent[n] = now
        self.next_round += 1
        return encode_round(n)

    def ack(self, node: int, ctx: bytes, voters: Collection[int]) -> list[ReadRequest]:
        """Record a heartbeat ack; returns the reads it releases (in arrival order)."""
        n = decode_round(ctx)
        if n is None or n not in self._acks:
            return []
        self._acks[n].add(node)
        return self._release_upto(voters)

    def check_quorum_now(self, voters: Collection[int]) -> list[ReadRequest]:
        """Release rounds already acknowledged by a quorum (after the voter set shrank)."""
        return self._release_upto(voters)

    def _release_upto(self, voters: Collection[int]) -> list[ReadRequest]:
        done_round = 0
        for n in sorted(self._acks):
            if has_quorum(voters, self._acks[n]):
                done_round = n
        if not done_round:
            return []
        self.confirmed_sent = max(self.confirmed_sent, self._sent[done_round])
        done = [r for r in self.pending if r.round <= done_round]
        self.pending = [r for r in self.pending if r.round > done_round]
        for k in [k for k in self._acks if k <= done_round]:
            del self._acks[k]
            del self._sent[k]
        return done
