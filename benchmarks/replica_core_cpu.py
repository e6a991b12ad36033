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
import time

from roost.testing.replica_group import Group
from roost.tree.txn import Kind, Txn, TxnResult
from roost.wire.opcodes import Op
from roost.wire.records import ACL, CreateRequest, Id

OPEN = [ACL(31, Id("world", "anyone"))]
class Counted(Group):
    """The shared three-core group, counting its clients' replies."""

    def __init__(self) -> None:
        super().__init__(max_waiting=10**6)
        self.replies = 0

    def done(self, zxid: int, result: TxnResult) -> None:
        self.replies += 1


def create(path: str) -> Txn:
    req = CreateRequest(path, b"x" * 100, OPEN, 0)
    return Txn(Kind.REQUEST, 0, 1, (), int(Op.CREATE), req.to_bytes(), request=req)


def run(writes: int, batch: int) -> float:
    g = Counted()
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
        g.tick()
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
