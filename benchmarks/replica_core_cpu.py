"""CPU per write of three replica cores in one process, with no disk, sockets or loop: the
replicated write path's logic and its host glue (effects taken and performed after each
input, as `RaftLog` does), raft's messages encoded and decoded as on the wire.

    python3 benchmarks/replica_core_cpu.py --writes 20000 --batch 32 --reps 5

Each round proposes `--batch` creates on the leader and as many on a follower (which
forwards them), then runs every core's Ready cycle and delivers the messages until all
is quiet. Prints the process CPU per write of the fastest of `--reps` runs (the one the
machine's other load disturbed least).
"""

from __future__ import annotations

import argparse
import random
import time
from collections import deque

from roost.raft import Config, ConfState, MemoryStorage, RaftNode
from roost.replica.core import CH_RAFT, CoreConfig, ReplicaCore
from roost.replica.effects import Messages, Reply, Send
from roost.replica.member import Member
from roost.replica.state import ReplicaState
from roost.tree import TreeConfig
from roost.tree.txn import Kind, Txn, TxnResult
from roost.wire.opcodes import Op
from roost.wire.records import ACL, CreateRequest, Id

OPEN = [ACL(31, Id("world", "anyone"))]
MEMBERS = tuple(Member(i, "127.0.0.1", 2180 + i, 2880 + i) for i in (1, 2, 3))


class Group:
    def __init__(self) -> None:
        self.now = 0.0
        self.wire: deque[tuple[int, int, int, bytes]] = deque()
        self.stores: dict[int, MemoryStorage] = {}
        self.cores: dict[int, ReplicaCore] = {}
        self.replies = 0
        conf = ConfState(frozenset(m.id for m in MEMBERS))
        for m in MEMBERS:
            st = MemoryStorage()
            st.bootstrap(conf)
            self.stores[m.id] = st
            state = ReplicaState(m.id, 100 + m.id, TreeConfig(), {}, lambda z, t, r: None)
            state.load(b"", {x.id: x for x in MEMBERS})
            node = RaftNode(Config(id=m.id, election_tick=10, heartbeat_tick=1), st,
                            random.Random(m.id))
            self.cores[m.id] = ReplicaCore(state, node, CoreConfig(10, 0.05, 5.0, 10**6,
                                                                   MEMBERS), self.now)

    def perform(self, nid: int) -> None:
        core = self.cores[nid]
        if not core.effects:
            return
        wire = self.wire
        for e in core.take_effects():
            if isinstance(e, Messages):
                for m in e.messages:
                    wire.append((nid, m.to, CH_RAFT, m.to_bytes()))
            elif isinstance(e, Send):
                wire.append((nid, e.to, e.channel, e.payload))
            elif isinstance(e, Reply):
                e.done(e.zxid, e.result)

    def settle(self) -> None:
        for _ in range(10_000):
            busy = False
            for nid, core in self.cores.items():
                self.perform(nid)
                st = self.stores[nid]
                while (rd := core.ready(self.now)) is not None:
                    self.perform(nid)
                    busy = True
                    if rd.entries:
                        st.append(rd.entries)
                    if rd.hard_state is not None:
                        st.set_hard_state(rd.hard_state)
                    core.persisted(rd, b"")
                    self.perform(nid)
                    core.advance(rd)
                    self.perform(nid)
                core.settle(self.now)
                self.perform(nid)
            while self.wire:
                busy = True
                frm, to, ch, payload = self.wire.popleft()
                self.cores[to].receive(frm, ch, payload, self.now)
                self.perform(to)
            if not busy:
                return
        raise AssertionError("the group never went quiet")

    def done(self, zxid: int, result: TxnResult) -> None:
        self.replies += 1


def create(path: str) -> Txn:
    req = CreateRequest(path, b"x" * 100, OPEN, 0)
    return Txn(Kind.REQUEST, 0, 1, (), int(Op.CREATE), req.to_bytes(), request=req)


def run(writes: int, batch: int) -> float:
    g = Group()
    g.cores[1].node.campaign()
    g.settle()
    leader, follower = g.cores[1], g.cores[2]
    n = 0
    started = time.process_time()
    while n < writes:
        for _ in range(batch):
            n += 1
            leader.propose(create(f"/l{n}"), g.done, None, g.now)
            g.perform(1)
            follower.propose(create(f"/f{n}"), g.done, None, g.now)
            g.perform(2)
        g.settle()
        g.now += 0.05
        for nid, core in g.cores.items():
            core.tick(g.now)
            g.perform(nid)
        g.settle()
    spent = time.process_time() - started
    assert g.replies == 2 * n, (g.replies, n)
    return spent / (2 * n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--writes", type=int, default=20000, help="rounds x batch, per member")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    best = min(run(args.writes, args.batch) for _ in range(args.reps))
    print(f"replica core: {best * 1e6:.1f} us CPU per write (best of {args.reps}, "
          f"{2 * args.writes} writes, batch {args.batch})")


if __name__ == "__main__":
    main()
