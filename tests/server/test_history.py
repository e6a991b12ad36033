"""EventHistory against a model that keeps every event ever appended.

The model answers "events after Z on PATH" from the full record; the history must give
the same answer for every Z at or above its floor, `Compacted(floor)` below it, stay
within its bounds after every append, and trim no more than the bounds demand.
"""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.server.history import (
    EVENT_OVERHEAD,
    GROUP_OVERHEAD,
    IMAGE_VERSION,
    Compacted,
    EventHistory,
    HistoryEvent,
    HistoryImageError,
    Limits,
    decode,
    encode,
    matches,
)
from roost.wire.opcodes import EventType
from roost.wire.records import ACL, Id

PATHS = ["/", "/a", "/a/b", "/a/bc", "/a/b/c", "/b"]
TYPES = [
    EventType.NODE_CREATED,
    EventType.NODE_DELETED,
    EventType.NODE_DATA_CHANGED,
    EventType.NODE_CHILDREN_CHANGED,
    EventType.NODE_ACL_CHANGED,
]

ACLS = [
    (),
    (ACL(31, Id("world", "anyone")),),
    (ACL(1, Id("digest", "u:x")), ACL(31, Id("ip", "127.0.0.1"))),
]
events_st = st.builds(
    HistoryEvent,
    st.sampled_from(TYPES).map(int),
    st.sampled_from(PATHS),
    st.one_of(st.none(), st.binary(max_size=40)),
    st.sampled_from(ACLS),
)
# (zxid step, time step, events of that zxid)
txns_st = st.lists(
    st.tuples(
        st.integers(1, 3), st.integers(0, 50), st.lists(events_st, max_size=4)
    ),
    max_size=60,
)
limits_st = st.builds(
    Limits,
    st.integers(1, 12),
    st.integers(EVENT_OVERHEAD, 8 * (EVENT_OVERHEAD + GROUP_OVERHEAD)),
    st.integers(0, 300),
)


def model_after(
    record: list[tuple[int, int, list[HistoryEvent]]], z: int, path: str, rec: bool
) -> list[tuple[int, list[HistoryEvent]]]:
    out = []
    for zxid, _, evs in record:
        sel = [e for e in evs if matches(e, path, rec)]
        if zxid > z and sel:
            out.append((zxid, sel))
    return out


@settings(max_examples=300, deadline=None, derandomize=True)
@given(limits_st, st.integers(0, 5), txns_st)
def test_history_matches_model(limits: Limits, start: int, txns: list) -> None:
    h = EventHistory(limits, floor=start)
    record: list[tuple[int, int, list[HistoryEvent]]] = []
    zxid, now = start, 1000
    for dz, dt, evs in txns:
        zxid += dz
        now += dt
        h.append(zxid, now, evs)
        record.append((zxid, now, evs))
        # bounds hold after every append
        assert h.events <= limits.max_events
        assert h.bytes <= limits.max_bytes
        held = list(h.groups_after(h.floor))
        assert sum(len(g.events) for g in held) == h.events
        assert sum(g.size for g in held) == h.bytes
        assert all(g.time_ms >= now - limits.max_age_ms for g in held)
        # trimming is minimal: the newest dropped group would break a bound if it came back
        if h.floor > start:
            dropped = next(r for r in record if r[0] == h.floor)
            n = h.events + len(dropped[2])
            b = h.bytes + GROUP_OVERHEAD + sum(e.size for e in dropped[2])
            assert (
                n > limits.max_events
                or b > limits.max_bytes
                or dropped[1] < now - limits.max_age_ms
            )
    assert h.last == zxid
    for z in range(start - 1, zxid + 2):
        for path in PATHS:
            for rec in (False, True):
                if z < h.floor:
                    with pytest.raises(Compacted) as ei:
                        h.after(z, path, rec)
                    assert ei.value.floor == h.floor
                else:
                    assert h.after(z, path, rec) == model_after(record, z, path, rec)


def test_matches_follows_persistent_watch_rules() -> None:
    ev = HistoryEvent
    created = int(EventType.NODE_CREATED)
    children = int(EventType.NODE_CHILDREN_CHANGED)
    assert matches(ev(created, "/a", None, ()), "/a", False)
    assert not matches(ev(created, "/a/b", None, ()), "/a", False)
    assert matches(ev(children, "/a", None, ()), "/a", False)
    assert matches(ev(created, "/a/b", None, ()), "/a", True)
    assert not matches(ev(created, "/ab", None, ()), "/a", True)
    assert not matches(ev(children, "/a", None, ()), "/a", True)
    assert matches(ev(created, "/x/y", None, ()), "/", True)


def test_zxids_must_grow_and_reset_starts_at_floor() -> None:
    h = EventHistory(Limits(10, 10**6, 10**6))
    h.append(5, 0, [HistoryEvent(int(EventType.NODE_CREATED), "/a", b"x", ())])
    with pytest.raises(ValueError):
        h.append(5, 0, [])
    h.reset(40)
    assert (h.floor, h.last, h.events, h.bytes, len(h)) == (40, 40, 0, 0, 0)
    with pytest.raises(Compacted):
        h.after(39, "/", True)
    assert h.after(40, "/", True) == []


def state(h: EventHistory) -> tuple[object, ...]:
    groups = [(g.zxid, g.time_ms, g.events, g.size) for g in h.groups_after(h.floor)]
    return h.floor, h.last, h.last_time_ms, h.events, h.bytes, groups


@settings(max_examples=300, deadline=None, derandomize=True)
@given(limits_st, st.integers(0, 5), txns_st, st.integers(0, 60), st.integers(0, 3))
def test_an_image_taken_anywhere_continues_as_the_original(
    limits: Limits, start: int, txns: list, cut: int, gap: int
) -> None:
    """The history saved with a snapshot at any zxid, loaded and fed the txns after it,
    equals the history that was never saved (what a restarted member or one that
    installed the snapshot serves equals what the others serve)."""
    h = EventHistory(limits, floor=start)
    zxid, now = start, 1000
    loaded: EventHistory | None = None
    for i, (dz, dt, evs) in enumerate(txns):
        if i == cut:
            # a snapshot at a zxid past the last txn with events (a txn without any, such
            # as a session's creation, or an entry that is no txn, ends at it)
            zxid += gap
            image = encode(h, zxid)
            loaded = decode(image, limits)
            assert loaded.last == zxid
            assert state(loaded)[0] == h.floor and state(loaded)[2:] == state(h)[2:]
            h.last = zxid
        zxid += dz
        now += dt
        h.append(zxid, now, evs)
        if loaded is not None:
            loaded.append(zxid, now, evs)
            assert state(loaded) == state(h)
    if loaded is not None:
        for z in range(h.floor, zxid + 1):
            assert loaded.after(z, "/", True) == h.after(z, "/", True)


def test_a_loaded_image_is_trimmed_to_smaller_limits_and_shares_acls() -> None:
    acl = ACLS[1]
    h = EventHistory(Limits(100, 10**6, 10**6), floor=3)
    for z in range(4, 14):
        h.append(z, 1000 + z, [HistoryEvent(int(EventType.NODE_CREATED), f"/n{z}", b"d", acl)])
    small = decode(encode(h, 20), Limits(4, 10**6, 10**6))
    assert (small.floor, small.last, small.events) == (9, 20, 4)
    assert [z for z, _ in small.after(9, "/", True)] == [10, 11, 12, 13]
    with pytest.raises(Compacted):
        small.after(8, "/", True)
    evs = [e for g in small.groups_after(9) for e in g.events]
    assert evs[0].acl == acl and all(e.acl is evs[0].acl for e in evs)


def test_bad_images_are_refused_with_a_reason() -> None:
    h = EventHistory()
    h.append(2, 5, [HistoryEvent(int(EventType.NODE_CREATED), "/a", b"x", ())])
    good = msgpack.unpackb(encode(h, 2), raw=False)
    with pytest.raises(ValueError, match="past the image"):
        encode(h, 1)

    def image(**change: object) -> bytes:
        raw = list(good)
        names = ["magic", "version", "floor", "last", "last_time", "acls", "groups"]
        for k, v in change.items():
            raw[names.index(k)] = v
        return msgpack.packb(raw, use_bin_type=True)

    cases = {
        b"": "not a history image",
        msgpack.packb(["roost-tree", 1]): "not a history image",
        image(version=IMAGE_VERSION + 1): "was written by a newer roost",
        image(version="x"): "is not one this roost reads",
        image(floor=-1): "bad floor",
        image(last=1): "before its events",
        image(groups=[[2, 5, [[1, "/a", None, 0]]], [2, 5, [[1, "/b", None, 0]]]]): "not after",
        image(groups=[[2, 5, [[1, "/a", None, 3]]]]): "bad history image",
        image(groups=[[2, 5, [[1, "/a", None, -1]]]]): "bad ACL number",
        image(groups=[[2, 5, [[1, 7, None, 0]]]]): "bad event",
        image(groups=[[2, 5, []]]): "has no events",
        image(groups=[[2, 5]]): "bad history image",
        encode(h, 2)[:-3]: "not a history image",
    }
    for blob, reason in cases.items():
        with pytest.raises(HistoryImageError, match=reason):
            decode(blob)
    assert state(decode(encode(h, 2))) == state(h)
