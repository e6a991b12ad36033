"""`RaftNode`: the host-facing API (etcd's RawNode) and the `Ready` batch.

The host loop::

    node.tick()            # every tick interval
    node.step(msg)         # for every message from a peer
    node.propose(data)     # on the leader
    if node.has_ready():
        rd = node.ready()
        send(rd.messages)                  # may go before the disk write
        persist(rd.snapshot, rd.entries, rd.hard_state)   # fsync if rd.must_sync
        send(rd.messages_after_persist)    # only once the above is durable
        install(rd.snapshot); apply(rd.committed_entries); serve(rd.read_states)
        node.advance()
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .config import Config
from .core import Raft
from .errors import RaftError
from .messages import (
    NONE,
    ConfChange,
    ConfState,
    Entry,
    EntryKind,
    HardState,
    Message,
    MsgType,
    ReadState,
    Role,
    Snapshot,
    SoftState,
)
from .storage import Storage

#: messages that promise durable state of the term they carry: answers, and a candidate's
#: vote requests (its vote for itself)
_STALE_ANSWERS = frozenset({MsgType.APP_RESP, MsgType.VOTE_RESP, MsgType.VOTE})
_LEADER = Role.LEADER  # (an enum member read through its class costs several globals)
_CONF_CHANGE = EntryKind.CONF_CHANGE


@dataclass(slots=True, unsafe_hash=True)  # (not frozen: one per host cycle; never mutated)
class Ready:
    """One batch of work for the host. See docs/raft.md for the order of the steps."""

    soft_state: SoftState | None  # None when unchanged since the last Ready
    hard_state: HardState | None  # persist (None when unchanged)
    entries: tuple[Entry, ...]  # append to stable storage (may overwrite a tail)
    snapshot: Snapshot | None  # persist and install into the state machine
    committed_entries: tuple[Entry, ...]  # apply in order, after persisting
    messages: tuple[Message, ...]  # may be sent before persisting
    messages_after_persist: tuple[Message, ...]  # send only once persisted
    read_states: tuple[ReadState, ...]  # serve once applied index >= read.index
    must_sync: bool  # whether the persist step needs an fsync

    def is_empty(self) -> bool:
        return not (
            self.soft_state or self.hard_state or self.entries or self.snapshot
            or self.committed_entries or self.messages or self.messages_after_persist
            or self.read_states
        )


class RaftNode:
    """A single-threaded raft node. All methods are synchronous and do no I/O."""

    def __init__(self, config: Config, storage: Storage, rng: random.Random) -> None:
        self._raft = Raft(config, storage, rng)
        self._prev_hs = HardState(self._raft.term, self._raft.vote, self._raft.log.committed)
        self._prev_ss = SoftState()
        self._in_progress: Ready | None = None

    # -- inspection --
    @property
    def id(self) -> int:
        return self._raft.id

    @property
    def raft(self) -> Raft:
        """The protocol state (read-only use: tests, metrics, the simulator)."""
        return self._raft

    @property
    def leader(self) -> int:
        return self._raft.lead

    @property
    def role(self) -> Role:
        return self._raft.role

    @property
    def term(self) -> int:
        return self._raft.term

    @property
    def conf_state(self) -> ConfState:
        return self._raft.conf

    @property
    def applied(self) -> int:
        return self._raft.log.applied

    @property
    def committed(self) -> int:
        return self._raft.log.committed

    # -- inputs --
    def tick(self) -> None:
        self._raft.tick()

    def step(self, m: Message) -> None:
        """Feed a message from a peer (messages addressed elsewhere are an error)."""
        if m.to != self._raft.id:
            raise RaftError(f"message for {m.to} stepped into {self._raft.id}")
        self._raft.step(m)

    def campaign(self) -> None:
        """Start an election now (pre-vote first when enabled)."""
        self._raft.hup(transfer=False)

    def propose(self, data: bytes) -> int:
        """Append one entry on the leader; returns its log index (the future zxid).
        Raises NotLeaderError / ProposalDroppedError; commit is not guaranteed."""
        return self._raft.propose([data])

    def propose_batch(self, datas: list[bytes]) -> int:
        """Append many entries in one go; returns the index of the last one."""
        return self._raft.propose(datas)

    def propose_conf_change(self, cc: ConfChange) -> int:
        """Propose one single-server membership change; returns its log index."""
        return self._raft.propose_conf_change(cc)

    def read_index(self, context: bytes) -> None:
        """Ask for a linearizable read point; a ReadState with the same (unique)
        context appears in a later Ready, or never (then the host times out)."""
        self._raft.read_index(context, self._raft.id)

    def transfer_leadership(self, to: int) -> None:
        self._raft.transfer_leadership(to)

    def forget_leader(self) -> None:
        """The host learned that the leader is gone (its connection closed). A follower
        stops counting it as leader, so it grants pre-votes at once instead of waiting
        out the leader's lease (etcd's ForgetLeader). A no-op in any other role, and
        with lease reads (as etcd's): the leader may still serve reads on the lease this
        follower's vote grants it, so no other leader may be elected within it."""
        r = self._raft
        if r.role == Role.FOLLOWER and not r.cfg.lease_reads:
            r.lead = NONE

    def report_snapshot(self, to: int, failed: bool) -> None:
        """Tell the leader whether sending a snapshot to `to` failed or finished."""
        self._raft.report_snapshot(to, failed)

    # -- the Ready cycle --
    def has_ready(self) -> bool:
        # (the host asks after every input, and most of the time the answer is no: the
        # attribute reads are inline)
        r = self._raft
        log = r.log
        u = log.unstable
        if (r.msgs or r.msgs_after_persist or r.read_states or r.bcast_pending or u.entries
                or u.snapshot is not None or log.committed > log.applying  # (next committed)
                or (r.readonly.pending and r.readonly.needs_round())):
            return True
        hs, ss = self._prev_hs, self._prev_ss  # the state changed since the last Ready
        return (r.term != hs.term or r.vote != hs.vote or log.committed != hs.commit
                or r.lead != ss.leader or r.role is not ss.role)

    def _hard_state(self) -> HardState:
        r = self._raft
        return HardState(r.term, r.vote, r.log.committed)

    def _soft_state(self) -> SoftState:
        return SoftState(self._raft.lead, self._raft.role)

    def ready(self) -> Ready:
        """Collect the pending work. Call advance() once it is done."""
        if self._in_progress is not None:
            raise RaftError("ready() called again before advance()")
        r = self._raft
        log = r.log
        if r.bcast_pending or r.role is _LEADER:  # (else flush has nothing to do)
            r.flush()
        prev, pss = self._prev_hs, self._prev_ss
        # built only when changed (most Readies change neither)
        hs = (
            prev if r.term == prev.term and r.vote == prev.vote
            and log.committed == prev.commit else self._hard_state()
        )
        ss = pss if r.lead == pss.leader and r.role is pss.role else self._soft_state()
        snap = log.unstable.snapshot
        committed: tuple[Entry, ...] = ()
        if log.committed > log.applying:  # (log.has_next_committed(), inline)
            committed = tuple(log.next_committed(r.cfg.max_committed_size_per_ready))
        entries = tuple(log.unstable.entries) if log.unstable.entries else ()
        early, late = r.msgs, r.msgs_after_persist
        new_vote = hs is not prev and (hs.term != prev.term or hs.vote != prev.vote)
        if new_vote:
            early, late = [], early + late  # nothing leaves before a new term/vote is durable
        if late and not r._ack_stale_term:
            term = r.term
            for m in late:  # (a loop, not any(): most Readies carry late messages)
                if m.term < term:
                    # queued in an older term while a Ready was persisted: an acknowledged
                    # entry a newer leader's append has since truncated, a vote (granted,
                    # or a candidate's for itself) the newer term's hard state replaced:
                    # none is durable here, so they never leave
                    late = [m for m in late if m.term >= term or m.type not in _STALE_ANSWERS]
                    break
        rd = Ready(  # (soft_state, hard_state, entries, snapshot, committed_entries,
            # messages, messages_after_persist, read_states, must_sync)
            ss if ss is not pss and ss != pss else None,
            hs if hs is not prev and hs != prev else None,
            entries, snap, committed, tuple(early) if early else (),
            tuple(late) if late else (), tuple(r.read_states) if r.read_states else (),
            new_vote or len(entries) > 0,
        )
        # (new outboxes only for those that had something: most Readies carry one kind)
        if r.msgs:
            r.msgs = []
        if r.msgs_after_persist:
            r.msgs_after_persist = []
        if r.read_states:
            r.read_states = []
        if snap is not None:
            r.log.applying = max(r.log.applying, snap.meta.index)
        if committed:
            r.log.applying = max(r.log.applying, committed[-1].index)
        self._prev_ss = ss
        self._in_progress = rd
        return rd

    def early_messages(self) -> tuple[Message, ...]:
        """Messages that may leave now, while the host still persists the last Ready (etcd's
        asynchronous storage writes): appends for entries proposed since, commit indexes,
        heartbeats; they promise nothing about this node's disk. Empty while a new term or
        vote is not yet durable (then everything waits for the next Ready), and outside a
        Ready in progress (use `ready()` then). Responses and votes stay for the next
        Ready's `messages_after_persist`."""
        r = self._raft
        durable = self._prev_hs  # the hard state of the last Ready advanced
        if self._in_progress is None or r.term != durable.term or r.vote != durable.vote:
            return ()
        r.flush()
        if not r.msgs:
            return ()
        out, r.msgs = tuple(r.msgs), []
        return out

    def advance(self) -> None:
        """The host persisted, sent and applied the last Ready."""
        rd = self._in_progress
        if rd is None:
            raise RaftError("advance() without ready()")
        self._in_progress = None
        r = self._raft
        if rd.hard_state is not None:
            self._prev_hs = rd.hard_state
        if rd.snapshot is not None:
            r.log.unstable.stable_snap_to(rd.snapshot.meta.index)
            r.log.applied_to(rd.snapshot.meta.index)
        if rd.entries:
            last = rd.entries[-1]
            r.log.unstable.stable_to(last.index, last.term)
            r.on_persisted()
        for e in rd.committed_entries:
            r.log.applied_to(e.index)
            if e.kind is _CONF_CHANGE:
                r.apply_conf_change(ConfChange.from_bytes(e.data))
