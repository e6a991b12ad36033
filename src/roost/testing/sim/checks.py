"""The run's own checks (the raft-level ones are checker.py's `Checker`): each txn
applied once at one zxid, a session's writes applied in the order its client sent them,
the times txns stamp never going back, identical trees at a zxid, every acknowledged
create kept, linearizable reads holding every txn applied before them. `SimChecks` is a
part of `SimCluster` (cluster.py)."""

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
    #: a session's requests in the order its client sent them: (origin, boot, seq) ->
    #: (session, its number in the session); the last one applied (number, zxid, name),
    #: per session and member process, and per session
    sent_order: dict[tuple[int, int, int], tuple[int, int]]
    session_sent: dict[int, int]
    session_applied: dict[tuple[int, int, int], tuple[int, int, tuple[int, int, int]]]
    session_last: dict[int, tuple[int, int]]

    def sent_in_order(self, txn: Txn) -> None:
        """A client's request `txn` (stamped by the member it reached) was sent after
        every earlier one of its session."""
        sid = txn.session_id
        n = self.session_sent.get(sid, 0) + 1
        self.session_sent[sid] = n
        self.sent_order[(txn.origin, txn.boot, txn.seq)] = (sid, n)

    def _check_session_order(self, key: tuple[int, int, int], zxid: int) -> None:
        """A session's writes through one member process apply in the order its client
        sent them (ZooKeeper's FIFO client order): their zxids grow in that order
        (checked at each txn's first apply anywhere, which comes in zxid order). Across
        members it is counted, not checked: a write whose client gave up on its member
        (ConnectionLoss, outcome unknown) may still be on its way to the leader when the
        client's writes through its next member apply (ZooKeeper's leader refuses a
        request from a server that no longer owns the session; roost has no owner)."""
        sent = self.sent_order.pop(key, None)
        if sent is None:
            return
        sid, n = sent
        member = (sid, key[0], key[1])
        last = self.session_applied.get(member)
        if last is not None and last[0] > n:
            raise InvariantViolation(
                f"session order: session {sid:#x}'s request {n} (txn {key}) applied at zxid "
                f"{zxid}, after its request {last[0]} (txn {last[2]}, sent later through "
                f"the same member) at zxid {last[1]}")
        self.session_applied[member] = (n, zxid, key)
        before = self.session_last.get(sid)
        if before is not None and before[0] > n:
            self.stats.moved_out_of_order += 1
        else:
            self.session_last[sid] = (n, zxid)

    def _applied_sink(self, sn: SimNode) -> Callable[[int, Txn, TxnResult], None]:
        def applied(zxid: int, txn: Txn, result: TxnResult) -> None:
            key = (txn.origin, txn.boot, txn.seq)
            at = self.txn_zxids.get(key)
            if at is None:
                self.txn_zxids[key] = zxid
                if txn.session_id:
                    self._check_session_order(key, zxid)
            elif at != zxid:
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
