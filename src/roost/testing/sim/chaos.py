"""Fault injection, membership churn and the liveness phase of a simulation run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from roost.raft import ProposalDroppedError
from roost.replica.membership import Change
from roost.tree.txn import Kind, Txn

from .checker import InvariantViolation
from .events import CRASH_NOW, FAULT, HEAL, MEMBER, PHASE

if TYPE_CHECKING:
    from .node import SimNode
    from .world import SimWorld

from .members import SIM_MEMBERS

MAX_EXTRA_NODES = 3


class Chaos:
    def __init__(self, cluster: SimWorld) -> None:
        self.c = cluster
        self.partition_gen = 0
        self.partitioned = False
        #: the partition on is a long one: no other faults until it heals
        self.long = False
        self.long_until = 0
        self.probe: tuple[int, int, int, bytes] | None = None  # leader, term, index, data
        self.probes = 0

    def members(self) -> list[int]:
        return sorted(n for n, sn in self.c.nodes.items() if not sn.removed)

    # ------------------------------------------------------------------ faults
    def on_fault(self, _: Any) -> None:
        c = self.c
        if c.healed_at >= 0:
            return
        p = c.profile
        actions = []
        # (while a long partition is on, the rest of the cluster stays up, its leader leading)
        if p.partitions and not self.partitioned:
            actions.append(self.partition)
        if p.crashes and not self.long:
            actions.append(self.crash_one)
        if p.transfers and not self.long:
            actions.append(self.transfer)
        if actions:
            c.rng.choice(actions)()
        c.schedule(c.rng.randint(p.fault_every // 2, p.fault_every * 3 // 2), FAULT)

    def partition(self) -> None:
        c = self.c
        ids = self.members()
        if len(ids) < 2:
            return
        c.rng.shuffle(ids)
        leaders = [x.id for x in c.leaders() if x.id in ids]
        if leaders and c.rng.random() < 0.5:
            ids.remove(leaders[0])
            ids.insert(0, leaders[0])  # the leader ends up on the small side
        t = c.timing
        # a long one (timings with sessions of seconds) cuts off, for longer than many
        # sessions last, a member that a client who stays with it is connected to: that
        # session expires, or must not
        long = bool(t.long_partition_share) and c.rng.random() < t.long_partition_share
        if long:
            held = sorted({m for m in c.clients.staying_members() if m in ids})
            if held:
                m = c.rng.choice(held)
                ids.remove(m)
                ids.insert(0, m)
        kind = "isolate" if long else c.rng.choice(
            ["symmetric", "asymmetric", "bridge", "isolate"])
        if kind == "isolate":
            a, b = ids[:1], ids[1:]
        else:
            cut = c.rng.randint(1, len(ids) - 1)
            a, b = ids[:cut], ids[cut:]
        if kind == "bridge" and len(ids) >= 3:
            bridge = ids[0]
            c.net.bridge(a, bridge, [*b, bridge])
        else:
            c.net.split(a, b, one_way=kind == "asymmetric")
        self.partitioned = True
        self.long = long
        self.partition_gen += 1
        c.stats.partitions += 1
        c.log(f"partition {kind}{' (long)' if long else ''}: {sorted(a)} | {sorted(b)}")
        span = c.rng.randint(*t.long_partition_ms) if long else c.rng.randint(t.ms(100),
                                                                                t.ms(800))
        c.schedule(span, HEAL, self.partition_gen)
        self.long_until = c.now + span

    def transfer(self) -> None:
        c = self.c
        leaders = c.leaders()
        if not leaders:
            return
        sn = c.rng.choice(leaders)
        assert sn.node is not None
        targets = sorted(sn.node.conf_state.voters - {sn.id})
        if targets:
            to = c.rng.choice(targets)
            c.log(f"leader {sn.id} transfers leadership to {to}")
            sn.node.transfer_leadership(to)
            c.process(sn)

    def on_heal(self, gen: int) -> None:
        if gen == self.partition_gen and self.partitioned:
            self.c.net.heal()
            self.partitioned = self.long = False
            self.c.log("partition healed")

    def crash_one(self) -> None:
        c = self.c
        alive = [sn for sn in c.alive() if not sn.removed]
        if not alive:
            return
        leaders = [x for x in alive if x in c.leaders()]
        # Half the crashes hit a leader: leader churn is where logs diverge.
        sn = c.rng.choice(leaders if leaders and c.rng.random() < 0.5 else alive)
        if c.rng.random() < 0.6:
            sn.crash_armed = True  # crash inside the next Ready, before persisting
            c.schedule(c.rng.randint(c.timing.ms(5), c.timing.ms(50)), CRASH_NOW,
                       (sn.id, sn.incarnation))
        else:
            c.crash(sn, "between steps")

    def on_crash_now(self, arg: tuple[int, int]) -> None:
        sn = self.c.nodes[arg[0]]
        if sn.node is not None and sn.incarnation == arg[1] and sn.crash_armed:
            self.c.crash(sn, "armed")

    def on_restart(self, nid: int) -> None:
        sn = self.c.nodes[nid]
        if sn.node is None and not sn.removed:
            self.c.log(f"node {nid} restarts")
            self.c._start(sn)
            self.c.process(sn)

    # ------------------------------------------------------------------ membership
    def on_member(self, _: Any) -> None:
        c = self.c
        if c.healed_at >= 0:
            return
        leaders = c.leaders()
        if leaders:
            self.change(c.rng.choice(leaders))
        c.schedule(c.rng.randint(c.timing.ms(150), c.timing.ms(500)), MEMBER)

    def change(self, leader: SimNode) -> None:
        """A reconfig txn, as `roost member add|remove` sends: the registry changes when it
        applies, and the leader's core moves raft's configuration one step at a time (a
        joiner is a learner until caught up; a leader being removed hands over first)."""
        c = self.c
        assert leader.node is not None and leader.core is not None
        conf = leader.node.conf_state
        registry = leader.core.state.members
        if set(registry) != conf.voters | conf.learners or conf.learners:
            return  # the previous change is still being carried out
        voters = sorted(conf.voters)
        # (the registry too: a removal proposed earlier may not have applied yet, and a
        # long run would otherwise shrink the ensemble to one member)
        if min(len(voters), len(registry)) > 3 and (
                c.rng.random() < 0.5 or c.next_id > c.n + MAX_EXTRA_NODES):
            change = Change((), (c.rng.choice(voters),))
        elif c.next_id <= c.n + MAX_EXTRA_NODES:
            nid = c.next_id
            c.next_id += 1
            c._add_node(nid, c.new_disk())
            change = Change((SIM_MEMBERS[nid - 1],), ())
        else:
            return
        txn = Txn(Kind.RECONFIG, 0, leader.clock.wall_ms(c.now), body=change.to_bytes())
        c.propose(leader, txn, None)
        c.stats.conf_changes += 1
        c.log(f"leader {leader.id} proposes reconfig +{[m.id for m in change.add]} "
              f"-{list(change.remove)}")
        c.process(leader)

    # ------------------------------------------------------------------ liveness
    def on_phase(self, _: Any) -> None:
        c = self.c
        if self.partitioned and self.long:  # the storm lasts until it heals
            c.schedule_at(self.long_until, PHASE)
            return
        c.healed_at = c.now
        c.probing = True
        self.probe = None
        c.net.heal()
        self.partitioned = self.long = False
        f = c.net.faults
        f.loss = f.dup = f.slow = 0.0
        c.disk_faults.write_error = c.disk_faults.fsync_error = 0.0
        c.log("faults healed: liveness phase")
        for sn in list(c.nodes.values()):
            sn.crash_armed = False
            if sn.node is None and not sn.removed:
                c._start(sn)
                c.process(sn)

    def liveness_step(self, leader: SimNode) -> None:
        c = self.c
        node = leader.node
        assert node is not None
        p = self.probe
        if p is None or p[0] != leader.id or p[1] != node.term:
            self.probes += 1
            data = Txn(Kind.NOOP, origin=0, boot=0, seq=self.probes).to_bytes()
            try:
                idx = node.propose(data)
            except ProposalDroppedError:
                return
            self.probe = (leader.id, node.term, idx, data)
            c.process(leader)
            return
        idx, data = p[2], p[3]
        got = c.checker.applied.get(idx)
        if got is None or got[1] != data:
            return
        conf = node.conf_state
        for nid in conf.voters | conf.learners:
            sn = c.nodes.get(nid)
            if sn is None or sn.node is None or sn.sm_index < idx:
                return
        c.stats.liveness_ms = max(c.stats.liveness_ms, c.now - c.healed_at)
        c.epoch_done()

    def liveness_failure(self) -> None:
        c = self.c
        state = ", ".join(
            f"{sn.id}:{'down' if sn.node is None else sn.node.role.name}"
            f"/t{0 if sn.node is None else sn.node.term}/applied {sn.sm_index}"
            for sn in c.nodes.values() if not sn.removed
        )
        raise InvariantViolation(
            f"liveness: faults healed at {c.healed_at} ms but no leader got a fresh "
            f"proposal applied by all members within the bound; nodes {state}")
