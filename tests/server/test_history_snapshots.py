"""The event history in snapshot files, and what the server does when one is loaded.

Both payload layouts (a standalone server's, an ensemble member's) carry the history
image next to the tree, and both still read the layout from before (no history). A
snapshot loaded under live streams (an ensemble member installing a leader's snapshot)
sends them what they missed, or drops them when its history starts too late.
"""

from __future__ import annotations

from pathlib import Path

import msgpack
import pytest

from roost.raft import ConfState
from roost.server.history import EventHistory, HistoryEvent, Limits, encode
from roost.server.raftstore import RaftStore, decode_snapshot_payload, encode_snapshot_payload
from roost.server.standalone import decode_payload, encode_payload
from roost.server.streams import Stream, StreamHub
from roost.storage import DataDir, HardState
from roost.storage.errors import CorruptSnapshotError, UnsupportedFormatError
from roost.tree import DataTree
from roost.wire.opcodes import EventType

CREATED = int(EventType.NODE_CREATED)


def history(floor: int, zxids: range, limits: Limits | None = None) -> EventHistory:
    h = EventHistory(limits, floor)
    for z in zxids:
        h.append(z, 1000 + z, [HistoryEvent(CREATED, f"/n{z}", str(z).encode(), ())])
    return h


def test_standalone_payload_splits_and_reads_the_old_layout() -> None:
    tree = DataTree().to_bytes()
    image = encode(history(0, range(1, 4)), 5)
    got_tree, got_history = decode_payload(memoryview(encode_payload(tree, image)), "p")
    assert (bytes(got_tree), got_history) == (tree, image)
    old_tree, none = decode_payload(memoryview(tree), "p")  # before histories were saved
    assert (bytes(old_tree), none) == (tree, None)
    newer = bytearray(encode_payload(tree, image))
    newer[4] = 2
    with pytest.raises(UnsupportedFormatError, match="snapshot payload format version 2"):
        decode_payload(memoryview(bytes(newer)), "p")
    with pytest.raises(CorruptSnapshotError, match="past the payload"):
        decode_payload(memoryview(encode_payload(b"", image)[:-1]), "p")


def test_ensemble_payload_carries_the_history_and_reads_format_1(tmp_path: Path) -> None:
    conf = ConfState(frozenset({1, 2, 3}))
    image = encode(history(0, range(1, 4)), 7)
    assert decode_snapshot_payload(encode_snapshot_payload(conf, b"state", image)) == (
        conf, b"state", image)
    assert decode_snapshot_payload(encode_snapshot_payload(conf, b"state")) == (
        conf, b"state", None)
    # a data dir whose snapshot has the format 1 payload (no history) still loads
    v1 = msgpack.packb([1, conf.to_list(), b"state"], use_bin_type=True)
    dd = DataDir.open(tmp_path / "d")
    try:
        dd.snapshots.save(7, 2, v1)
        dd.wal.reset(7, 2)
        dd.hardstate.save(HardState(2, 0, 7))
        store = RaftStore(dd)
        assert store.load(conf) is True
        assert (store.state_image, store.history_image) == (b"state", None)
        assert store.snapshot_meta().index == 7
    finally:
        dd.close()
    with pytest.raises(ValueError, match="unknown snapshot payload version 3"):
        decode_snapshot_payload(msgpack.packb([3, [], b"", None]))


def open_stream(hub: StreamHub, since: int) -> tuple[list[int], list[int]]:
    """A live recursive stream on / from `since`: (zxids sent, floors it was lost at)."""
    sent: list[int] = []
    lost: list[int] = []
    stream = Stream(object(), 1, "/", True, lambda: (), lambda z, evs: sent.append(z),
                    lost.append)
    hub.subscribe(stream, since)
    return sent, lost


def test_a_snapshot_loaded_under_live_streams_catches_them_up_or_drops_them() -> None:
    limits = Limits(100, 10**6, 10**6)
    hub = StreamHub(limits)
    hub.history = history(0, range(1, 6), limits)
    sent, lost = open_stream(hub, 3)
    assert sent == [4, 5]
    # the snapshot at 9 reaches back past 5: the stream gets 6..9 and stays live
    hub.restore(encode(history(0, range(1, 10), limits), 9), 9)
    assert (sent, lost, hub.count()) == ([4, 5, 6, 7, 8, 9], [], 1)
    assert (hub.history.floor, hub.history.last) == (0, 9)
    # one whose history starts at 12: the stream cannot go on without a gap
    hub.restore(encode(history(12, range(13, 15), limits), 20), 20)
    assert (sent[-1], lost, hub.count()) == (9, [12], 0)
    # no history in the snapshot (an older roost wrote it), or an unusable one
    hub.restore(None, 30)
    assert (hub.history.floor, hub.history.last, hub.history.events) == (30, 30, 0)
    hub.restore(b"junk", 40)
    assert (hub.history.floor, hub.history.last) == (40, 40)
    hub.restore(encode(history(0, range(1, 4), limits), 45), 50)  # not the snapshot's zxid
    assert (hub.history.floor, hub.history.last) == (50, 50)
