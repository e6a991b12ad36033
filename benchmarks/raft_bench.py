#!/usr/bin/env python3
"""How many entries per second one raft leader pushes through the pure core.

    python benchmarks/raft_bench.py [--entries 20000] [--size 64] [--batches 1,100]

One leader and three followers (a four-voter group) run in one thread over in-memory
storage: no disk, no sockets, no encoding unless --encode is given. Each round the
leader gets one batch of proposals, then every Ready is handled (persist to
MemoryStorage, deliver messages, apply) until the batch is committed and applied on the
leader. The figure is the baseline for optimising the core, not a prediction for a
real server (which adds fsync and TCP).
"""

from __future__ import annotations

import argparse
import random
import time
from collections import deque

from roost.raft import Config, ConfState, MemoryStorage, Message, RaftNode, Role

VOTERS = (1, 2, 3, 4)


class Bench:
    def __init__(self, encode: bool) -> None:
        conf = ConfState(frozenset(VOTERS))
        self.encode = encode
        self.storage: dict[int, MemoryStorage] = {}
        self.nodes: dict[int, RaftNode] = {}
        for n in VOTERS:
            st = MemoryStorage()
            st.bootstrap(conf)
            self.storage[n] = st
            cfg = Config(id=n, max_inflight_msgs=1024, pre_vote=False)
            self.nodes[n] = RaftNode(cfg, st, random.Random(n))
        self.inbox: deque[Message] = deque()
        self.applied = 0
        self.messages = 0

    def handle(self, n: int) -> None:
        node, st = self.nodes[n], self.storage[n]
        while node.has_ready():
            rd = node.ready()
            self.inbox.extend(rd.messages)
            if rd.entries:
                st.append(rd.entries)
            if rd.hard_state is not None:
                st.set_hard_state(rd.hard_state)
            self.inbox.extend(rd.messages_after_persist)
            if n == 1 and rd.committed_entries:
                self.applied = rd.committed_entries[-1].index
            node.advance()

    def pump(self) -> None:
        for n in VOTERS:
            self.handle(n)
        while self.inbox:
            m = self.inbox.popleft()
            self.messages += 1
            if self.encode:
                m = Message.from_bytes(m.to_bytes())
            self.nodes[m.to].step(m)
            self.handle(m.to)

    def elect(self) -> None:
        self.nodes[1].campaign()
        self.pump()
        assert self.nodes[1].role is Role.LEADER

    def run(self, total: int, batch: int, size: int) -> tuple[float, float, int]:
        """Returns (wall seconds, CPU seconds, entries committed)."""
        payload = b"x" * size
        leader = self.nodes[1]
        start, cpu = time.perf_counter(), time.process_time()
        done = 0
        while done < total:
            last = leader.propose_batch([payload] * batch)
            while self.applied < last:
                self.pump()
            done += batch
        return time.perf_counter() - start, time.process_time() - cpu, done


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=20000)
    ap.add_argument("--size", type=int, default=64, help="bytes per entry")
    ap.add_argument("--batches", default="1,100", help="comma-separated batch sizes")
    ap.add_argument("--encode", action="store_true", help="round-trip messages via bytes")
    args = ap.parse_args()
    print(f"raft core: 1 leader + 3 followers in memory, {args.size}-byte entries"
          f"{', messages encoded' if args.encode else ''}")
    for batch in (int(b) for b in args.batches.split(",")):
        bench = Bench(args.encode)
        bench.elect()
        total = max(batch, args.entries if batch > 1 else args.entries // 4)
        secs, cpu, done = bench.run(total, batch, args.size)
        print(f"  batch {batch:4d}: {done / secs:10.0f} entries/s wall, "
              f"{done / cpu:10.0f} per CPU-second ({done} entries in {secs:.2f} s, "
              f"{bench.messages} messages)")


if __name__ == "__main__":
    main()
