"""WatchManager against a model of its semantics, both index directions, and cheap drops.

The model is a set of (table, path, watcher) triples: which watchers hear which event
(one-shot data/child watches are consumed, persistent ones stay, recursive ones cover
the subtree but not child events), and a closed connection forgets everything.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from roost.server.watches import CHILD, DATA, PERSISTENT, RECURSIVE, WatchManager, ancestors
from roost.tree import WatchEvent
from roost.wire.opcodes import EventType, WatcherType
from roost.wire.records import ACL, Id

PATHS = ["/", "/a", "/a/b", "/a/b/c", "/a/d", "/e", "/e/f"]
EVENTS = [
    EventType.NODE_CREATED,
    EventType.NODE_DELETED,
    EventType.NODE_DATA_CHANGED,
    EventType.NODE_CHILDREN_CHANGED,
]
WTYPES = [WatcherType.CHILDREN, WatcherType.DATA, WatcherType.ANY]
SOME_ACL = (ACL(1, Id("world", "anyone")),)

Triple = tuple[int, str, "Recorder"]


@dataclass(eq=False)
class Recorder:
    """A watcher that remembers what it heard, in order."""

    name: str
    heard: list[tuple[int, str, tuple[ACL, ...]]] = field(default_factory=list)

    def notify(self, ev_type: int, path: str, acl: tuple[ACL, ...]) -> None:
        self.heard.append((ev_type, path, acl))


class Model:
    """The expected behaviour, written as plainly as possible."""

    def __init__(self) -> None:
        self.triples: set[Triple] = set()

    def add(self, kind: int, path: str, w: Recorder) -> None:
        self.triples.add((kind, path, w))

    def remove(self, path: str, w: Recorder, wtype: int, dry_run: bool) -> bool:
        kinds = {
            WatcherType.CHILDREN: {CHILD},
            WatcherType.DATA: {DATA},
            WatcherType.ANY: {CHILD, DATA, PERSISTENT, RECURSIVE},
        }[WatcherType(wtype)]
        hits = {t for t in self.triples if t[0] in kinds and t[1] == path and t[2] is w}
        if not dry_run:
            self.triples -= hits
        return bool(hits)

    def drop(self, w: Recorder) -> None:
        self.triples = {t for t in self.triples if t[2] is not w}

    def fire(self, ev: WatchEvent) -> dict[Recorder, int]:
        """Who hears one event (watcher -> times heard, which must be 1)."""
        if ev.type == EventType.NODE_CHILDREN_CHANGED:
            keys = {(CHILD, ev.path), (PERSISTENT, ev.path)}
            consumed = {CHILD}
        else:
            keys = {(DATA, ev.path), (PERSISTENT, ev.path)}
            keys |= {(RECURSIVE, p) for p in ancestors(ev.path)}
            consumed = {DATA}
            if ev.type == EventType.NODE_DELETED:
                keys.add((CHILD, ev.path))
                consumed.add(CHILD)
        hit = [t for t in self.triples if (t[0], t[1]) in keys]
        self.triples -= {t for t in hit if t[0] in consumed}
        return {t[2]: 1 for t in hit}


def forward(m: WatchManager) -> set[Triple]:
    out: set[Triple] = set()
    for kind, table in enumerate(m.tables):
        for path, ws in table.items():
            assert ws, f"empty watcher set left in table {kind} at {path}"
            out |= {(kind, path, w) for w in ws}  # type: ignore[misc]
    return out


def reverse(m: WatchManager) -> set[Triple]:
    out: set[Triple] = set()
    for kind, owned in enumerate(m.owned):
        for w, paths in owned.items():
            out |= {(kind, p, w) for p in paths}  # type: ignore[misc]
    return out


def check(m: WatchManager, model: Model, watchers: list[Recorder]) -> None:
    assert forward(m) == model.triples
    assert reverse(m) == model.triples  # a leftover here is a leak
    assert m.count() == len(model.triples)
    for w in watchers:
        want = sorted({p for (_, p, x) in model.triples if x is w})
        assert m.paths_of(w) == want
        assert m.paths_of(w, lambda p: p.startswith("/a")) == [p for p in want if p[:2] == "/a"]
    expect_by_path: dict[str, set[Recorder]] = {}
    for _, p, w in model.triples:
        expect_by_path.setdefault(p, set()).add(w)
    assert m.by_path() == expect_by_path


class Harness:
    """Applies one operation to both the manager and the model and compares."""

    def __init__(self, n_watchers: int = 4) -> None:
        self.m = WatchManager()
        self.model = Model()
        self.ws = [Recorder(f"w{i}") for i in range(n_watchers)]

    def add(self, kind: int, path: str, w: Recorder) -> None:
        if kind == DATA:
            self.m.add_data(path, w)
        elif kind == CHILD:
            self.m.add_child(path, w)
        else:
            self.m.add_persistent(path, w, recursive=kind == RECURSIVE)
        self.model.add(kind, path, w)

    def remove(self, path: str, w: Recorder, wtype: int, dry_run: bool) -> None:
        got = self.m.remove(path, w, wtype, dry_run=dry_run)
        assert got == self.model.remove(path, w, wtype, dry_run)

    def drop(self, w: Recorder) -> None:
        self.m.drop(w)
        self.model.drop(w)
        assert all(w not in owned for owned in self.m.owned)

    def trigger(self, events: list[WatchEvent]) -> None:
        expected: dict[Recorder, list[tuple[int, str, tuple[ACL, ...]]]] = {}
        for ev in events:
            for w in self.model.fire(ev):
                expected.setdefault(w, []).append((ev.type, ev.path, ev.acl))
        for w in self.ws:
            w.heard.clear()
        self.m.trigger(events)
        for w in self.ws:
            assert w.heard == expected.get(w, []), w.name

    def check(self) -> None:
        check(self.m, self.model, self.ws)


class WatchMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.h = Harness()

    @rule(
        kind=st.sampled_from([DATA, CHILD, PERSISTENT, RECURSIVE]),
        path=st.sampled_from(PATHS),
        w=st.integers(0, 3),
    )
    def add(self, kind: int, path: str, w: int) -> None:
        self.h.add(kind, path, self.h.ws[w])

    @rule(
        path=st.sampled_from(PATHS),
        w=st.integers(0, 3),
        wtype=st.sampled_from(WTYPES),
        dry_run=st.booleans(),
    )
    def remove(self, path: str, w: int, wtype: int, dry_run: bool) -> None:
        self.h.remove(path, self.h.ws[w], wtype, dry_run)

    @rule(w=st.integers(0, 3))
    def drop(self, w: int) -> None:
        self.h.drop(self.h.ws[w])

    @rule(
        events=st.lists(
            st.tuples(st.sampled_from(EVENTS), st.sampled_from(PATHS), st.booleans()),
            min_size=1,
            max_size=3,
        )
    )
    def trigger(self, events: list[tuple[int, str, bool]]) -> None:
        self.h.trigger([WatchEvent(t, p, SOME_ACL if a else ()) for t, p, a in events])

    @invariant()
    def indexes_agree(self) -> None:
        self.h.check()


WatchMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, derandomize=True, deadline=None
)
TestWatchMachine = WatchMachine.TestCase


def test_seeded_random_sequences_match_the_model() -> None:
    for seed in range(4):
        rng = random.Random(seed)
        h = Harness(n_watchers=6)
        for _ in range(1500):
            r = rng.random()
            w = rng.choice(h.ws)
            if r < 0.45:
                h.add(rng.choice([DATA, DATA, CHILD, PERSISTENT, RECURSIVE]), rng.choice(PATHS), w)
            elif r < 0.55:
                h.remove(rng.choice(PATHS), w, rng.choice(WTYPES), rng.random() < 0.3)
            elif r < 0.6:
                h.drop(w)
            else:
                n = rng.randint(1, 4)
                h.trigger([WatchEvent(rng.choice(EVENTS), rng.choice(PATHS), ()) for _ in range(n)])
            h.check()
        for w in h.ws:
            h.drop(w)
        h.check()
        assert h.m.count() == 0 and not any(h.m.owned) and not any(h.m.tables)


def test_fired_one_shot_watches_leave_nothing_behind() -> None:
    """A long-lived connection that keeps setting watches on new paths must not grow."""
    m = WatchManager()
    w = Recorder("long-lived")
    for i in range(2000):
        m.add_data(f"/n{i}", w)
        m.add_child(f"/n{i}", w)
        m.trigger([WatchEvent(EventType.NODE_DELETED, f"/n{i}", ())])
    assert len(w.heard) == 2000
    assert m.count() == 0 and not any(m.tables)
    assert reverse(m) == set()
    assert m.paths_of(w) == []
    m.drop(w)
    assert not any(m.owned)


def test_notify_may_change_watches_during_a_trigger() -> None:
    """A watcher that re-registers, or closes another, while being notified."""
    m = WatchManager()
    other = Recorder("other")

    class Rewatcher(Recorder):
        def notify(self, ev_type: int, path: str, acl: tuple[ACL, ...]) -> None:
            super().notify(ev_type, path, acl)
            m.add_data(path, self)
            m.drop(other)

    r = Rewatcher("rewatcher")
    m.add_data("/x", r)
    m.add_data("/x", other)
    m.add_persistent("/x", other, recursive=False)
    m.add_persistent("/", r, recursive=True)
    m.trigger([WatchEvent(EventType.NODE_DATA_CHANGED, "/x", ())] * 2)
    # first event: both hear it; other is dropped; r re-registers and hears the second one
    assert len(r.heard) == 2
    assert len(other.heard) == 1
    model = Model()
    model.add(DATA, "/x", r)
    model.add(RECURSIVE, "/", r)
    check(m, model, [r, other])


class CountingWatcher:
    """Counts how often a set or dict lookup hashes it."""

    def __init__(self) -> None:
        self.hashed = 0

    def __hash__(self) -> int:
        self.hashed += 1
        return id(self) >> 4

    def notify(self, ev_type: int, path: str, acl: tuple[ACL, ...]) -> None:
        pass


def test_drop_and_paths_of_cost_what_the_connection_owns() -> None:
    m = WatchManager()
    big, small = CountingWatcher(), CountingWatcher()
    for i in range(100_000):
        m.add_data(f"/big/{i}", big)
    m.add_persistent("/big/7", big, recursive=True)
    m.add_data("/small", small)
    m.add_child("/big/5", small)
    assert m.count() == 100_003

    small.hashed = big.hashed = 0
    assert m.paths_of(small) == ["/big/5", "/small"]
    assert small.hashed <= 8 and big.hashed == 0  # scanning the tables would hash 100,000 times

    small.hashed = 0
    m.drop(small)
    assert small.hashed <= 8 and big.hashed == 0
    assert m.count() == 100_001
    assert "/small" not in m.data and "/big/5" not in m.child and len(m.data) == 100_000

    # dropping the big one costs one lookup per watch it had, and leaves nothing
    m.drop(big)
    assert big.hashed <= 100_001 + 8
    assert m.count() == 0 and not any(m.tables) and not any(m.owned)


def test_trigger_does_nothing_without_watches() -> None:
    m = WatchManager()
    w = Recorder("w")
    m.add_data("/a", w)
    m.remove("/a", w, WatcherType.DATA)
    m.trigger([WatchEvent(EventType.NODE_DATA_CHANGED, "/a", ())])
    assert w.heard == [] and m.count() == 0 and not any(m.owned)
