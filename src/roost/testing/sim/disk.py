"""A simulated member's disk: an in-memory raft log with crash semantics.

`SimDisk` is the `Storage` the member's raft node reads (what the process sees: written
data, synced or not, as a page cache would show it). Every write also goes into a journal
of unsynced operations; `sync()` (the host's fsync) moves the journal onto `durable`, the
state a crash keeps. Faults, drawn by the simulator:

- a crash keeps `durable` plus a prefix of the journal (writes reach the platter in order),
  and the last write kept may be torn: an append keeps only some of its entries (a torn
  record fails its checksum, so recovery stops before it);
- a write fails with ENOSPC or EIO before it changes anything;
- an fsync fails with EIO, and the unsynced writes are gone from the disk while the
  process still sees them (Linux marks the pages clean after reporting the error once: a
  host that retries the fsync is told it succeeded).

A host must treat any error as fatal for the member (stop, restart from the disk); the
planted bugs `ack_before_fsync` and `lost_fsync_error` are hosts that do not.
"""

from __future__ import annotations

import errno
import random
from dataclasses import dataclass
from typing import Any

from roost.raft import ConfState, Entry, HardState, MemoryStorage, Snapshot

#: journal operations
_HS, _SNAP, _ENTS, _CREATE, _COMPACT = range(5)


@dataclass
class DiskFaults:
    """Per-operation fault probabilities (0 for a clean disk)."""

    write_error: float = 0.0  # ENOSPC or EIO on a write
    fsync_error: float = 0.0  # EIO on fsync, unsynced writes lost
    torn: float = 0.4  # the last write a crash keeps is torn


class SimDisk(MemoryStorage):
    def __init__(self, rng: random.Random | None = None,
                 faults: DiskFaults | None = None) -> None:
        super().__init__()
        self.durable = MemoryStorage()
        self.journal: list[tuple[int, Any]] = []
        self.rng = rng or random.Random(0)
        self.faults = faults or DiskFaults()
        self.write_errors = 0
        self.fsync_errors = 0

    def bootstrap(self, conf: ConfState) -> None:
        super().bootstrap(conf)
        self.durable.bootstrap(conf)  # written by `roost init`, synced before the first start

    # -- writes: the page cache sees them at once, the disk at sync --
    def _write(self, op: int, arg: Any) -> None:
        f = self.faults
        if f.write_error and self.rng.random() < f.write_error:
            self.write_errors += 1
            code = errno.ENOSPC if self.rng.random() < 0.5 else errno.EIO
            raise OSError(code, f"simulated {errno.errorcode[code]}")
        self.journal.append((op, arg))

    def set_hard_state(self, hs: HardState) -> None:
        self._write(_HS, hs)
        super().set_hard_state(hs)

    def apply_snapshot(self, snap: Snapshot) -> None:
        self._write(_SNAP, snap)
        super().apply_snapshot(snap)

    def append(self, ents: list[Entry] | tuple[Entry, ...]) -> None:
        if not ents:
            return
        self._write(_ENTS, tuple(ents))
        super().append(ents)

    def create_snapshot(self, index: int, conf: ConfState, data: bytes) -> Snapshot:
        self._write(_CREATE, (index, conf, data))
        return super().create_snapshot(index, conf, data)

    def compact(self, index: int) -> None:
        self._write(_COMPACT, index)
        super().compact(index)

    # -- fsync and crash --
    def sync(self) -> None:
        """fsync: the journal reaches the disk, or (a fault) is lost with an EIO."""
        if not self.journal:
            return
        if self.faults.fsync_error and self.rng.random() < self.faults.fsync_error:
            self.fsync_errors += 1
            self.journal.clear()  # the pages are clean now: a retry "succeeds"
            raise OSError(errno.EIO, "simulated fsync EIO")
        self._replay(self.journal)
        self.journal.clear()

    @property
    def synced(self) -> bool:
        return not self.journal

    def crash(self) -> None:
        """Power loss: keep the durable state and a prefix of the unsynced writes (the
        last kept one perhaps torn); the process's view becomes what the disk holds."""
        kept = self.journal[: self.rng.randint(0, len(self.journal))]
        if kept and kept[-1][0] == _ENTS and self.rng.random() < self.faults.torn:
            ents = kept[-1][1]
            cut = self.rng.randint(0, len(ents) - 1)
            kept[-1] = (_ENTS, ents[:cut])
        self._replay(kept)
        self.journal.clear()
        d = self.durable
        self.hard_state, self._snapshot, self._ents = d.hard_state, d.snapshot(), list(d._ents)

    def _replay(self, ops: list[tuple[int, Any]]) -> None:
        d = self.durable
        for op, arg in ops:
            try:
                if op == _HS:
                    d.set_hard_state(arg)
                elif op == _SNAP:
                    d.apply_snapshot(arg)
                elif op == _ENTS:
                    d.append(arg)
                elif op == _CREATE:
                    d.create_snapshot(*arg)
                else:
                    d.compact(arg)
            except Exception:
                return
