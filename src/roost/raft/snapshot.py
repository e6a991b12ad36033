"""Chunked snapshot transfer: slicing on the leader, reassembly on the follower.

The leader sends one chunk at a time (stop-and-wait); the follower answers each chunk
with SNAP_RESP carrying the next byte offset it expects, and the final chunk with the
usual APP_RESP once the snapshot is restored. A lost chunk is re-sent from the offset
the follower last reported (on its next heartbeat response).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .messages import Snapshot, SnapshotMeta


def chunk(snap: Snapshot, offset: int, size: int) -> tuple[Snapshot, bool]:
    """The chunk of `snap` starting at `offset` (at most `size` bytes; 0 = all of it),
    and whether it is the last one."""
    total = len(snap.data)
    end = total if size <= 0 else min(total, offset + size)
    return Snapshot(snap.meta, snap.data[offset:end]), end >= total


@dataclass
class Receiving:
    meta: SnapshotMeta
    data: bytearray


class Offer(Enum):
    ACCEPTED = 0  # stored; ask for the next offset
    COMPLETE = 1  # the last chunk: the snapshot is whole
    DUPLICATE = 2  # already have these bytes: say nothing
    GAP = 3  # not the offset we expect (or another snapshot): ask again


class SnapshotReceiver:
    """Reassembles the chunks of one snapshot at a time."""

    def __init__(self) -> None:
        self.current: Receiving | None = None

    def reset(self) -> None:
        self.current = None

    def expected(self, meta: SnapshotMeta) -> int:
        """The next offset wanted for the snapshot `meta` (0: start it over)."""
        cur = self.current
        return len(cur.data) if cur is not None and cur.meta == meta else 0

    def offer(self, part: Snapshot, offset: int, done: bool) -> tuple[Offer, Snapshot | None]:
        """Take one chunk; the snapshot comes back with COMPLETE."""
        if offset == 0:
            self.current = Receiving(part.meta, bytearray())
        cur = self.current
        if cur is None or cur.meta != part.meta:
            return Offer.GAP, None
        have = len(cur.data)
        if offset < have:
            return Offer.DUPLICATE, None
        if offset > have:
            return Offer.GAP, None
        cur.data.extend(part.data)
        if not done:
            return Offer.ACCEPTED, None
        self.current = None
        return Offer.COMPLETE, Snapshot(cur.meta, bytes(cur.data))
