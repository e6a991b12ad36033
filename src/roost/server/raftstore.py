"""Raft's stable storage on a roost data directory.

Reads are served from an in-memory mirror (raft's `MemoryStorage`), writes go to the
write-ahead log, the hard-state file and the snapshot store of `roost.storage`. The
snapshot file holds the raft metadata (membership) and the state machine image.
"""

from __future__ import annotations

import logging

import msgpack

from roost.raft import ConfState, Entry, EntryKind, HardState, MemoryStorage, Snapshot, SnapshotMeta
from roost.raft.storage import limit_size
from roost.storage import DataDir
from roost.storage import Entry as LogEntry
from roost.storage import HardState as DiskHardState

log = logging.getLogger("roost.raftstore")


#: the snapshot payload's format: msgpack ``[2, conf, state image, history image or nil]``
#: (format 1, still read, had no history image: the history then starts at the snapshot)
PAYLOAD_VERSION = 2


def encode_snapshot_payload(
    conf: ConfState, state: bytes, history: bytes | None = None
) -> bytes:
    """A snapshot file's payload: raft's membership, the state machine image and the
    event history as of the snapshot's index (roost.server.history; None: none)."""
    out: bytes = msgpack.packb(
        [PAYLOAD_VERSION, conf.to_list(), state, history], use_bin_type=True
    )
    return out


def decode_snapshot_payload(data: bytes) -> tuple[ConfState, bytes, bytes | None]:
    """(membership, state image, history image or None) of a snapshot's payload."""
    raw = msgpack.unpackb(data, raw=False)
    version = raw[0]
    if version == 1:
        _, conf, state = raw
        history = None
    elif version == PAYLOAD_VERSION:
        _, conf, state, history = raw
    else:
        raise ValueError(f"unknown snapshot payload version {version}")
    return ConfState.from_list(conf), bytes(state), None if history is None else bytes(history)


class RaftStore:
    """`roost.raft.Storage` backed by a DataDir. Blocking writes: call from a worker thread."""

    def __init__(self, datadir: DataDir) -> None:
        self.datadir = datadir
        self.mem = MemoryStorage()
        self.state_image = b""  # the state machine image of the newest snapshot
        #: the history image of the snapshot loaded or installed last (None: it has none);
        #: the log hands it to the server, which takes it (sets this to None)
        self.history_image: bytes | None = None
        self._saved_hs = HardState()
        #: our own newest snapshot when it is newer than the in-memory storage's
        self._snap: Snapshot | None = None

    # --- start-up ----------------------------------------------------------------
    def load(self, bootstrap: ConfState, join: bool = False) -> bool:
        """Load snapshot, log and hard state. Returns False for a brand-new data dir,
        which is then bootstrapped with the founding membership."""
        d = self.datadir
        snap = d.snapshots.latest()
        hs = d.hardstate.load()
        wal = d.wal
        if snap is None and wal.last_index == 0 and hs.term == 0:
            if join:  # joining a running ensemble: the leader sends us a snapshot
                return False
            self.mem.bootstrap(bootstrap)
            first = self.mem.snapshot()
            snap0 = Snapshot(first.meta, encode_snapshot_payload(bootstrap, b""))
            self.mem.apply_snapshot(snap0)
            self._persist_snapshot(snap0)
            wal.reset(first.meta.index, first.meta.term)
            self.save_hard_state(self.mem.hard_state, force=True)
            return False
        if snap is None:
            raise ValueError(f"{d.path}: log without a snapshot; the data dir is incomplete")
        meta, data = snap
        conf, image, history = decode_snapshot_payload(data)
        self.mem.apply_snapshot(Snapshot(SnapshotMeta(meta.index, meta.term, conf), data))
        self.state_image, self.history_image = image, history
        d.align_log(meta)
        if wal.last_index > meta.index:
            ents = wal.entries(meta.index + 1, wal.last_index + 1)
            self.mem.append([Entry(e.term, e.index, EntryKind(e.kind), e.data) for e in ents])
        self._saved_hs = HardState(hs.term, hs.vote, max(hs.commit, meta.index))
        self.mem.set_hard_state(self._saved_hs)
        return True

    # --- the Storage protocol (reads) ---------------------------------------------------
    def initial_state(self) -> tuple[HardState, ConfState]:
        return self.mem.initial_state()

    def entries(self, lo: int, hi: int, max_bytes: int) -> list[Entry]:
        mem_first = self.mem.first_index()
        if lo >= mem_first or lo < self.first_index():
            return self.mem.entries(lo, hi, max_bytes)  # (raises Compacted below the log)
        # older than what is kept in memory: read the write-ahead log
        old = self.datadir.wal.entries(lo, min(hi, mem_first), max_bytes)
        out = [Entry(e.term, e.index, EntryKind(e.kind), e.data) for e in old]
        if hi > mem_first:
            out += self.mem.entries(mem_first, hi, max_bytes)
        return limit_size(out, max_bytes)

    def term(self, index: int) -> int:
        if index >= self.mem.first_index() - 1 or index < self.first_index() - 1:
            return self.mem.term(index)
        return self.datadir.wal.term_at(index)

    def first_index(self) -> int:
        """The first entry raft can read: after the snapshot, from memory or the log."""
        snap_first = self.snapshot_meta().index + 1
        return min(self.mem.first_index(), max(snap_first, self.datadir.wal.first_index))

    def trim_memory(self, applied: int, keep: int) -> None:
        """Drop from memory the applied entries older than the last `keep` (they stay in
        the write-ahead log and are read from there if a slow follower needs them)."""
        cut = applied - keep
        if cut > self.mem.first_index() + keep // 4:
            self.mem.compact(cut)

    def last_index(self) -> int:
        return self.mem.last_index()

    def snapshot(self) -> Snapshot:
        """The newest snapshot; one we wrote ourselves is read back from its file when raft
        first needs its data (to send it to a follower)."""
        snap = self._snap
        if snap is None:
            return self.mem.snapshot()
        if not snap.data:
            _, data = self.datadir.snapshots.load(snap.meta.index)
            snap = self._snap = Snapshot(snap.meta, data)
        return snap

    def snapshot_meta(self) -> SnapshotMeta:
        return (self._snap or self.mem.snapshot()).meta

    # --- writes -------------------------------------------------------------------------
    def append(self, entries: tuple[Entry, ...]) -> None:
        """Append (truncating a conflicting tail first); durable after sync()."""
        if not entries:
            return
        wal = self.datadir.wal
        first = entries[0].index
        if first <= wal.last_index:
            wal.truncate_after(first - 1)
        wal.append([LogEntry(e.term, e.index, e.data, int(e.kind)) for e in entries])
        self.mem.append(entries)

    def sync(self) -> None:
        self.datadir.wal.sync()

    def save_hard_state(self, hs: HardState, force: bool = False) -> None:
        """Persist term and vote (and the commit index along with them).

        A change of the commit index alone is not written (it costs two fsyncs): after a
        restart raft learns the commit index again from the leader, or on a single-member
        group by committing its next entry.
        """
        if not force and (hs.term, hs.vote) == (self._saved_hs.term, self._saved_hs.vote):
            self.mem.set_hard_state(hs)
            return
        self.datadir.hardstate.save(DiskHardState(hs.term, hs.vote, hs.commit))
        self._saved_hs = hs
        self.mem.set_hard_state(hs)

    def flush_commit(self, commit: int) -> None:
        """Persist the commit index (on clean shutdown: start-up replays up to it)."""
        hs = self.mem.hard_state
        if commit > self._saved_hs.commit:
            hs = HardState(hs.term, hs.vote, commit)
            self.datadir.hardstate.save(DiskHardState(hs.term, hs.vote, hs.commit))
            self._saved_hs = hs

    def install_snapshot(self, snap: Snapshot) -> None:
        """A snapshot received from the leader replaces the log."""
        self._persist_snapshot(snap)
        self.datadir.wal.reset(snap.meta.index, snap.meta.term)
        self.mem.apply_snapshot(snap)
        self._snap = None
        _, self.state_image, self.history_image = decode_snapshot_payload(snap.data)

    def create_snapshot(
        self, index: int, conf: ConfState, image: bytes, history: bytes | None, keep: int
    ) -> None:
        """Record our own state machine image (and event history) at applied `index`, then
        compact the log."""
        term = self.term(index)
        self.datadir.snapshots.save(index, term, encode_snapshot_payload(conf, image, history))
        self.snapshot_written(index, term, conf, keep)

    def snapshot_written(self, index: int, term: int, conf: ConfState, keep: int) -> None:
        """A snapshot file for `index` exists now (written here or by a forked child):
        make it raft's snapshot and compact the log back to the previous one."""
        if index <= self.snapshot_meta().index:
            return
        prev = self.datadir.snapshots.indexes()
        self._snap = Snapshot(SnapshotMeta(index, term, conf), b"")
        self.datadir.snapshots.prune(keep)
        # keep the log back to the previous snapshot (see docs/server.md)
        older = [i for i in prev if i < index]
        if older:
            self.datadir.wal.compact(min(older[-1], self.datadir.wal.last_index))
            if self.mem.first_index() <= older[-1] <= self.mem.last_index():
                self.mem.compact(older[-1])

    def _persist_snapshot(self, snap: Snapshot) -> None:
        self.datadir.snapshots.save(snap.meta.index, snap.meta.term, snap.data)
