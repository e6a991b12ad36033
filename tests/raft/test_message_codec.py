"""Raft messages on the wire: `Message.to_bytes` splices each entry's cached encoding into
the message; the bytes are exactly msgpack of the 14 fields, and they decode back."""

from __future__ import annotations

import random

import msgpack
import pytest

from roost.raft import Entry, Message
from roost.raft.messages import ConfState, EntryKind, MsgType, Snapshot, SnapshotMeta


def reference(m: Message) -> bytes:
    snap = None if m.snapshot is None else m.snapshot.to_list()
    out: bytes = msgpack.packb([
        int(m.type), m.to, m.frm, m.term, m.log_term, m.index,
        [e.to_list() for e in m.entries], m.commit, m.reject, m.reject_hint, m.context,
        snap, m.offset, m.done,
    ])
    return out


@pytest.mark.parametrize("count", [0, 1, 15, 16, 17, 300, 65535, 65536])
def test_bytes_match_plain_msgpack(count: int) -> None:
    rng = random.Random(count)
    ents = tuple(
        Entry(rng.randrange(1, 1 << 40), 1000 + i,
              EntryKind.CONF_CHANGE if i % 7 == 3 else EntryKind.NORMAL,
              rng.randbytes(rng.choice([0, 5, 40, 300, 70000]) if count < 1000 else 3))
        for i in range(count))
    m = Message(MsgType.APP, 2, 1, 1 << 33, log_term=7, index=999, entries=ents,
                commit=1 << 20, reject=False, reject_hint=3, context=b"ctx")
    raw = m.to_bytes()
    assert raw == reference(m)
    assert raw == m.to_bytes()  # second time from the entries' cached encodings
    back = Message.from_bytes(raw)
    assert back == m
    assert [e.data for e in back.entries] == [e.data for e in ents]


def test_snapshot_message_and_cache_is_not_part_of_the_value() -> None:
    snap = Snapshot(SnapshotMeta(5, 2, ConfState(frozenset({1, 2}), frozenset({3}))), b"img")
    m = Message(MsgType.SNAP, 3, 1, 2, snapshot=snap, offset=10, done=False)
    assert m.to_bytes() == reference(m)
    assert Message.from_bytes(m.to_bytes()) == m
    a, b = Entry(1, 2, EntryKind.NORMAL, b"x"), Entry(1, 2, EntryKind.NORMAL, b"x")
    a.packed()
    assert a == b and hash(a) == hash(b) and "packed" not in repr(a)


def test_an_entry_is_encoded_once_for_every_follower() -> None:
    e = Entry(3, 10, EntryKind.NORMAL, b"payload")
    first = Message(MsgType.APP, 2, 1, 3, entries=(e,)).to_bytes()
    cached = e.packed()
    second = Message(MsgType.APP, 3, 1, 3, entries=(e,)).to_bytes()
    assert e.packed() is cached
    assert first[first.index(cached):][:len(cached)] == cached
    assert second.count(cached) == 1
