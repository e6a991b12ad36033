"""The replica's state and its own proposals' bookkeeping, with no I/O.

`ReplicaState` holds what every member computes the same (the data tree, the dedupe marks,
the member registry) and what this member tracks of its own proposals (the pending table
keyed by (member, boot, seq)); it applies committed log entries, installs snapshot images,
stamps proposals and expires them. It reads no clock, draws no random number and does no
I/O: `boot` and `now` come from its host (`RaftLog`, which runs raft, the disk and the
peers), which also performs its effects: the `applied` sink (watches, sessions) and each
proposal's `done` callback (the client's reply) are called as entries apply. They stay
callbacks, unlike the core's effects (roost.replica.effects), because they must run as
each txn applies: they see the tree as of its zxid, and replies and watch events of one
batch interleave in zxid order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import msgpack

from roost.raft import ConfState, Entry, EntryKind
from roost.replica.log import Applied, Done
from roost.replica.member import Member
from roost.replica.membership import (
    CONFIG_PATH,
    Change,
    ReconfigError,
    StaleConfigError,
    apply_change,
    config_version,
    write_config,
)
from roost.replica.order import effects
from roost.tree import DataTree, TreeConfig
from roost.tree.txn import Kind, Txn, TxnResult, apply_nothing, apply_txn, txn_time
from roost.wire.errors import Err

log = logging.getLogger("roost.raftlog")

#: planted bugs (for the simulator's self-test): apply a resent txn again; take a snapshot
#: image that lacks this member for its removal (the joiner's bug of issue 16); answer a
#: write's client before the watches it triggered fire; stamp /zookeeper/config with the
#: reconfig's own time, out of the tree's time order (the bug the simulator found); apply
#: a member's txns in whatever order the log has them (`Dedupe`, before 2026-12-08)
KNOWN_BUGS = frozenset(
    {"apply_resent_twice", "joiner_removed_by_old_snapshot", "reply_before_watch",
     "reconfig_time_unordered", "apply_out_of_order"}
)

#: the outcome of a proposal nobody can vouch for (timed out, or no leader and no room)
LOST = TxnResult(Err.CONNECTION_LOSS, None, [])


class Dedupe:
    """Which (origin, boot, seq) may apply: per (origin, boot), the highest seq applied.

    A member numbers its proposals in the order its clients sent them, so a txn applies
    only above its origin's mark: each once, and a session's writes in the order sent
    (ZooKeeper's FIFO order for a session). A txn that reaches the log behind a later one
    of its origin (forwarded, dropped by a leader that lost its leadership meanwhile, and
    resent after the later one applied) does not apply: its client gets ConnectionLoss
    (`ReplicaState.apply`). With `in_any_order` (the planted `apply_out_of_order`, this
    class before 2026-12-08) each seq applies once, in whatever order the log has them."""

    def __init__(self, in_any_order: bool = False) -> None:
        #: (origin, boot) -> (mark, the seqs above it applied: only `in_any_order`'s)
        self.marks: dict[tuple[int, int], tuple[int, set[int]]] = {}
        self.in_any_order = in_any_order

    def first_time(self, origin: int, boot: int, seq: int) -> bool:
        """`seq` of (origin, boot) may apply now (and is marked applied)."""
        key = (origin, boot)
        known = self.marks.get(key)
        if known is None:
            known = (0, set())
        elif seq == known[0] + 1 and not known[1]:
            self.marks[key] = (seq, known[1])  # the usual case: the next one in order
            return True
        mark, above = known
        if not self.in_any_order:
            if seq <= mark:
                return False  # applied already, or a later one applied first
            self.marks[key] = (seq, above)
            return True
        if seq <= mark or seq in above:
            return False
        above.add(seq)
        while mark + 1 in above:
            mark += 1
            above.discard(mark)
        self.marks[key] = (mark, above)
        return True

    def to_list(self) -> list[list[int | list[int]]]:
        return [[o, b, m, sorted(a)] for (o, b), (m, a) in sorted(self.marks.items())]

    @classmethod
    def from_list(cls, raw: list[list[int | list[int]]], in_any_order: bool = False) -> Dedupe:
        """(An image of a version that applied seqs out of order may list seqs above a
        mark: the highest applied is the mark now.)"""
        d = cls(in_any_order)
        for o, b, m, a in raw:
            assert isinstance(o, int) and isinstance(b, int) and isinstance(m, int)
            assert isinstance(a, list)
            if in_any_order:
                d.marks[(o, b)] = (m, {int(x) for x in a})
            else:
                d.marks[(o, b)] = (max([m, *(int(x) for x in a)]), set())
        return d


@dataclass(slots=True)
class Pending:
    txn: bytes
    done: Done | None
    since: float
    #: true once nobody waits for the outcome (the client's connection closed and the
    #: client was told ConnectionLoss): then it is not sent again after a leader change
    abandoned: Callable[[], bool] | None = None
    #: the txn itself, with its decoded request: applying our own entry decodes no request
    obj: Txn | None = None


def encode_image(tree: DataTree, dedupe: Dedupe, members: dict[int, Member]) -> bytes:
    regs = [[m.id, m.host, m.client_port, m.peer_port, m.role] for m in members.values()]
    out: bytes = msgpack.packb([tree.to_bytes(), dedupe.to_list(), regs], use_bin_type=True)
    return out


def decode_image(
    image: bytes, config: TreeConfig, founders: dict[int, Member], in_any_order: bool = False
) -> tuple[DataTree, Dedupe, dict[int, Member]]:
    """The state machine of a snapshot; an empty image is the founding state
    (`in_any_order`: the planted `apply_out_of_order`'s dedupe)."""
    if not image:
        tree, dedupe, members = DataTree(config), Dedupe(in_any_order), dict(founders)
    else:
        tree_bytes, raw_dedupe, regs = msgpack.unpackb(image, raw=False)
        members = {int(r[0]): Member(*r) for r in regs}
        tree = DataTree.from_bytes(tree_bytes, config)
        dedupe = Dedupe.from_list(raw_dedupe, in_any_order)
    node = tree.get(CONFIG_PATH)
    if node is not None and not node.data and members:
        write_config(tree, members)  # the founding registry (or an image that lacked it)
    return tree, dedupe, members


class ReplicaState:
    """One member's replicated state machine plus its pending proposals (see the module)."""

    def __init__(
        self,
        member_id: int,
        boot: int,
        tree_config: TreeConfig,
        founders: dict[int, Member],
        applied: Applied,
        _bugs: frozenset[str] = frozenset(),
    ) -> None:
        self.id = member_id
        #: planted bugs the simulator must catch (never set in production)
        if _bugs - KNOWN_BUGS:
            raise ValueError(f"unknown bugs {sorted(_bugs - KNOWN_BUGS)}")
        self._skip_dedupe = "apply_resent_twice" in _bugs
        self._old_snapshot_removes = "joiner_removed_by_old_snapshot" in _bugs
        self._reply_first = "reply_before_watch" in _bugs
        self._raw_reconfig_time = "reconfig_time_unordered" in _bugs
        self._any_order = "apply_out_of_order" in _bugs
        #: a per-start nonce: (id, boot, seq) names each of this start's proposals
        self.boot = boot
        self.tree_config = tree_config
        self.applied = applied
        self.tree = DataTree(tree_config)
        self.dedupe = Dedupe(self._any_order)
        self.members: dict[int, Member] = dict(founders)
        #: an applied membership change took this member out of the registry (and none has
        #: put it back), or a member with a newer configuration refused it (`ReplicaCore.
        #: refused`: it was removed while it was down)
        self.removed = False
        self.last_index = 0
        self.seq = 0
        self.pending: dict[int, Pending] = {}
        #: called when an applied change altered the registry (not during replay)
        self.on_members: Callable[[], None] = lambda: None
        #: called instead of `applied` for each txn applied while replaying the log
        self.replayed: Applied = lambda zxid, txn, result: None

    @property
    def serving(self) -> bool:
        """In the registry and not removed: may serve clients (a joiner is not until its
        addition applies)."""
        return self.id in self.members and not self.removed

    # --- images --------------------------------------------------------------------------
    def load(self, image: bytes, founders: dict[int, Member]) -> None:
        """Replace the state by a snapshot image (empty: the founding state)."""
        self.tree, self.dedupe, self.members = decode_image(
            image, self.tree_config, founders, self._any_order)
        if self.id in self.members:
            self.removed = False

    def image(self) -> bytes:
        return encode_image(self.tree, self.dedupe, self.members)

    def install(self, image: bytes, index: int, founders: dict[int, Member]) -> None:
        """A snapshot from the leader replaced our state. A joiner may get one taken before
        its own addition: that is not a removal (`removed` only changes when an applied
        change takes this member out)."""
        self.load(image, founders)
        if self._old_snapshot_removes and self.id not in self.members:
            self.removed = True
        apply_nothing(self.tree, index)
        self.last_index = index

    # --- own proposals -------------------------------------------------------------------
    def stamp(
        self, txn: Txn, done: Done | None, abandoned: Callable[[], bool] | None, now: float
    ) -> Pending:
        """Name `txn` (origin, boot, seq) and keep it pending until it applies."""
        self.seq += 1
        # stamped in place: the caller built this txn for us alone
        txn.origin, txn.boot, txn.seq = self.id, self.boot, self.seq
        p = Pending(txn.to_bytes(), done, now, abandoned=abandoned, obj=txn)
        self.pending[self.seq] = p
        return p

    def expire(self, now: float, timeout: float) -> list[Pending]:
        """Forget the proposals pending for longer than `timeout` (their outcome is unknown:
        the caller tells their clients ConnectionLoss)."""
        gone = [seq for seq, p in self.pending.items() if now - p.since > timeout]
        return [self.pending.pop(seq) for seq in gone]

    def to_resend(self) -> list[Pending]:
        """The pending proposals to send again (after a leader change or a broken link);
        abandoned ones are dropped instead: an old leader's unacknowledged writes must not
        come back once their client was told the outcome is unknown."""
        out = []
        for seq, p in list(self.pending.items()):
            if p.abandoned is not None and p.abandoned():
                del self.pending[seq]
            else:
                out.append(p)
        return out

    # --- applying ------------------------------------------------------------------------
    def apply(self, e: Entry, replay: bool = False) -> None:
        """Apply one committed entry at zxid = its index; each (origin, boot, seq) once."""
        zxid = e.index
        if e.kind == EntryKind.NORMAL and e.data:
            fields = Txn.unpack(e.data)
            mine = None
            if fields[7] == self.id and fields[8] == self.boot:
                # our own proposal, whoever led when it committed: apply the txn we built
                # (its request already decoded) and answer its client
                mine = self.pending.pop(fields[9], None)
            txn = mine.obj if mine is not None and mine.obj is not None else None
            if txn is None:
                txn = Txn.from_fields(fields)
            result: TxnResult | None
            if not self.dedupe.first_time(txn.origin, txn.boot, txn.seq) and not (
                self._skip_dedupe
            ):
                result = None
                if mine is not None and mine.done is not None and not replay:
                    # never applied (its first copy took it from `pending`): a later txn
                    # of ours applied before it, so it never will; its client is told
                    # ConnectionLoss, as for a proposal that timed out
                    mine.done(0, LOST)
            elif txn.kind is Kind.RECONFIG:
                result = self._apply_reconfig(zxid, txn, replay)
            else:
                result = apply_txn(self.tree, zxid, txn)
            if result is None:
                pass
            elif not replay:
                # watches first, then the reply (order.py)
                done = mine.done if mine is not None else None
                effects(self.applied, done, zxid, txn, result, self._reply_first)
            else:
                self.replayed(zxid, txn, result)
        apply_nothing(self.tree, zxid)  # (a no-op after a txn: it took this zxid already)
        self.last_index = zxid

    def _apply_reconfig(self, zxid: int, txn: Txn, replay: bool) -> TxnResult:
        was = self.id in self.members
        # /zookeeper/config's mtime: the leader's clock, kept in the tree's time order
        time_ms = txn.time_ms if self._raw_reconfig_time else txn_time(self.tree, txn)
        try:
            change = Change.from_bytes(txn.body)
            self.members = apply_change(self.members, change, config_version(self.tree))
        except StaleConfigError as e:
            log.warning("member %d: reconfig at 0x%x refused: %s", self.id, zxid, e)
            return TxnResult(Err.BAD_VERSION, None, [])
        except (ReconfigError, ValueError) as e:
            log.warning("member %d: reconfig at 0x%x refused: %s", self.id, zxid, e)
            return TxnResult(Err.BAD_ARGUMENTS, None, [])
        events = write_config(self.tree, self.members, zxid, time_ms)
        log.info("member %d: members now %s", self.id, sorted(self.members))
        if self.id in self.members:
            self.removed = False
        elif was:
            self.removed = True
            log.warning(
                "member %d: removed from the ensemble at 0x%x: serving no client; stop this "
                "process",
                self.id,
                zxid,
            )
        if not replay:
            self.on_members()
        return TxnResult(0, None, events)

    def config_text(self) -> bytes:
        """/zookeeper/config's data (ZooKeeper's format)."""
        node = self.tree.get(CONFIG_PATH)
        return node.data or b"" if node is not None else b""


def founders_of(members: tuple[Member, ...], conf: ConfState | None) -> dict[int, Member]:
    """The founding registry: the configured `members` (those of raft's founding
    configuration `conf` when given: a joiner's configuration lists itself too)."""
    ids = None if conf is None else conf.voters | conf.learners
    return {m.id: m for m in members if ids is None or m.id in ids}
