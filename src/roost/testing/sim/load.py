"""The run's background load (`SimLoad`, a part of `SimCluster`): creates through a
random member, forwarded to the leader and acknowledged (each checked durable), and
linearizable reads, during each storm."""

from __future__ import annotations

from typing import Any

from roost.tree.txn import Kind, Txn
from roost.wire.opcodes import Op
from roost.wire.records import ACL, CreateRequest, Id

from .events import PROPOSE, READ
from .host import SimHost

MAX_BACKLOG = 50  # proposals wait while a leader has this many uncommitted entries
#: after a client's txn, its member sends all its pending ones again (as when its link to
#: the leader comes back) with this probability (the datagram network's: the stream
#: network's links break and come back, and their members resend then)
RESEND = 0.15
_OPEN = [ACL(31, Id("world", "anyone"))]


class SimLoad(SimHost):
    _proposal_seq: int

    def _on_propose(self, _: Any) -> None:
        leaders = self.leaders()
        if leaders and self.healed_at < 0:
            sn = self.rng.choice(leaders)
            assert sn.node is not None
            if sn.node.raft.log.last_index() - sn.node.committed > MAX_BACKLOG:
                leaders = []  # clients back off while the leader is this far behind
        if leaders and self.healed_at < 0:
            count = 1 if self.rng.random() < 0.7 else self.rng.randint(2, 8)
            # the client's member stamps its txns and forwards them to the leader
            origin = self.rng.choice(self.alive())
            assert origin.core is not None
            for _k in range(count):
                self._proposal_seq += 1
                req = CreateRequest(f"/p{self._proposal_seq}", b"", _OPEN, 0)
                txn = Txn(Kind.REQUEST, 0, origin.clock.wall_ms(self.now), (), int(Op.CREATE),
                          req.to_bytes(), request=req)
                self.propose(origin, txn, self._on_reply(req.path))
                if self.trace is not None:
                    self.log(f"client creates {req.path} through node {origin.id}")
            # (datagram network: its link to the leader came back, say: resend all; the
            # stream network resends when its links come up, as the server does)
            if not self.net.streams and self.rng.random() < RESEND:
                origin.core.resend_all()
                self._perform(origin, origin.core)
            self.process(origin)
        if self.healed_at < 0:
            t = self.timing
            self.schedule(self.rng.randint(t.ms(5) * t.create_spacing, self.profile.propose_every),
                          PROPOSE)

    def _on_read(self, _: Any) -> None:
        if self.healed_at >= 0:
            return
        alive = self.alive()
        if alive:
            leaders = self.leaders()  # half the reads go to a (possibly stale) leader
            sn = self.rng.choice(leaders if leaders and self.rng.random() < 0.5 else alive)
            self._proposal_seq += 1
            self.linearizable_read(sn, f"r{self._proposal_seq}".encode(), lambda: None)
        self.schedule(self.rng.randint(self.timing.ms(10), self.timing.ms(80)), READ)
