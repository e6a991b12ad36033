"""EventHistory against a model that keeps every event ever appended.

The model answers "events after Z on PATH" from the full record; the history must give
the same answer for every Z at or above its floor, `Compacted(floor)` below it, stay
within its bounds after every append, and trim no more than the bounds demand.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.server.history import (
    EVENT_OVERHEAD,
    GROUP_OVERHEAD,
    Compacted,
    EventHistory,
    HistoryEvent,
    Limits,
    matches,
)
from roost.wire.opcodes import EventType

PATHS = ["/", "/a", "/a/b", "/a/bc", "/a/b/c", "/b"]
TYPES = [
    EventType.NODE_CREATED,
    EventType.NODE_DELETED,
    EventType.NODE_DATA_CHANGED,
    EventType.NODE_CHILDREN_CHANGED,
    EventType.NODE_ACL_CHANGED,
]

events_st = st.builds(
    HistoryEvent,
    st.sampled_from(TYPES).map(int),
    st.sampled_from(PATHS),
    st.one_of(st.none(), st.binary(max_size=40)),
    st.just(()),
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
