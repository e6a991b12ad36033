"""Three replica cores wired by an in-memory network and driven by hand (no sockets, no
clock, no threads): the host's part of `roost.replica.core` in a few lines, for tests and
benchmarks/replica_core_cpu.py. Each core's effects are performed in order; raft's
Ready is persisted to a `MemoryStorage`; messages travel on a FIFO wire."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable

from roost.raft import Config, ConfState, MemoryStorage, RaftNode
from roost.replica.core import CH_RAFT, CoreConfig, ReplicaCore
from roost.replica.effects import (
    Effect,
    Messages,
    ReadReady,
    ReadTimedOut,
    Reply,
    Send,
)
from roost.replica.member import Member
from roost.replica.state import ReplicaState
from roost.tree import TreeConfig

MEMBERS = tuple(Member(i, "127.0.0.1", 2180 + i, 2880 + i) for i in (1, 2, 3))
TICK = 0.05


class Group:
    def __init__(self, max_waiting: int = 1000) -> None:
        self.now = 0.0
        self.wire: deque[tuple[int, int, int, bytes]] = deque()
        self.stores: dict[int, MemoryStorage] = {}
        self.cores: dict[int, ReplicaCore] = {}
        #: per member: sees each of its core's effects before the group performs it
        self.hooks: dict[int, Callable[[Effect], None]] = {}
        #: members cut off: nothing reaches them or leaves them
        self.cut: set[int] = set()
        #: read barriers under way: ctx -> (then, on_timeout)
        self.reads: dict[bytes, tuple[Callable[[], None], Callable[[], None]]] = {}
        conf = ConfState(frozenset(m.id for m in MEMBERS))
        for m in MEMBERS:
            st = MemoryStorage()
            st.bootstrap(conf)
            self.stores[m.id] = st
            state = ReplicaState(m.id, 100 + m.id, TreeConfig(), {}, lambda z, t, r: None)
            state.load(b"", {x.id: x for x in MEMBERS})
            node = RaftNode(Config(id=m.id, election_tick=10, heartbeat_tick=1), st,
                            random.Random(m.id))
            cfg = CoreConfig(10, TICK, 5.0, max_waiting, MEMBERS)
            self.cores[m.id] = ReplicaCore(state, node, cfg, self.now)

    def perform(self, nid: int) -> None:
        """Carry out member `nid`'s effects, in order (the host's part)."""
        hook = self.hooks.get(nid)
        for e in self.cores[nid].take_effects():
            if hook is not None:
                hook(e)
            if isinstance(e, Messages):
                self.wire.extend((nid, m.to, CH_RAFT, m.to_bytes()) for m in e.messages)
            elif isinstance(e, Send):
                self.wire.append((nid, e.to, e.channel, e.payload))
            elif isinstance(e, Reply):
                e.done(e.zxid, e.result)
            elif isinstance(e, ReadReady):
                self.reads.pop(e.ctx)[0]()
            elif isinstance(e, ReadTimedOut):
                self.reads.pop(e.ctx)[1]()

    def barrier(self, nid: int, ctx: bytes, then: Callable[[], None],
                on_timeout: Callable[[], None]) -> None:
        self.reads[ctx] = (then, on_timeout)
        self.cores[nid].barrier(ctx, self.now)
        self.perform(nid)

    def settle(self) -> None:
        """Run every core's Ready/Advance loop and deliver messages until all is quiet."""
        for _ in range(1000):
            busy = False
            for nid, core in self.cores.items():
                self.perform(nid)  # (of inputs given outside the group)
                st = self.stores[nid]
                while (rd := core.ready(self.now)) is not None:
                    self.perform(nid)
                    busy = True
                    if rd.snapshot is not None:
                        st.apply_snapshot(rd.snapshot)
                    if rd.entries:
                        st.append(rd.entries)
                    if rd.hard_state is not None:
                        st.set_hard_state(rd.hard_state)
                    core.persisted(rd, rd.snapshot.data if rd.snapshot is not None else b"")
                    self.perform(nid)
                    core.advance(rd)
                    self.perform(nid)
                core.settle(self.now)
                self.perform(nid)
            while self.wire:
                busy = True
                frm, to, ch, payload = self.wire.popleft()
                if frm in self.cut or to in self.cut:
                    continue
                self.cores[to].receive(frm, ch, payload, self.now)
                self.perform(to)
            if not busy:
                return
        raise AssertionError("the group never went quiet")

    def tick(self, n: int = 1) -> None:
        for _ in range(n):
            self.now += TICK
            for nid, core in self.cores.items():
                core.tick(self.now)
                self.perform(nid)
            self.settle()
