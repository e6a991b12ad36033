"""A tiny in-memory harness for raft unit tests: nodes, a message queue, link cuts."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable

from roost.raft import (
    Config,
    ConfState,
    Entry,
    MemoryStorage,
    Message,
    MsgType,
    RaftNode,
    ReadState,
    Role,
)

Drop = Callable[[Message], bool]


class Harness:
    """Nodes that persist every Ready completely, and a network the test controls."""

    def __init__(
        self,
        voters: Iterable[int],
        learners: Iterable[int] = (),
        seed: int = 1,
        **cfg: object,
    ) -> None:
        self.conf = ConfState(frozenset(voters), frozenset(learners))
        self.cfg = cfg
        self.rng = random.Random(seed)
        self.storage: dict[int, MemoryStorage] = {}
        self.nodes: dict[int, RaftNode] = {}
        self.down: set[int] = set()
        self.cut: set[tuple[int, int]] = set()
        self.queue: list[Message] = []
        self.sent: list[Message] = []
        self.applied: dict[int, list[Entry]] = {}
        self.reads: dict[int, list[ReadState]] = {}
        self.snapshots: dict[int, int] = {}  # node -> index of the last snapshot installed
        for n in sorted(self.conf.voters | self.conf.learners):
            st = MemoryStorage()
            st.bootstrap(self.conf)
            self.storage[n] = st
            self.applied[n] = []
            self.reads[n] = []
            self.start(n)

    def config(self, n: int) -> Config:
        applied = self.storage[n].snapshot().meta.index
        return Config(id=n, applied=applied, **self.cfg)  # type: ignore[arg-type]

    def start(self, n: int) -> None:
        self.nodes[n] = RaftNode(self.config(n), self.storage[n],
                                 random.Random(self.rng.getrandbits(32)))
        self.down.discard(n)

    def crash(self, n: int) -> None:
        self.down.add(n)

    def restart(self, n: int) -> None:
        self.start(n)
        self.applied[n] = [e for e in self.applied[n]
                           if e.index <= self.storage[n].snapshot().meta.index]

    # -- network --
    def isolate(self, n: int) -> None:
        for m in self.nodes:
            if m != n:
                self.cut.add((n, m))
                self.cut.add((m, n))

    def partition(self, *groups: Iterable[int]) -> None:
        sets = [set(g) for g in groups]
        for a in sets:
            for b in sets:
                if a is not b:
                    self.cut.update((x, y) for x in a for y in b)

    def heal(self) -> None:
        self.cut.clear()

    # -- driving --
    def process(self, n: int) -> None:
        node = self.nodes[n]
        st = self.storage[n]
        while n not in self.down and node.has_ready():
            rd = node.ready()
            if rd.snapshot is not None:
                st.apply_snapshot(rd.snapshot)
                self.snapshots[n] = rd.snapshot.meta.index
                self.applied[n] = []
            st.append(rd.entries)
            if rd.hard_state is not None:
                st.set_hard_state(rd.hard_state)
            self.queue.extend(rd.messages)
            self.queue.extend(rd.messages_after_persist)
            self.sent.extend(rd.messages)
            self.sent.extend(rd.messages_after_persist)
            self.applied[n].extend(rd.committed_entries)
            self.reads[n].extend(rd.read_states)
            node.advance()

    def process_all(self) -> None:
        for n in sorted(self.nodes):
            self.process(n)

    def deliver(self, drop: Drop | None = None) -> int:
        """Deliver the queued messages once; returns how many arrived."""
        batch, self.queue = self.queue, []
        count = 0
        for m in batch:
            if (m.frm, m.to) in self.cut or m.to in self.down or m.to not in self.nodes:
                continue
            if drop is not None and drop(m):
                continue
            self.nodes[m.to].step(m)
            count += 1
            self.process(m.to)
        return count

    def stabilize(self, drop: Drop | None = None, rounds: int = 200) -> None:
        self.process_all()
        for _ in range(rounds):
            if not self.queue:
                return
            self.deliver(drop)
        raise AssertionError("did not stabilize")

    def tick(self, n: int, times: int = 1) -> None:
        for _ in range(times):
            self.nodes[n].tick()
            self.process(n)

    def tick_all(self, times: int, drop: Drop | None = None) -> None:
        for _ in range(times):
            for n in sorted(self.nodes):
                if n not in self.down:
                    self.nodes[n].tick()
            self.stabilize(drop)

    def elect(self, n: int, drop: Drop | None = None) -> None:
        for _ in range(5):
            self.nodes[n].campaign()
            self.stabilize(drop)
            if self.nodes[n].role is Role.LEADER:
                return
        raise AssertionError(f"node {n} could not win an election")

    def propose(self, n: int, data: bytes, drop: Drop | None = None) -> int:
        idx = self.nodes[n].propose(data)
        self.stabilize(drop)
        return idx

    def log_terms(self, n: int) -> list[int]:
        log = self.nodes[n].raft.log
        return [log.term(i) for i in range(log.first_index(), log.last_index() + 1)]

    def count_sent(self, kind: MsgType, frm: int | None = None) -> int:
        return sum(1 for m in self.sent if m.type is kind and (frm is None or m.frm == frm))


def seed_log(st: MemoryStorage, terms: list[int]) -> None:
    """Give a bootstrapped storage extra entries with these terms (from index 2)."""
    st.append([Entry(t, 2 + k, data=f"e{2 + k}t{t}".encode()) for k, t in enumerate(terms)])
    hs = st.hard_state
    st.set_hard_state(type(hs)(max([hs.term, *terms]), 0, hs.commit))
