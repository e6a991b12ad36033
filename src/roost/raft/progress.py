"""The leader's view of one follower: how far it matches, what is in flight, and
which flow-control state it is in (probe, replicate, snapshot)."""

from __future__ import annotations

from collections import deque
from enum import IntEnum


class ProgressState(IntEnum):
    PROBE = 0  # one message per heartbeat until we find where the logs match
    REPLICATE = 1  # optimistic pipelining, bounded by the in-flight window
    SNAPSHOT = 2  # a snapshot is on its way; send nothing else


#: (module constants: an enum member read through its class costs several times a global)
PROBE, REPLICATE, SNAPSHOT = ProgressState.PROBE, ProgressState.REPLICATE, ProgressState.SNAPSHOT


class Inflights:
    """A window of in-flight append messages, by last index and byte size."""

    def __init__(self, max_count: int, max_bytes: int) -> None:
        self.max_count = max_count
        self.max_bytes = max_bytes
        self._items: deque[tuple[int, int]] = deque()
        self.bytes = 0

    def add(self, index: int, size: int) -> None:
        self._items.append((index, size))
        self.bytes += size

    def free_le(self, index: int) -> None:
        """Release every message whose last index is <= index."""
        while self._items and self._items[0][0] <= index:
            self.bytes -= self._items.popleft()[1]

    def free_first_one(self) -> None:
        if self._items:
            self.bytes -= self._items.popleft()[1]

    def full(self) -> bool:
        return len(self._items) >= self.max_count or self.bytes >= self.max_bytes

    def reset(self) -> None:
        self._items.clear()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)


class Progress:
    __slots__ = (
        "inflights", "is_learner", "match", "next", "pending_snapshot", "probe_sent",
        "recent_active", "snap_offset", "snapshot_ticks", "state", "was_active",
    )

    def __init__(self, next_index: int, max_inflight: int, max_inflight_bytes: int,
                 is_learner: bool = False) -> None:
        self.match = 0
        self.next = next_index
        self.state = PROBE
        self.probe_sent = False
        self.pending_snapshot = 0
        self.snapshot_ticks = 0
        self.snap_offset = 0  # next byte of the pending snapshot to send
        self.recent_active = False
        #: recent_active as it stood when the leader last checked its quorum
        self.was_active = False
        self.is_learner = is_learner
        self.inflights = Inflights(max_inflight, max_inflight_bytes)

    @property
    def active(self) -> bool:
        """Heard from in this or the previous quorum-check period: what a report shows.
        (`recent_active` alone is cleared at every check, so right after one it says
        false for a follower that answered a moment before.)"""
        return self.recent_active or self.was_active

    def _reset(self, state: ProgressState) -> None:
        self.state = state
        self.probe_sent = False
        self.pending_snapshot = 0
        self.snapshot_ticks = 0
        self.snap_offset = 0
        self.inflights.reset()

    def become_probe(self) -> None:
        if self.state is SNAPSHOT:
            pending = self.pending_snapshot
            self._reset(PROBE)
            self.next = max(self.match + 1, pending + 1)
        else:
            self._reset(PROBE)
            self.next = self.match + 1

    def become_replicate(self) -> None:
        self._reset(REPLICATE)
        self.next = self.match + 1

    def become_snapshot(self, index: int) -> None:
        self._reset(SNAPSHOT)
        self.pending_snapshot = index

    def maybe_update(self, n: int) -> bool:
        """A successful append response up to n. Returns whether match moved."""
        updated = False
        if self.match < n:
            self.match = n
            updated = True
            self.probe_sent = False
        self.next = max(self.next, n + 1)
        return updated

    def maybe_decr_to(self, rejected: int, match_hint: int) -> bool:
        """A rejection of the append at `rejected`; False if it is stale."""
        if self.state is REPLICATE:
            if rejected <= self.match:
                return False
            self.next = self.match + 1
            return True
        if self.next - 1 != rejected:
            return False
        self.next = max(min(rejected, match_hint + 1), self.match + 1)
        self.probe_sent = False
        return True

    def sent_entries(self, last_index: int, count: int, size: int) -> None:
        """Record an append of `count` entries ending at last_index."""
        if self.state is REPLICATE:
            if count:
                self.next = last_index + 1
                self.inflights.add(last_index, size)
        elif self.state is PROBE:
            self.probe_sent = True

    def is_paused(self) -> bool:
        if self.state is PROBE:
            return self.probe_sent
        if self.state is REPLICATE:
            return self.inflights.full()
        return True

    def __repr__(self) -> str:
        return (f"Progress(match={self.match}, next={self.next}, state={self.state.name}, "
                f"inflight={len(self.inflights)})")
