"""A one-member replication group: a txn commits once it is fsynced in the write-ahead log.

Group commit: every txn proposed while the previous batch was being written and
fsynced goes into the next batch, which costs one write() and one fsync(). The
log is the one the Raft ensemble will use (entries carry term and index; zxid =
index), so the ensemble replaces this class, not the layers around it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import os
import struct
import time
from collections.abc import Callable

from roost.raft import RaftNode
from roost.replica.log import Applied, Done
from roost.replica.member import Member
from roost.replica.order import effects
from roost.replica.state import LOST
from roost.server.handoff import DiskThread
from roost.server.snapfork import fork_writer
from roost.server.stats import Stats
from roost.storage import DataDir, Entry
from roost.storage.errors import CorruptSnapshotError, UnsupportedFormatError, unsupported_format
from roost.tree import DataTree, TreeConfig
from roost.tree.txn import Txn, apply_nothing, apply_txn

log = logging.getLogger("roost.log")

#: A snapshot's payload: this header (magic, format version, reserved, the history image's
#: length), the event history's image (roost.server.history), then the tree image. A
#: payload without the header is a tree image alone (written before histories were saved,
#: or restored from a backup): it loads, and the history starts at the snapshot.
_PAYLOAD = struct.Struct("<4sHHQ")
_PAYLOAD_MAGIC = b"RSTH"
_PAYLOAD_VERSION = 1


def encode_payload(tree_image: bytes, history_image: bytes) -> bytes:
    head = _PAYLOAD.pack(_PAYLOAD_MAGIC, _PAYLOAD_VERSION, 0, len(history_image))
    return b"".join((head, history_image, tree_image))


def decode_payload(payload: memoryview, path: object) -> tuple[memoryview, bytes | None]:
    """(tree image, history image or None) of a snapshot's payload (no copy of the tree)."""
    if bytes(payload[:4]) != _PAYLOAD_MAGIC:
        return payload, None  # a tree image alone (msgpack: it starts with an array header)
    if len(payload) < _PAYLOAD.size:
        raise CorruptSnapshotError(f"{path}: snapshot payload of {len(payload)} bytes")
    _, version, _, length = _PAYLOAD.unpack_from(payload)
    if version != _PAYLOAD_VERSION:
        raise UnsupportedFormatError(
            f"{path}: {unsupported_format('snapshot payload', version, _PAYLOAD_VERSION)}"
        )
    end = _PAYLOAD.size + length
    if end > len(payload):
        raise CorruptSnapshotError(f"{path}: history image of {length} bytes past the payload")
    return payload[end:], bytes(payload[_PAYLOAD.size : end])

#: term used for every entry of a standalone server
TERM = 1
#: log entries read at a time while replaying the log at start-up
REPLAY_CHUNK_BYTES = 4 << 20
#: after recovering at least this many znodes, move them out of the cyclic collector's reach
FREEZE_NODES = 100_000
#: A clean stop writes a snapshot only when replaying the log tail at the next start would
#: cost more than writing it now: replaying a txn costs about as much as snapshotting this
#: many znodes (1M znodes here: ~20 us to replay a create, ~3 us per znode to snapshot).
REPLAY_COST_IN_NODES = 8


class StandaloneLog:
    """The `ReplicaLog` of a standalone server: a one-member group that commits on fsync."""

    def __init__(
        self,
        datadir: DataDir,
        tree_config: TreeConfig,
        on_applied: Applied,
        snapshot_every: int = 100_000,
        snapshots_to_keep: int = 3,
        fsync: bool = True,
        on_fatal: Callable[[BaseException], None] = lambda e: None,
        server_id: int = 0,
        stats: Stats | None = None,
    ) -> None:
        self.id = server_id
        self.members: dict[int, Member] = {}
        self.node: RaftNode | None = None
        self.on_fatal = on_fatal
        self.stats = stats if stats is not None else Stats()
        self.failed: BaseException | None = None
        self.datadir = datadir
        self.tree_config = tree_config
        self.on_applied = on_applied
        self.on_replayed: Applied = lambda zxid, txn, result: None  # set before recover()
        self.history_image: Callable[[int], bytes] = lambda index: b""
        self.on_history: Callable[[bytes | None, int], None] = lambda image, index: None
        self.snapshot_every = snapshot_every
        self.snapshots_to_keep = snapshots_to_keep
        self.fsync = fsync
        self.tree = DataTree(tree_config)
        self.last_index = 0
        self.snapshot_index = 0
        self._previous_snapshot = 0
        self._snapshot_task: asyncio.Task[None] | None = None
        self._snapshot_started = 0.0
        self._pending: list[tuple[Txn, Done | None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        #: a batch is in the worker thread (the txns proposed meanwhile wait in _pending)
        self._busy = False
        self._scheduled = False
        #: set while no batch is being written (close waits for it)
        self._idle = asyncio.Event()
        #: appends and fsyncs the batches, one at a time
        self._disk = DiskThread("roost-wal")
        self._idle.set()
        self._closing = False
        self.fsync_count = 0
        self.batches = 0

    # --- the group of one ---------------------------------------------------------------
    @property
    def ensemble(self) -> bool:
        return False

    @property
    def leader(self) -> int:
        return self.id

    @property
    def is_leader(self) -> bool:
        return True

    @property
    def may_expire(self) -> bool:
        return True

    def may_answer(self, session_id: int) -> bool:
        return True  # the group of one is its own leader

    def granted_until(self, session_id: int) -> float:
        return math.inf

    @property
    def partitioned(self) -> bool:
        return False

    @property
    def serving(self) -> bool:
        return self.failed is None

    def barrier(self, then: Callable[[], None], on_timeout: Callable[[], None]) -> None:
        then()  # every proposed txn is applied before its proposer hears of it

    def touch(self, session_id: int) -> None:
        pass  # sessions are tracked by the server itself

    def config_text(self) -> bytes:
        return b""

    # --- start-up ------------------------------------------------------------------
    def recover(self) -> None:
        """Load the newest snapshot, then replay the log after it. Raises on corruption."""
        t0 = time.monotonic()
        collecting = gc.isenabled()
        gc.disable()  # a million new long-lived objects: collections would find nothing
        try:
            self._load_snapshot()
            t1 = time.monotonic()
            replayed = self._replay()
        finally:
            if collecting:
                gc.enable()
        if self.tree.node_count() >= FREEZE_NODES:
            # A full collection would walk every znode (~0.5 s per million, and once more at
            # exit); znodes hold no reference cycles, so reference counting still frees them.
            gc.freeze()
        self.last_index = max(self.datadir.wal.last_index, self.snapshot_index, self.tree.last_zxid)
        apply_nothing(self.tree, self.last_index)
        t2 = time.monotonic()
        log.info(
            "recovered %d nodes, %d sessions, zxid 0x%x in %.3fs (snapshot at 0x%x loaded in "
            "%.3fs, %d txns replayed in %.3fs)",
            self.tree.node_count(),
            len(self.tree.sessions),
            self.last_index,
            t2 - t0,
            self.snapshot_index,
            t1 - t0,
            replayed,
            t2 - t1,
        )

    def _load_snapshot(self) -> None:
        snap = self.datadir.snapshots.latest_view()
        if snap is None:
            return
        meta, payload = snap
        del snap
        data, history = decode_payload(payload, meta.path)
        del payload
        self.tree = DataTree.from_bytes(data, self.tree_config)
        del data  # the file's bytes go now, not after the log replay
        self.snapshot_index = self._previous_snapshot = meta.index
        self.on_history(history, meta.index)
        if self.datadir.align_log(meta):
            log.warning("log did not continue snapshot 0x%x: restarted after it", meta.index)

    def _replay(self) -> int:
        """Apply the log entries after the snapshot, reading a few MiB of them at a time."""
        wal = self.datadir.wal
        start = index = max(self.snapshot_index + 1, wal.first_index)
        end = wal.last_index + 1
        while index < end:
            batch = wal.entries(index, end, max_bytes=REPLAY_CHUNK_BYTES)
            for entry in batch:
                txn = Txn.from_bytes(entry.data)
                self.on_replayed(entry.index, txn, apply_txn(self.tree, entry.index, txn))
            index = batch[-1].index + 1
        return max(0, end - start)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._pending:
            self._scheduled = True
            self._loop.call_soon(self._write_batch)

    # --- proposing ---------------------------------------------------------------
    def propose(
        self, txn: Txn, done: Done | None = None, abandoned: Callable[[], bool] | None = None
    ) -> None:
        """Queue `txn` for the next group commit; `abandoned` is accepted for symmetry with
        the ensemble's log (a single member never sends a txn twice)."""
        if self._closing:
            raise RuntimeError("log is closed")
        if self.failed is not None:  # storage failed: nothing is acknowledged any more
            if done is not None:
                done(0, LOST)
            return
        self._pending.append((txn, done))
        if not self._busy and not self._scheduled and self._loop is not None:
            # at the next turn of the loop: the requests read together go into one batch
            self._scheduled = True
            self._loop.call_soon(self._write_batch)

    # Callbacks, not a task: the batch goes to the worker thread, which hands it back with
    # one call_soon_threadsafe; the txns proposed meanwhile form the next batch, written
    # as soon as this one is applied.
    def _write_batch(self) -> None:
        self._scheduled = False
        if self._busy or not self._pending or self.failed is not None or self._loop is None:
            return
        batch, self._pending = self._pending, []
        first = self.last_index + 1
        entries = [Entry(TERM, first + i, txn.to_bytes()) for i, (txn, _) in enumerate(batch)]
        self._busy = True
        self._idle.clear()
        self._disk.run(self._loop, lambda: self._write(entries),
                       lambda exc: self._written(batch, first, exc))

    def _written(
        self, batch: list[tuple[Txn, Done | None]], first: int, exc: BaseException | None
    ) -> None:
        self._busy = False
        if exc is not None:
            # A txn that is not durable must never be acknowledged, nor retried: after a
            # failed write or fsync what is on disk is unknown. Fence this server.
            self.failed = exc
            batch, self._pending = batch + self._pending, []
            for _txn, done in batch:
                if done is not None:  # outcome unknown: the client sees ConnectionLoss
                    done(0, LOST)
            self._idle.set()
            self.on_fatal(exc)
            return
        self.last_index = first + len(batch) - 1
        tree, on_applied = self.tree, self.on_applied
        for i, (txn, done) in enumerate(batch):
            zxid = first + i
            result = apply_txn(tree, zxid, txn)
            effects(on_applied, done, zxid, txn, result)  # watches, then the reply
        self.batches += 1
        if self.last_index - self.snapshot_index >= self.snapshot_every:
            self._background_snapshot()
        if self._pending:
            self._write_batch()
        if not self._busy:
            self._idle.set()

    def _write(self, entries: list[Entry]) -> None:
        wal = self.datadir.wal
        wal.append(entries)
        if self.fsync:
            started = time.monotonic()
            wal.sync()
            self.stats.fsync_seconds.observe(time.monotonic() - started)
            self.fsync_count += 1

    # --- snapshots -------------------------------------------------------------------
    async def snapshot(self) -> None:
        """Write a snapshot of the tree at the last applied index, then compact the log
        (in this process: the tree cannot change meanwhile)."""
        index = self.last_index
        started = time.monotonic()
        data = encode_payload(self.tree.to_bytes(), self.history_image(index))
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.datadir.snapshots.save, index, TERM, data)
        await loop.run_in_executor(None, self._after_snapshot, index)
        self.stats.snapshot_seconds.observe(time.monotonic() - started)
        log.info("snapshot at zxid 0x%x (%d bytes)", index, len(data))

    def _background_snapshot(self) -> None:
        """Snapshot without stopping writes: a forked child serializes its copy-on-write
        image of the tree and writes the file; this process goes on at once."""
        if self._snapshot_task is not None and not self._snapshot_task.done():
            return
        index = self.last_index
        self.snapshot_index = index  # no new attempt before the next snapshot_every txns
        self._snapshot_started = time.monotonic()
        tree, snapshots, history = self.tree, self.datadir.snapshots, self.history_image
        pid = fork_writer(
            lambda: snapshots.save(index, TERM, encode_payload(tree.to_bytes(), history(index)))
        )
        self._snapshot_task = asyncio.get_running_loop().create_task(
            self._reap_snapshot_child(pid, index)
        )

    async def _reap_snapshot_child(self, pid: int, index: int) -> None:
        loop = asyncio.get_running_loop()
        _, status = await loop.run_in_executor(None, os.waitpid, pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            self.stats.snapshot_failures += 1
            log.error(
                "snapshot at zxid 0x%x failed (child status %d); the log is kept", index, status
            )
            return
        await loop.run_in_executor(None, self._after_snapshot, index)
        self.stats.snapshot_seconds.observe(time.monotonic() - self._snapshot_started)
        log.info("snapshot at zxid 0x%x written in the background", index)

    def _after_snapshot(self, index: int) -> None:
        self.snapshot_index = max(self.snapshot_index, index)
        self.datadir.snapshots.prune(self.snapshots_to_keep)
        # Keep the log back to the previous snapshot: if the newest snapshot is ever lost,
        # deleting it lets the older one plus the log rebuild the same state.
        if self._previous_snapshot:
            self.datadir.wal.compact(self._previous_snapshot)
        self._previous_snapshot = index

    async def close(self, snapshot: bool = True) -> None:
        """Finish every proposed txn and any snapshot being written, then stop; with
        `snapshot`, write one if that is cheaper than replaying the log tail at start."""
        self._closing = True
        self._write_batch()  # what was proposed and not written yet
        await self._idle.wait()
        self._disk.close()
        if self._snapshot_task is not None:
            await self._snapshot_task
        if snapshot and self._stop_snapshot_pays():
            try:
                await self.snapshot()
            except Exception as e:  # disk full, I/O error, data dir gone: the log has it all
                log.error(
                    "final snapshot at zxid 0x%x failed: %s; stopping without it (the "
                    "write-ahead log keeps every acknowledged write)",
                    self.last_index,
                    e,
                )
        if self.tree.node_count() >= FREEZE_NODES:
            gc.freeze()  # a server process exits next: its last collection would walk them all

    def _stop_snapshot_pays(self) -> bool:
        tail = self.last_index - self._previous_snapshot  # after the newest snapshot written
        return tail > 0 and tail * REPLAY_COST_IN_NODES >= self.tree.node_count()
