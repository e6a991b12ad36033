"""The run's own checks (the raft-level ones are checker.py's `Checker`): each txn
applied once at one zxid, the times txns stamp never going back, identical trees at a
zxid, every acknowledged create kept, linearizable reads holding every txn applied
before them. `SimChecks` is a part of `SimCluster` (cluster.py)."""

from __future__ import annotations

from collections.abc import Callable

from roost.tree.txn import Kind, Txn, TxnResult
from roost.wire.opcodes import EventType

from .checker import InvariantViolation
from .clients import SimSessions
from .node import SimNode
from .world import SimWorld

_CREATED, _CHANGED = int(EventType.NODE_CREATED), int(EventType.NODE_DATA_CHANGED)


class SimChecks(SimWorld):
    clients: SimSessions
    #: (origin, boot, seq) -> the zxid it applied at (on any member)
    txn_zxids: dict[tuple[int, int, int], int]
    #: zxid -> the tree digest the first member to apply it had
    tree_digests: dict[int, int]
    #: created paths whose client got its reply -> the zxid the reply named
    acked: dict[str, int]

    def _applied_sink(self, sn: SimNode) -> Callable[[int, Txn, TxnResult], None]:
        def applied(zxid: int, txn: Txn, result: TxnResult) -> None:
            key = (txn.origin, txn.boot, txn.seq)
            at = self.txn_zxids.setdefault(key, zxid)
            if at != zxid:
                raise InvariantViolation(
                    f"txn {key} applied at zxid {zxid} on node {sn.id}, and at {at} before "
                    "(a resent txn applied twice)")
            self.clients.requests.applied(sn, zxid, txn, result)
            if result.events:
                self._check_stamps(sn, zxid, result)
                watches = self.clients.w
                watches.applied(zxid, result.events)
                if sn.watches is not None:
                    sn.watches.trigger(result.events)  # as the server's on_applied does
                watches.fired(sn.id, sn.incarnation, zxid)
            if txn.kind is Kind.CREATE_SESSION or txn.kind is Kind.CLOSE_SESSION:
                self.clients.on_applied(sn, zxid, txn)
        return applied

    def _check_stamps(self, sn: SimNode, zxid: int, result: TxnResult) -> None:
        """The times txns stamp on nodes never go back along zxids (whichever member's
        clock stamped each txn: the clocks are offset by up to MAX_OFFSET_MS)."""
        assert sn.replica is not None
        tree = sn.replica.tree
        for ev in result.events:
            if ev.type == _CREATED or ev.type == _CHANGED:
                node = tree.get(ev.path)
                if node is None:
                    continue
                if node.mtime < sn.stamp:
                    raise InvariantViolation(
                        f"time: node {sn.id} applied zxid {zxid} with mtime {node.mtime} on "
                        f"{ev.path}, before the time {sn.stamp} of an earlier txn")
                sn.stamp = node.mtime

    def _check_tree(self, sn: SimNode) -> None:
        assert sn.replica is not None
        digest = sn.replica.tree.digest()
        zxid = sn.replica.last_index
        first = self.tree_digests.setdefault(zxid, digest)
        if first != digest:
            raise InvariantViolation(f"node {sn.id}'s tree differs at zxid {zxid}")

    def _on_reply(self, path: str) -> Callable[[int, TxnResult], None]:
        """The client's reply: from here on the create must survive any crash."""
        def done(zxid: int, result: TxnResult) -> None:
            if zxid <= 0 or result.err:
                return  # failed (no leader, lost): the client was told so
            if zxid not in self.checker.applied:
                raise InvariantViolation(f"reply for {path} names zxid {zxid}, never applied")
            self.acked[path] = zxid
            if self.trace is not None:
                self.log(f"client: {path} created at zxid {zxid}")
        return done

    def check_acked(self) -> None:
        """Every acknowledged create is in the tree of every member of the configuration
        that has applied its zxid (a txn resent after the heal may apply after the
        liveness probe, which ends the run)."""
        leader = self.leaders()[0].node
        assert leader is not None
        conf = leader.conf_state
        for nid in sorted(conf.voters | conf.learners):
            sn = self.nodes[nid]
            assert sn.replica is not None
            tree = sn.replica.tree
            for path, zxid in self.acked.items():
                if zxid <= sn.replica.last_index and tree.get(path) is None:
                    raise InvariantViolation(
                        f"durability: {path} was acknowledged at zxid {zxid} but node "
                        f"{sn.id} (applied {sn.replica.last_index}) does not have it")

    def linearizable_read(self, sn: SimNode, ctx: bytes, then: Callable[[], None],
                          failed: Callable[[], None] = lambda: None) -> None:
        """A linearizable read at `sn` (a sync, then the read: the server's barrier);
        `then` reads the member's tree once the barrier passed (`failed`, if it fails:
        the server aborts the client's connection). Checked: the barrier's
        read index, and the tree `then` reads, hold every txn applied anywhere (so every
        acknowledged write) before the read began. `ctx` names it (unique)."""
        need = self.checker.max_applied
        sn.waiting_reads[ctx] = need

        def served(sn: SimNode = sn, need: int = need) -> None:
            # the read runs now, on this member's tree: it must hold every txn applied
            # anywhere before the read began
            assert sn.replica is not None
            if sn.replica.last_index < need:
                raise InvariantViolation(
                    f"linearizable read: node {sn.id} served a read at zxid "
                    f"{sn.replica.last_index}, but {need} was applied before it began")
            then()

        assert sn.core is not None
        sn.read_served[ctx] = served
        sn.read_failed[ctx] = failed
        sn.core.barrier(ctx, sn.now(self.now))
        self._perform(sn, sn.core)
        self.process(sn)
