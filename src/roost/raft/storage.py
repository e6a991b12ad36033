"""The stable-storage interface the core reads from, and an in-memory implementation.

The core only *reads* storage. The host writes to it (append the Ready's entries, save the
hard state, install snapshots, compact) and then calls `advance()`.
"""

from __future__ import annotations

from typing import Protocol

from .errors import CompactedError, SnapshotOutOfDateError, UnavailableError
from .messages import ConfState, Entry, HardState, Snapshot, SnapshotMeta


class Storage(Protocol):
    """What the core needs from durable storage. Methods must not return data that is
    not durable; raising anything but Compacted/Unavailable stops the node."""

    def initial_state(self) -> tuple[HardState, ConfState]: ...

    def entries(self, lo: int, hi: int, max_bytes: int) -> list[Entry]:
        """Entries [lo, hi); at least one if any, then up to max_bytes in total."""
        ...

    def term(self, index: int) -> int:
        """Term of entry `index`; valid from snapshot index to last index."""
        ...

    def first_index(self) -> int: ...

    def last_index(self) -> int: ...

    def snapshot(self) -> Snapshot: ...


def limit_size(ents: list[Entry], max_bytes: int) -> list[Entry]:
    """The longest prefix within max_bytes, but never empty when ents is not."""
    if not ents:
        return ents
    total = ents[0].size()
    for k in range(1, len(ents)):
        total += ents[k].size()
        if total > max_bytes:
            return ents[:k]
    return ents


class MemoryStorage:
    """A Storage kept in memory: for tests, the simulator and benchmarks.

    `_ents[0]` is a dummy entry holding the snapshot's index and term.
    """

    def __init__(self) -> None:
        self.hard_state = HardState()
        self._snapshot = Snapshot()
        self._ents: list[Entry] = [Entry(0, 0)]

    # -- reads (the Storage protocol) --
    def initial_state(self) -> tuple[HardState, ConfState]:
        return self.hard_state, self._snapshot.meta.conf

    def first_index(self) -> int:
        return self._ents[0].index + 1

    def last_index(self) -> int:
        return self._ents[0].index + len(self._ents) - 1

    def term(self, index: int) -> int:
        off = self._ents[0].index
        if index < off:
            raise CompactedError(index)
        if index - off >= len(self._ents):
            raise UnavailableError(index)
        return self._ents[index - off].term

    def entries(self, lo: int, hi: int, max_bytes: int) -> list[Entry]:
        off = self._ents[0].index
        if lo <= off:
            raise CompactedError(lo)
        if hi > self.last_index() + 1:
            raise UnavailableError(hi)
        return limit_size(self._ents[lo - off : hi - off], max_bytes)

    def snapshot(self) -> Snapshot:
        return self._snapshot

    # -- writes (done by the host) --
    def bootstrap(self, conf: ConfState) -> None:
        """Give a brand-new storage the cluster's initial membership.

        Every founding member calls this with the same `conf`: it records a snapshot at
        index 1, term 1 holding the membership and an empty state, so that members
        added later learn the founding membership from that snapshot. Nodes that join
        later start with a plain empty storage instead.
        """
        if self.last_index() != 0 or self._snapshot.meta.index != 0:
            raise ValueError("bootstrap needs an empty storage")
        self._snapshot = Snapshot(SnapshotMeta(1, 1, conf), b"")
        self._ents = [Entry(1, 1)]
        self.hard_state = HardState(1, 0, 1)

    def set_hard_state(self, hs: HardState) -> None:
        self.hard_state = hs

    def apply_snapshot(self, snap: Snapshot) -> None:
        """Replace everything with the snapshot (a follower installing the leader's)."""
        if snap.meta.index < self._snapshot.meta.index:
            raise SnapshotOutOfDateError(snap.meta.index)
        self._snapshot = snap
        self._ents = [Entry(snap.meta.term, snap.meta.index)]

    def create_snapshot(self, index: int, conf: ConfState, data: bytes) -> Snapshot:
        """Record a state-machine image taken at applied index `index`."""
        if index <= self._snapshot.meta.index:
            raise SnapshotOutOfDateError(index)
        if index > self.last_index():
            raise UnavailableError(index)
        meta = SnapshotMeta(index, self.term(index), conf)
        self._snapshot = Snapshot(meta, data)
        return self._snapshot

    def compact(self, index: int) -> None:
        """Drop entries up to and including `index` (keep it as the dummy)."""
        off = self._ents[0].index
        if index <= off:
            raise CompactedError(index)
        if index > self.last_index():
            raise UnavailableError(index)
        self._ents = self._ents[index - off :]

    def append(self, ents: list[Entry] | tuple[Entry, ...]) -> None:
        """Append, first truncating any conflicting tail at ents[0].index."""
        if not ents:
            return
        first = self.first_index()
        last = ents[-1].index
        if last < first:
            return
        items = list(ents)
        if first > items[0].index:
            items = items[first - items[0].index :]
        off = items[0].index - self._ents[0].index
        if off > len(self._ents):
            raise UnavailableError(items[0].index)
        del self._ents[off:]
        self._ents.extend(items)

    def copy(self) -> MemoryStorage:
        """A deep-enough copy (entries are immutable)."""
        out = MemoryStorage()
        out.hard_state = self.hard_state
        out._snapshot = self._snapshot
        out._ents = list(self._ents)
        return out
