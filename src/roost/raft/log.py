"""The raft log: a durable part (read through `Storage`) plus an unstable tail.

Invariants: applied <= applying <= committed <= last_index; unstable entries follow the
storage's last durable index or the unstable snapshot.
"""

from __future__ import annotations

from .errors import CompactedError, UnavailableError
from .messages import Entry, Snapshot
from .storage import Storage, limit_size

NO_LIMIT = 1 << 62


class Unstable:
    """Entries (and possibly a snapshot) handed to the host but not yet durable."""

    def __init__(self, offset: int) -> None:
        self.snapshot: Snapshot | None = None
        self.entries: list[Entry] = []
        self.offset = offset  # index of entries[0]

    def maybe_first_index(self) -> int | None:
        return None if self.snapshot is None else self.snapshot.meta.index + 1

    def maybe_last_index(self) -> int | None:
        if self.entries:
            return self.offset + len(self.entries) - 1
        return None if self.snapshot is None else self.snapshot.meta.index

    def maybe_term(self, index: int) -> int | None:
        if index < self.offset:
            if self.snapshot is not None and self.snapshot.meta.index == index:
                return self.snapshot.meta.term
            return None
        last = self.maybe_last_index()
        if last is None or index > last:
            return None
        return self.entries[index - self.offset].term

    def stable_to(self, index: int, term: int) -> None:
        got = self.maybe_term(index)
        if got is None or got != term or index < self.offset:
            return
        self.entries = self.entries[index + 1 - self.offset :]
        self.offset = index + 1

    def stable_snap_to(self, index: int) -> None:
        if self.snapshot is not None and self.snapshot.meta.index == index:
            self.snapshot = None

    def restore(self, snap: Snapshot) -> None:
        self.offset = snap.meta.index + 1
        self.entries = []
        self.snapshot = snap

    def truncate_and_append(self, ents: list[Entry]) -> None:
        after = ents[0].index
        if after == self.offset + len(self.entries):
            self.entries.extend(ents)
        elif after <= self.offset:
            self.offset = after
            self.entries = list(ents)
        else:
            self.entries = self.entries[: after - self.offset] + ents


class RaftLog:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        first = storage.first_index()
        last = storage.last_index()
        self.unstable = Unstable(last + 1)
        self.committed = first - 1
        self.applying = first - 1  # handed to the host in a Ready
        self.applied = first - 1  # acknowledged by advance()

    # -- bounds and terms --
    # (first_index, last_index and term are asked several times per message: Unstable's
    # answers are read inline)
    def first_index(self) -> int:
        snap = self.unstable.snapshot
        return snap.meta.index + 1 if snap is not None else self.storage.first_index()

    def last_index(self) -> int:
        u = self.unstable
        if u.entries:
            return u.offset + len(u.entries) - 1
        return u.snapshot.meta.index if u.snapshot is not None else self.storage.last_index()

    def term(self, index: int) -> int:
        """Term at `index`; raises CompactedError / UnavailableError outside the log."""
        u = self.unstable
        k = index - u.offset
        if 0 <= k < len(u.entries):  # an unstable entry (they follow the first index)
            return u.entries[k].term
        if k < 0 and u.snapshot is None:
            # a durable entry (most terms asked: a heartbeat's, an append's previous
            # entry): the bounds below, read from the storage at once
            st = self.storage
            if index < st.first_index() - 1:
                raise CompactedError(index)
            if not u.entries and index > st.last_index():
                raise UnavailableError(index)
            return st.term(index)
        dummy = self.first_index() - 1
        if index < dummy:
            raise CompactedError(index)
        if index > self.last_index():
            raise UnavailableError(index)
        t = self.unstable.maybe_term(index)
        if t is not None:
            return t
        return self.storage.term(index)

    def term_or_zero(self, index: int) -> int:
        try:
            return self.term(index)
        except (CompactedError, UnavailableError):
            return 0

    def last_term(self) -> int:
        return self.term(self.last_index())

    def match_term(self, index: int, term: int) -> bool:
        try:
            return self.term(index) == term
        except (CompactedError, UnavailableError):
            return False

    def is_up_to_date(self, last_index: int, term: int) -> bool:
        """The election restriction (§5.4.1): compare last term, then length."""
        my_term = self.last_term()
        return term > my_term or (term == my_term and last_index >= self.last_index())

    # -- appending --
    def append(self, ents: list[Entry]) -> int:
        if not ents:
            return self.last_index()
        if ents[0].index - 1 < self.committed:
            raise AssertionError(f"append at {ents[0].index} below commit {self.committed}")
        self.unstable.truncate_and_append(ents)
        return self.last_index()

    def find_conflict(self, ents: tuple[Entry, ...]) -> int:
        """Index of the first entry whose term differs from ours (0 if none)."""
        for e in ents:
            if not self.match_term(e.index, e.term):
                return e.index
        return 0

    def find_conflict_by_term(self, index: int, term: int) -> tuple[int, int]:
        """Largest (i, term(i)) with i <= index and term(i) <= term (fast backtracking)."""
        index = min(index, self.last_index())
        while index > 0:
            try:
                t = self.term(index)
            except CompactedError:
                return index, 0
            if t <= term:
                return index, t
            index -= 1
        return 0, 0

    def maybe_append(
        self, index: int, log_term: int, committed: int, ents: tuple[Entry, ...]
    ) -> int | None:
        """Append after (index, log_term) if it matches; returns the last new index."""
        if not self.match_term(index, log_term):
            return None
        last_new = index + len(ents)
        conflict = self.find_conflict(ents)
        if conflict:
            if conflict <= self.committed:
                raise AssertionError(f"conflict {conflict} at or below commit {self.committed}")
            self.append(list(ents[conflict - ents[0].index :]))
        self.commit_to(min(committed, last_new))
        return last_new

    # -- reading --
    def slice(self, lo: int, hi: int, max_bytes: int = NO_LIMIT) -> list[Entry]:
        """Entries [lo, hi); raises CompactedError if lo is below the first index."""
        if lo >= hi:
            return []
        if lo < self.first_index():
            raise CompactedError(lo)
        if hi > self.last_index() + 1:
            raise UnavailableError(hi)
        out: list[Entry] = []
        off = self.unstable.offset
        if lo < off:
            out = self.storage.entries(lo, min(hi, off), max_bytes)
            if len(out) < min(hi, off) - lo:
                return out
        if hi > off:
            out = out + self.unstable.entries[max(lo, off) - off : hi - off]
        return limit_size(out, max_bytes)

    def entries_from(self, index: int, max_bytes: int) -> list[Entry]:
        return self.slice(index, self.last_index() + 1, max_bytes)

    def has_next_committed(self) -> bool:
        return self.committed > self.applying

    def next_committed(self, max_bytes: int) -> list[Entry]:
        lo = max(self.applying + 1, self.first_index())
        return self.slice(lo, self.committed + 1, max_bytes)

    def snapshot(self) -> Snapshot:
        if self.unstable.snapshot is not None:
            return self.unstable.snapshot
        return self.storage.snapshot()

    # -- commit and apply --
    def commit_to(self, index: int) -> None:
        if index > self.committed:
            if index > self.last_index():
                raise AssertionError(f"commit {index} past last index {self.last_index()}")
            self.committed = index

    def maybe_commit(self, index: int, term: int) -> bool:
        if index > self.committed and self.term_or_zero(index) == term:
            self.commit_to(index)
            return True
        return False

    def applied_to(self, index: int) -> None:
        self.applied = max(self.applied, index)
        self.applying = max(self.applying, index)

    def restore(self, snap: Snapshot) -> None:
        self.committed = snap.meta.index
        self.unstable.restore(snap)
