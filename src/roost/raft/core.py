"""The raft protocol state machine (roles, elections, replication, commit, reads).

No I/O: inputs are method calls, outputs accumulate in outboxes that `RaftNode.ready()`
collects. Time is the number of `tick()` calls; randomness comes from the `random.Random`
given to the constructor.
"""

from __future__ import annotations

import random

from .config import LEASE_MARGIN, Config
from .errors import CompactedError, NotLeaderError, ProposalDroppedError
from .log import RaftLog
from .messages import (
    NONE,
    ConfChange,
    ConfChangeType,
    ConfState,
    Entry,
    EntryKind,
    Message,
    MsgType,
    ReadState,
    Role,
    Snapshot,
)
from .progress import Progress, ProgressState
from .quorum import VoteResult, committed_index, has_quorum, vote_result
from .readonly import ReadOnly, ReadRequest
from .snapshot import Offer, SnapshotReceiver, chunk
from .storage import Storage

# The enum members the step paths read, as module constants: `MsgType.APP` is looked up
# through EnumType's __getattr__ hook (about 80 ns against 15 for a global), and one
# message's step reads a dozen of them.
APP = MsgType.APP
APP_RESP = MsgType.APP_RESP
HEARTBEAT = MsgType.HEARTBEAT
HEARTBEAT_RESP = MsgType.HEARTBEAT_RESP
PRE_VOTE = MsgType.PRE_VOTE
PRE_VOTE_RESP = MsgType.PRE_VOTE_RESP
READ_INDEX = MsgType.READ_INDEX
READ_INDEX_RESP = MsgType.READ_INDEX_RESP
SNAP = MsgType.SNAP
SNAP_RESP = MsgType.SNAP_RESP
TIMEOUT_NOW = MsgType.TIMEOUT_NOW
VOTE = MsgType.VOTE
VOTE_RESP = MsgType.VOTE_RESP
CANDIDATE = Role.CANDIDATE
FOLLOWER = Role.FOLLOWER
LEADER = Role.LEADER
PRE_CANDIDATE = Role.PRE_CANDIDATE
PROBE = ProgressState.PROBE
REPLICATE = ProgressState.REPLICATE
SNAPSHOT = ProgressState.SNAPSHOT

TRANSFER_CONTEXT = b"transfer"

# Messages that may leave before this node's Ready is durable: they promise nothing about
# this node's own disk. Everything else (votes, all responses) waits for persistence.
SEND_EARLY = frozenset({APP, HEARTBEAT, SNAP, TIMEOUT_NOW, READ_INDEX_RESP})
_VOTES = frozenset({VOTE, PRE_VOTE})
_FROM_LEADER = frozenset({APP, HEARTBEAT, SNAP})  # (a leader's messages to its followers)

class Raft:
    def __init__(self, config: Config, storage: Storage, rng: random.Random) -> None:
        config.validate()
        self.cfg = config
        self.id = config.id
        self.rng = rng
        self.log = RaftLog(storage)
        hs, conf = storage.initial_state()
        self.term = hs.term
        self.vote = hs.vote
        if hs.commit:
            self.log.commit_to(hs.commit)
        if config.applied > self.log.applied:
            if config.applied > self.log.last_index():
                raise ValueError(f"applied {config.applied} is past the log's last index")
            # Applied entries were committed, even if the commit index on disk lags.
            self.log.commit_to(config.applied)
            self.log.applied_to(config.applied)
        self.conf = conf
        self.lead = NONE
        self.role = FOLLOWER
        self.prs: dict[int, Progress] = {}
        self.votes: dict[int, bool] = {}
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.randomized_timeout = config.election_tick
        self.lead_transferee = NONE
        self.transfer_tried = False  # in this term: lease reads stay off (see read_index)
        self.pending_conf_index = 0
        self.clock = 0  # ticks since this node started
        self.readonly = ReadOnly()
        self.snap_recv = SnapshotReceiver()
        self.waiting_reads: list[tuple[bytes, int]] = []  # until a commit in this term
        self.msgs: list[Message] = []
        self.msgs_after_persist: list[Message] = []
        self.read_states: list[ReadState] = []
        self.bcast_pending = False
        #: planted bugs asked once per message (by `send`, by RaftNode.ready)
        self._ack_before_persist = self.bug("ack_before_persist")
        self._ack_stale_term = self.bug("ack_stale_term")
        self.become_follower(self.term, NONE)

    # ------------------------------------------------------------------ helpers
    def bug(self, name: str) -> bool:
        return name in self.cfg._bugs

    def promotable(self) -> bool:
        return self.id in self.conf.voters

    def send(self, m: Message) -> None:
        early = m.type in SEND_EARLY or self._ack_before_persist
        (self.msgs if early else self.msgs_after_persist).append(m)

    def stable_last(self) -> int:
        """The last index known durable on this node."""
        if self.log.unstable.snapshot is not None:
            return 0
        return self.log.unstable.offset - 1

    def reset_randomized_timeout(self) -> None:
        et = self.cfg.election_tick
        self.randomized_timeout = self.rng.randrange(et, 2 * et)

    def _new_progress(self, node: int) -> Progress:
        pr = Progress(self.log.last_index() + 1, self.cfg.max_inflight_msgs,
                      self.cfg.max_inflight_bytes, node in self.conf.learners)
        if node == self.id:
            pr.match = self.stable_last()
        return pr

    def reset(self, term: int) -> None:
        if term != self.term:
            self.term = term
            self.vote = NONE
        self.lead = NONE
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.reset_randomized_timeout()
        self.lead_transferee = NONE
        self.votes = {}
        self.prs = {n: self._new_progress(n) for n in self.conf.voters | self.conf.learners}
        self.pending_conf_index = 0
        self.readonly = ReadOnly()
        self.waiting_reads = []
        self.bcast_pending = False
        self.transfer_tried = False
        self.snap_recv.reset()

    # ------------------------------------------------------------------ roles
    def become_follower(self, term: int, lead: int) -> None:
        self.reset(term)
        self.lead = lead
        self.role = FOLLOWER

    def become_pre_candidate(self) -> None:
        if self.role is LEADER:
            raise AssertionError("leader cannot become pre-candidate")
        self.votes = {}
        self.lead = NONE
        self.role = PRE_CANDIDATE

    def become_candidate(self) -> None:
        if self.role is LEADER:
            raise AssertionError("leader cannot become candidate")
        kept = self.votes
        self.reset(self.term + 1)
        if self.bug("count_old_votes"):
            self.votes = kept  # planted: grants from an earlier round still count
        self.vote = self.id
        self.role = CANDIDATE

    def become_leader(self) -> None:
        if self.role is FOLLOWER:
            raise AssertionError("follower cannot become leader directly")
        self.reset(self.term)
        self.lead = self.id
        self.role = LEADER
        me = self.prs.get(self.id)
        if me is not None:
            me.become_replicate()
            me.next = self.log.last_index() + 1
        self.append_entries(EntryKind.NORMAL, [b""])  # the no-op that lets this term commit
        # No conf change until everything up to the no-op is applied (the known
        # single-server-change caveat: a new leader must commit in its term first).
        self.pending_conf_index = self.log.last_index()

    # ------------------------------------------------------------------ ticks
    def tick(self) -> None:
        self.clock += 1
        if self.role is LEADER:
            self.tick_heartbeat()
        else:
            self.tick_election()

    def tick_election(self) -> None:
        self.election_elapsed += 1
        if self.promotable() and self.election_elapsed >= self.randomized_timeout:
            self.election_elapsed = 0
            self.hup(transfer=False)

    def tick_heartbeat(self) -> None:
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        if self.election_elapsed >= self.cfg.election_tick:
            self.election_elapsed = 0
            if self.cfg.check_quorum and not self._quorum_active():
                self.become_follower(self.term, NONE)
                return
            self.lead_transferee = NONE  # a transfer that took this long is abandoned
        self._tick_snapshots()
        if self.heartbeat_elapsed >= self.cfg.heartbeat_tick:
            self.heartbeat_elapsed = 0
            self.bcast_heartbeat(self.start_round() if self.cfg.lease_reads else b"")

    def _quorum_active(self) -> bool:
        active = {self.id}
        for node, pr in self.prs.items():
            if node != self.id and pr.recent_active:
                active.add(node)
            pr.was_active = pr.recent_active
            pr.recent_active = False
        return has_quorum(self.conf.voters, active)

    def _tick_snapshots(self) -> None:
        """A snapshot transfer without progress for an election timeout re-sends its
        current chunk; after snapshot_timeout_ticks it starts over from a probe."""
        limit = self.cfg.snapshot_timeout_ticks or 2 * self.cfg.election_tick
        for node, pr in self.prs.items():
            if pr.state is not SNAPSHOT:
                continue
            pr.snapshot_ticks += 1
            if pr.snapshot_ticks > limit:
                pr.pending_snapshot = 0
                pr.become_probe()
            elif pr.snapshot_ticks % self.cfg.election_tick == 0:
                self._send_snapshot(node, pr)

    # ------------------------------------------------------------------ elections
    def has_unapplied_conf_change(self) -> bool:
        lo, hi = self.log.applied + 1, self.log.committed + 1
        if lo >= hi:
            return False
        try:
            ents = self.log.slice(lo, hi)
        except CompactedError:
            return False
        return any(e.kind is EntryKind.CONF_CHANGE for e in ents)

    def hup(self, transfer: bool) -> None:
        if self.role is LEADER or not self.promotable():
            return
        if self.has_unapplied_conf_change():
            return
        if self.cfg.pre_vote and not transfer:
            self.campaign(pre=True, transfer=False)
        else:
            self.campaign(pre=False, transfer=transfer)

    def campaign(self, pre: bool, transfer: bool) -> None:
        if pre:
            self.become_pre_candidate()
            kind, term = PRE_VOTE, self.term + 1
        else:
            self.become_candidate()
            kind, term = VOTE, self.term
        if self.poll(self.id, True) is VoteResult.WON:
            self._won(pre)
            return
        ctx = TRANSFER_CONTEXT if transfer else b""
        last = self.log.last_index()
        last_term = self.log.last_term()
        for node in sorted(self.conf.voters):
            if node != self.id:
                self.send(Message(kind, node, self.id, term, log_term=last_term, index=last,
                                  context=ctx))

    def _won(self, pre: bool) -> None:
        if pre:
            self.campaign(pre=False, transfer=False)
        else:
            self.become_leader()
            self.bcast_append()

    def poll(self, node: int, granted: bool) -> VoteResult:
        self.votes.setdefault(node, granted)
        return vote_result(self.conf.voters, self.votes)

    # ------------------------------------------------------------------ step
    def step(self, m: Message) -> None:
        if m.term > self.term:
            if not self._accept_higher_term(m):
                return
        elif m.term < self.term and not self._handle_lower_term(m):
            return
        if m.type in _VOTES:
            self.handle_vote_request(m)
        elif self.role is LEADER:
            self.step_leader(m)
        elif self.role is FOLLOWER:
            self.step_follower(m)
        else:
            self.step_candidate(m)

    def _accept_higher_term(self, m: Message) -> bool:
        if m.type in _VOTES:
            force = m.context == TRANSFER_CONTEXT
            et = self.cfg.election_tick
            in_lease = (self.cfg.check_quorum and self.lead != NONE
                        and self.election_elapsed < et)
            # With lease reads, a node that just (re)started may have acknowledged a
            # leader's heartbeat before it crashed: it keeps that promise too.
            in_lease = in_lease or (self.cfg.lease_reads and self.clock < et)
            if in_lease and not force:
                return False  # we heard from a live leader recently: ignore
        if m.type is PRE_VOTE:
            return True  # a pre-vote never changes our term
        if m.type is PRE_VOTE_RESP and not m.reject:
            return True  # granted pre-votes carry the future term
        lead = m.frm if m.type in _FROM_LEADER else NONE
        elapsed = self.election_elapsed
        self.become_follower(m.term, lead)
        if lead == NONE:
            # Only a leader's message or a granted vote restarts the election timer
            # (Raft §5.2): a node that keeps timing out first must not starve the rest.
            self.election_elapsed = elapsed
        return True

    def _handle_lower_term(self, m: Message) -> bool:
        if m.type in (APP, HEARTBEAT):
            # Tell a stale leader about the newer term so it steps down.
            self.send(Message(APP_RESP, m.frm, self.id, self.term))
        elif m.type is PRE_VOTE:
            self.send(Message(PRE_VOTE_RESP, m.frm, self.id, self.term, reject=True))
        elif m.type is VOTE_RESP and self.bug("count_old_votes"):
            return True
        return False

    def handle_vote_request(self, m: Message) -> None:
        pre = m.type is PRE_VOTE
        resp = PRE_VOTE_RESP if pre else VOTE_RESP
        can_vote = (
            self.vote == m.frm
            or (self.vote == NONE and self.lead == NONE)
            or (pre and m.term > self.term)
        )
        up_to_date = self.log.is_up_to_date(m.index, m.log_term) or self.bug("skip_up_to_date")
        # A node that is not a voter in its own (possibly stale) configuration still
        # answers: candidates count only the votes of their own voters, and a member
        # that lags behind its own promotion must not block elections.
        if can_vote and up_to_date:
            self.send(Message(resp, m.frm, self.id, m.term))
            if not pre:
                self.election_elapsed = 0
                self.vote = m.frm
        else:
            self.send(Message(resp, m.frm, self.id, self.term, reject=True))

    def step_follower(self, m: Message) -> None:
        t = m.type
        if t in _FROM_LEADER:
            self.election_elapsed = 0
            self.lead = m.frm
            self._handle_from_leader(m)
        elif t is TIMEOUT_NOW:
            self.hup(transfer=True)
        elif t is READ_INDEX_RESP:
            self.read_states.append(ReadState(m.index, m.context))

    def step_candidate(self, m: Message) -> None:
        t = m.type
        if t in _FROM_LEADER:
            self.become_follower(m.term, m.frm)
            self._handle_from_leader(m)
            return
        mine = PRE_VOTE_RESP if self.role is PRE_CANDIDATE else VOTE_RESP
        if t is not mine:
            return
        result = self.poll(m.frm, not m.reject)
        if result is VoteResult.WON:
            self._won(self.role is PRE_CANDIDATE)
        elif result is VoteResult.LOST:
            self.become_follower(self.term, NONE)

    def _handle_from_leader(self, m: Message) -> None:
        if m.type is APP:
            self.handle_append(m)
        elif m.type is HEARTBEAT:
            last = self.log.last_index()
            if m.commit > last:
                # The leader saw us hold entries we no longer have (our data was lost,
                # e.g. a wiped data dir): say how far our log goes so that it probes again.
                self.log.commit_to(last)
                self.send(Message(HEARTBEAT_RESP, m.frm, self.id, self.term,
                                  index=last, reject=True, context=m.context))
                return
            self.log.commit_to(m.commit)
            self.send(Message(HEARTBEAT_RESP, m.frm, self.id, self.term,
                              context=m.context))
        else:
            self.handle_snapshot(m)

    def handle_append(self, m: Message) -> None:
        if m.index < self.log.committed:
            self.send(Message(APP_RESP, m.frm, self.id, self.term,
                              index=self.log.committed))
            return
        last_new = self.log.maybe_append(m.index, m.log_term, m.commit, m.entries)
        if last_new is not None:
            self.send(Message(APP_RESP, m.frm, self.id, self.term, index=last_new))
            return
        hint = min(m.index, self.log.last_index())
        hint, hint_term = self.log.find_conflict_by_term(hint, m.log_term)
        self.send(Message(APP_RESP, m.frm, self.id, self.term, index=m.index,
                          reject=True, reject_hint=hint, log_term=hint_term))

    def handle_snapshot(self, m: Message) -> None:
        part = m.snapshot
        if part is None:
            return
        if m.offset == 0 and part.meta.index <= self.log.committed:
            self.snap_recv.reset()  # nothing to gain: tell the leader where we are
            self.send(Message(APP_RESP, m.frm, self.id, self.term,
                              index=self.log.committed))
            return
        got, whole = self.snap_recv.offer(part, m.offset, m.done)
        if got is Offer.DUPLICATE:
            return
        if whole is None:
            self.send(Message(SNAP_RESP, m.frm, self.id, self.term,
                              index=part.meta.index, offset=self.snap_recv.expected(part.meta),
                              reject=got is Offer.GAP))
            return
        idx = self.log.last_index() if self.restore(whole) else self.log.committed
        self.send(Message(APP_RESP, m.frm, self.id, self.term, index=idx))

    def restore(self, snap: Snapshot) -> bool:
        meta = snap.meta
        if meta.index <= self.log.committed:
            return False
        if self.log.match_term(meta.index, meta.term):
            self.log.commit_to(meta.index)  # we already have it: just fast-forward
            return False
        self.log.restore(snap)
        self.set_conf(meta.conf)
        return True

    # ------------------------------------------------------------------ leader
    def step_leader(self, m: Message) -> None:
        if m.type is READ_INDEX:
            self.read_index(m.context, m.frm)
            return
        pr = self.prs.get(m.frm)
        if pr is None:
            return
        if m.type is APP_RESP:
            pr.recent_active = True
            if m.reject:
                self._handle_reject(m, pr)
            else:
                self._handle_ack(m, pr)
        elif m.type is HEARTBEAT_RESP:
            self._handle_heartbeat_resp(m, pr)
        elif m.type is SNAP_RESP:
            pr.recent_active = True
            if pr.state is SNAPSHOT and m.index == pr.pending_snapshot and (
                    m.reject or m.offset > pr.snap_offset):
                pr.snap_offset = m.offset
                pr.snapshot_ticks = 0
                self._send_snapshot(m.frm, pr)

    def _handle_reject(self, m: Message, pr: Progress) -> None:
        hint = m.reject_hint
        if m.log_term > 0:
            hint, _ = self.log.find_conflict_by_term(m.reject_hint, m.log_term)
        if pr.maybe_decr_to(m.index, hint):
            if pr.state is REPLICATE:
                pr.become_probe()
            self.send_append(m.frm)

    def _handle_ack(self, m: Message, pr: Progress) -> None:
        was_paused = pr.is_paused()
        if not pr.maybe_update(m.index):
            return
        snap_done = pr.state is SNAPSHOT and pr.match >= pr.pending_snapshot
        if pr.state is PROBE or snap_done:
            pr.become_replicate()
        elif pr.state is REPLICATE:
            pr.inflights.free_le(m.index)
        if self.maybe_commit():
            self.bcast_append()
        elif was_paused:
            self.send_append(m.frm)
        while self.send_append(m.frm, send_if_empty=False):
            pass
        if m.frm == self.lead_transferee and pr.match == self.log.last_index():
            self.send(Message(TIMEOUT_NOW, m.frm, self.id, self.term))

    def _handle_heartbeat_resp(self, m: Message, pr: Progress) -> None:
        pr.recent_active = True
        pr.probe_sent = False
        if m.reject and m.index < pr.match:
            # the follower lost entries it had acknowledged: find its log again
            pr.match = m.index
            pr.become_probe()
        if pr.state is REPLICATE and pr.inflights.full():
            pr.inflights.free_first_one()
        if pr.match < self.log.last_index():
            self.send_append(m.frm)
        if m.context and m.frm in self.conf.voters:
            self._release_reads(self.readonly.ack(m.frm, m.context, self.conf.voters))

    def maybe_commit(self) -> bool:
        match = {n: pr.match for n, pr in self.prs.items()}
        idx = committed_index(self.conf.voters, match)
        if self.bug("commit_old_term"):
            if idx > self.log.committed and idx <= self.log.last_index():
                self.log.commit_to(idx)
                self._after_commit()
                return True
            return False
        if self.log.maybe_commit(idx, self.term):
            self._after_commit()
            return True
        return False

    def _after_commit(self) -> None:
        if self.waiting_reads and self.committed_in_term():
            waiting, self.waiting_reads = self.waiting_reads, []
            for ctx, origin in waiting:
                self.read_index(ctx, origin)

    def committed_in_term(self) -> bool:
        return self.log.term_or_zero(self.log.committed) == self.term

    def on_persisted(self) -> None:
        """The host made entries durable: the leader may count its own copy now."""
        me = self.prs.get(self.id)
        if me is None or self.role is not LEADER:
            return
        if me.maybe_update(self.stable_last()) and self.maybe_commit():
            self.bcast_append()

    def append_entries(self, kind: EntryKind, datas: list[bytes]) -> int:
        """Append entries of `kind` with `datas` in this term; the index of the last one."""
        term, first = self.term, self.log.last_index() + 1
        self.bcast_pending = True
        return self.log.append([Entry(term, first + k, kind, d) for k, d in enumerate(datas)])

    def flush(self) -> None:
        """Send what proposals and reads queued since the last Ready (batching)."""
        if self.role is not LEADER:
            self.bcast_pending = False
            return
        if self.bcast_pending:
            self.bcast_pending = False
            self.bcast_append()
        if self.readonly.needs_round():
            self.bcast_heartbeat(self.start_round())
            self._release_reads(self.readonly.check_quorum_now(self.conf.voters))

    def start_round(self) -> bytes:
        return self.readonly.start_round(self.id, self.clock, self.cfg.election_tick)

    def lease_valid(self) -> bool:
        """Lease reads: no other leader can exist until election_tick ticks after the
        send time of the newest heartbeat round a quorum acknowledged (followers ignore
        votes that long after hearing from us), minus a margin for tick phase."""
        if not self.cfg.lease_reads or self.transfer_tried or self.readonly.confirmed_sent < 0:
            return False
        return self.clock < self.readonly.confirmed_sent + self.cfg.election_tick - LEASE_MARGIN

    def bcast_append(self) -> None:
        for node, pr in sorted(self.prs.items()):
            if node == self.id or not self.send_append(node):
                continue
            # Pipelining: fill the in-flight window of a follower that is keeping up.
            while pr.state is REPLICATE and self.send_append(node, False):
                pass

    def bcast_heartbeat(self, ctx: bytes) -> None:
        for node in sorted(self.prs):
            if node != self.id:
                commit = min(self.prs[node].match, self.log.committed)
                self.send(Message(HEARTBEAT, node, self.id, self.term, commit=commit,
                                  context=ctx))

    def send_append(self, to: int, send_if_empty: bool = True) -> bool:
        pr = self.prs[to]
        if not send_if_empty and pr.next > self.log.last_index():
            return False  # nothing to send (the pipelining loops end here)
        if pr.is_paused():
            return False
        prev = pr.next - 1
        try:
            prev_term = self.log.term(prev)
            ents = self.log.entries_from(pr.next, self.cfg.max_size_per_msg)
        except CompactedError:
            return self._send_snapshot(to, pr)
        if not ents and not send_if_empty:
            return False
        self.send(Message(APP, to, self.id, self.term, log_term=prev_term, index=prev,
                          entries=tuple(ents), commit=self.log.committed))
        size = sum(e.size() for e in ents)
        pr.sent_entries(prev + len(ents), len(ents), size)
        return True

    def _send_snapshot(self, to: int, pr: Progress) -> bool:
        """Send the chunk of the current snapshot that `to` waits for."""
        snap = self.log.snapshot()
        if snap.is_empty():
            raise AssertionError("log compacted but no snapshot available")
        if pr.state is not SNAPSHOT or pr.pending_snapshot != snap.meta.index:
            pr.become_snapshot(snap.meta.index)  # (re)start, from byte 0
        part, done = chunk(snap, pr.snap_offset, self.cfg.snapshot_chunk_size)
        self.send(Message(SNAP, to, self.id, self.term, snapshot=part,
                          offset=pr.snap_offset, done=done))
        return True

    # ------------------------------------------------------------------ host calls
    def propose(self, datas: list[bytes]) -> int:
        """Append NORMAL entries; returns the index of the last one."""
        self._check_can_propose()
        return self.append_entries(EntryKind.NORMAL, datas)

    def _check_can_propose(self) -> None:
        if self.role is not LEADER:
            raise NotLeaderError(self.lead)
        if self.lead_transferee != NONE:
            raise ProposalDroppedError("leadership transfer in progress")
        if self.id not in self.prs:
            raise ProposalDroppedError("this node was removed from the configuration")

    def propose_conf_change(self, cc: ConfChange) -> int:
        self._check_can_propose()
        if self.pending_conf_index > self.log.applied:
            raise ProposalDroppedError("a configuration change is still pending")
        after = cc.apply_to(self.conf)
        if not after.voters:
            raise ProposalDroppedError("cannot remove the last voter")
        idx = self.append_entries(EntryKind.CONF_CHANGE, [cc.to_bytes()])
        self.pending_conf_index = idx
        return idx

    def read_index(self, ctx: bytes, origin: int) -> None:
        if self.role is not LEADER:
            if self.lead != NONE and origin == self.id:
                self.send(Message(READ_INDEX, self.lead, self.id, self.term,
                                  context=ctx))
            return
        if not self.committed_in_term():
            self.waiting_reads.append((ctx, origin))
            return
        req = ReadRequest(ctx, self.log.committed, origin, 0)
        if self.lease_valid() or self.conf.voters <= {self.id}:
            self._release_reads([req])
        else:
            self.readonly.add(ctx, self.log.committed, origin)

    def _release_reads(self, reqs: list[ReadRequest]) -> None:
        for r in reqs:
            if r.origin == self.id:
                self.read_states.append(ReadState(r.index, r.context))
            else:
                self.send(Message(READ_INDEX_RESP, r.origin, self.id, self.term,
                                  index=r.index, context=r.context))

    def transfer_leadership(self, to: int) -> None:
        if self.role is not LEADER:
            raise NotLeaderError(self.lead)
        if to == self.id or to not in self.conf.voters or to == self.lead_transferee:
            return
        self.lead_transferee = to
        self.transfer_tried = True  # a late TIMEOUT_NOW may elect `to` at any time now
        self.election_elapsed = 0
        if self.prs[to].match == self.log.last_index():
            self.send(Message(TIMEOUT_NOW, to, self.id, self.term))
        else:
            self.send_append(to)

    def report_snapshot(self, to: int, failed: bool) -> None:
        pr = self.prs.get(to)
        if pr is None or pr.state is not SNAPSHOT:
            return
        if failed:
            pr.pending_snapshot = 0
        pr.become_probe()
        pr.probe_sent = True  # wait for the next heartbeat response before probing

    # ------------------------------------------------------------------ membership
    def set_conf(self, conf: ConfState) -> None:
        self.conf = conf
        members = conf.voters | conf.learners
        for node in list(self.prs):
            if node not in members:
                del self.prs[node]
        for node in members:
            pr = self.prs.get(node)
            if pr is None:
                self.prs[node] = self._new_progress(node)
            else:
                pr.is_learner = node in conf.learners

    def apply_conf_change(self, cc: ConfChange) -> None:
        self.set_conf(cc.apply_to(self.conf))
        if self.lead_transferee != NONE and self.lead_transferee not in self.conf.voters:
            self.lead_transferee = NONE
        if self.role is not LEADER:
            return
        if self.id not in self.conf.voters:
            self.become_follower(self.term, NONE)  # removed or demoted: step down
            return
        if cc.type is ConfChangeType.REMOVE and self.maybe_commit():
            self.bcast_append()
        self._release_reads(self.readonly.check_quorum_now(self.conf.voters))
        self.bcast_pending = True
