"""One ensemble member's logic, with no I/O: raft driven through its Ready/Advance cycle,
forwarding and resending, read barriers, session pings, membership reconciliation.

`ReplicaCore` reads no clock and draws no random number: every input carries the host's
`now` (seconds, monotonic) and read contexts come from the host. Its effects are values
(roost.replica.effects): each input appends them to the outbox, and the host takes them
(`take_effects`) after every input and performs them in order (messages to peers, raft's
messages, role changes, resets, replies it decided, read barriers passed or timed out,
grants). What runs while entries apply stays with `ReplicaState`: its `applied` sink and
each proposal's `done` (see roost.replica.effects for why). The host (`RaftLog`, or the
simulator) runs the loop, performing the effects after each call:

    rd = core.ready(now)          # proposals batched, soft state and early messages out
    persist rd                    # entries, hard state, snapshot: the host's disk
        core.early()              # (optional, as inputs arrive meanwhile) appends out
    core.persisted(rd, image)     # messages that waited for the disk, snapshot install
    core.advance(rd)              # apply (the state's sinks run), read indexes
    core.settle(now)              # answer the reads now applied; a removed member's peers

The effects of `persisted` are performed before `advance`: a snapshot's `Reset` comes
before the entries after it apply.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import msgpack

from roost.raft import (
    NONE,
    ConfState,
    Message,
    NotLeaderError,
    ProposalDroppedError,
    RaftNode,
    Ready,
    Role,
)
from roost.replica.effects import (
    DROP_PEERS,
    RESET,
    Effect,
    Granted,
    Messages,
    ReadReady,
    ReadTimedOut,
    Reply,
    RoleChanged,
    Send,
)
from roost.replica.log import Done
from roost.replica.member import Member
from roost.replica.membership import config_version, plan, refusal, told_removed
from roost.replica.sessions import Sessions
from roost.replica.state import LOST, Pending, ReplicaState, founders_of
from roost.tree.txn import Txn

log = logging.getLogger("roost.raftlog")

#: (an enum member read per input, as a global: through its class it costs several times more)
_LEADER = Role.LEADER

#: peer channels: raft messages, forwarded txns, session reports for the leader (a batch
#: of touched sessions, [seq, [sids]]; to a leader not known to acknowledge them, the
#: older form [sids]), the leader's acknowledgements ([seq, [alive sids]]), and a leader's
#: word that it acknowledges reports ([term]; a version without grants ignores the channel)
CH_RAFT = 0
CH_FORWARD = 1
CH_TOUCH = 2
CH_TOUCH_ACK = 3
CH_GRANTS = 4

#: the liveness reports ((from, seq, sids)) a leader's own read barrier confirms; a barrier
#: without one (None) is the host's read, answered with ReadReady / ReadTimedOut
_Batch = list[tuple[int, int, list[int]]]


@dataclass(frozen=True, slots=True)
class CoreConfig:
    election_ticks: int
    #: seconds per raft tick
    tick_s: float
    #: seconds after which a proposal or a read barrier gives up
    request_timeout_s: float
    #: proposals kept while there is no leader, before new ones fail at once
    max_waiting: int
    #: the members the ensemble was founded with (addresses of the founding registry)
    members: tuple[Member, ...] = ()
    #: answer read barriers at once (the fault harness's deliberate bug)
    skip_read_barrier: bool = False
    #: acknowledge liveness reports and answer sessions only under grants; False behaves
    #: as a version without grants does (tests of a rolling upgrade only)
    grants: bool = True


class ReplicaCore:
    def __init__(
        self,
        state: ReplicaState,
        node: RaftNode,
        config: CoreConfig,
        now: float,
        sessions: Sessions | None = None,
    ) -> None:
        self.state = state
        self.node = node
        self.config = config
        #: the effects of the inputs since the host last took them, in order
        self.effects: list[Effect] = []
        self.id = state.id
        self.role = Role.FOLLOWER
        self.leader = NONE
        self.to_propose: list[bytes] = []
        self.touched: set[int] = set()
        #: read barriers asked (ctx -> (asked at, batch)) and those whose read index is
        #: known, waiting for it to apply ((index, ctx, batch))
        self.reads: dict[bytes, tuple[float, _Batch | None]] = {}
        self.read_waits: list[tuple[int, bytes, _Batch | None]] = []
        self.leaderless_since: float | None = now
        self.peers_dropped = False
        #: session liveness (roost.replica.sessions); None: the host keeps none
        self.sessions = sessions
        #: leading and an entry of our own term applied (see roost.replica.sessions)
        self.established = False
        #: the host's time at the last input that carried one (ready, tick, receive)
        self.now = now
        #: liveness reports: ours in flight (seq -> (sent at, sids)), and those the leader
        #: will acknowledge after its next leadership check ((from, seq, sids))
        self.report_seq = 0
        self.reports: dict[int, tuple[float, list[int]]] = {}
        self.to_ack: list[tuple[int, int, list[int]]] = []
        self.grant_rounds = 0
        #: answer sessions only under grants; off while a leader that does not acknowledge
        #: reports (a version without grants) leads, so a rolling upgrade keeps clients
        self.gating = config.grants
        #: peers that said they acknowledge reports (forgotten when their link breaks),
        #: and, leading, the peers told so in this leadership
        self.granting_peers: set[int] = set()
        self._told: set[int] = set()
        #: the current leader acknowledges reports: True, False (it did not say so in
        #: time), None (not known yet); older-form reports sent to it, ticks it has led
        self.leader_grants: bool | None = None
        self._plain_reports = 0
        self._unknown_ticks = 0
        #: the raft configuration and registry `_reconcile` last found in agreement
        self._agreed: tuple[ConfState | None, dict[int, Member] | None] = (None, None)

    def take_effects(self) -> list[Effect]:
        """The effects of the inputs since the last call, in order (the host performs
        them before its next input)."""
        out, self.effects = self.effects, []
        return out

    def _send(self, to: int, channel: int, payload: bytes) -> bool:
        """Queue a message for a peer; False once this member dropped its peers (nothing
        leaves it then). A message the host could not queue comes back (`unsent`)."""
        if self.peers_dropped:
            return False
        self.effects.append(Send(to, channel, payload))
        return True

    def _send_raft(self, msgs: tuple[Message, ...]) -> None:
        if msgs and not self.peers_dropped:
            self.effects.append(Messages(msgs))

    def unsent(self, to: int, channel: int, payload: bytes) -> None:
        """The host could not queue a `Send` (no link to `to` now, or its queue is full):
        keep what waits for it, as if it had never been sent. A liveness report goes
        again at the next tick; the word that this leader acknowledges reports, too."""
        if channel == CH_GRANTS:
            self._told.discard(to)
        elif channel == CH_TOUCH:
            msg = msgpack.unpackb(payload)
            if len(msg) == 2 and isinstance(msg[1], list):
                seq, sids = int(msg[0]), msg[1]
                if self.reports.pop(seq, None) is None:
                    return  # (acknowledged or given up meanwhile)
            else:
                sids = msg
                self._plain_reports -= 1
            self.touched.update(int(s) for s in sids)

    @property
    def is_leader(self) -> bool:
        return self.role == _LEADER

    @property
    def may_expire(self) -> bool:
        """Only an established leader decides session expiries."""
        return self.established and self.role == _LEADER

    def may_answer(self, session_id: int, now: float) -> bool:
        """This member may answer the session now: it holds a liveness grant for it (or
        does not gate, as under a leader without grants)."""
        return self.granted_until(session_id) > now

    def granted_until(self, session_id: int) -> float:
        """Until when this member may answer the session: -inf without a grant, inf
        while it does not gate."""
        if not self.gating:
            return math.inf
        if self.sessions is None:
            return -math.inf
        return self.sessions.granted.get(session_id, -math.inf)

    def partitioned(self, now: float) -> bool:
        """No leader for longer than two election timeouts (one for the old leader's lease
        to lapse, one for a possibly split vote): this member may be cut off from the
        majority, so its local reads may be stale."""
        since = self.leaderless_since
        if since is None:
            return False
        return now - since > 2 * self.config.election_ticks * self.config.tick_s

    # --- inputs ------------------------------------------------------------------------
    def propose(
        self, txn: Txn, done: Done | None, abandoned: Callable[[], bool] | None, now: float
    ) -> None:
        if len(self.state.pending) >= self.config.max_waiting and self.leader == NONE:
            if done is not None:  # no leader and the waiting room is full: fail fast
                self.effects.append(Reply(done, 0, LOST))
            return
        self._send_pending(self.state.stamp(txn, done, abandoned, now))

    def _send_pending(self, p: Pending) -> None:
        if self.leader == self.id and self.role == _LEADER:
            self.to_propose.append(p.txn)
        elif self.leader != NONE:
            self._send(self.leader, CH_FORWARD, p.txn)

    def resend_all(self) -> None:
        """Send every pending txn again (after a leader change or a broken link); the
        state applies each at most once."""
        for p in self.state.to_resend():
            self._send_pending(p)

    def touch(self, session_id: int) -> None:
        """A client of this member was heard from (the host touched it in `sessions`;
        every member reports it to the leader, the leader to itself, at its next tick)."""
        self.touched.add(session_id)

    def barrier(self, ctx: bytes, now: float) -> None:
        """`ReadReady(ctx)` once this member has applied everything committed before now
        (a ReadIndex round named `ctx`, unique); re-asked after a leader change;
        `ReadTimedOut(ctx)` after the request timeout."""
        self._barrier(ctx, None, now)

    def _barrier(self, ctx: bytes, batch: _Batch | None, now: float) -> None:
        if self.config.skip_read_barrier:
            self._read_ready(ctx, batch)
            return
        self.reads[ctx] = (now, batch)
        self.node.read_index(ctx)

    def _read_ready(self, ctx: bytes, batch: _Batch | None) -> None:
        if batch is None:
            self.effects.append(ReadReady(ctx))
        else:
            self._confirm(batch)

    def receive(self, frm: int, channel: int, payload: bytes, now: float) -> None:
        """A peer's message; a bad one is dropped (logged), never raised."""
        self.now = now
        try:
            if channel == CH_RAFT:
                self.node.step(Message.from_bytes(payload))
            elif channel == CH_FORWARD:
                if self.is_leader:
                    self.to_propose.append(payload)
            elif channel == CH_TOUCH:
                msg = msgpack.unpackb(payload)
                if len(msg) == 2 and isinstance(msg[1], list):
                    if not self.config.grants:  # as a version without grants fails to
                        raise ValueError("a report in a form this version cannot read")
                    self._reported(frm, int(msg[0]), [int(s) for s in msg[1]], now)
                else:  # the older form: no acknowledgement wanted (yet)
                    self._reported(frm, 0, [int(s) for s in msg], now)
                    if self.is_leader and self.config.grants:  # the reporter may not know
                        self._send(frm, CH_GRANTS, msgpack.packb([self.node.term]))
            elif channel == CH_TOUCH_ACK:
                seq, raw = msgpack.unpackb(payload)
                self._acknowledged(int(seq), [int(s) for s in raw])
            elif channel == CH_GRANTS:
                self.granting_peers.add(frm)
                if frm == self.leader and self.leader_grants is not True:
                    self._leader_grants(True)
        except Exception as e:  # a peer's bad message must not stop this member
            log.warning("dropping bad message from member %d on channel %d: %s", frm, channel, e)

    def peer_down(self, peer: int) -> bool:
        """The link to `peer` broke. True when it was the leader's: the host should call
        `campaign_if_leaderless` soon, at a random moment (so that followers do not split
        the vote; pre-vote keeps it safe when only our link broke)."""
        self.granting_peers.discard(peer)  # it may come back as another version
        self._told.discard(peer)
        if peer != self.leader:
            return False
        log.info("member %d: lost the link to leader %d", self.id, peer)
        self.node.forget_leader()
        return True

    def campaign_if_leaderless(self) -> None:
        if self.node.leader == NONE:
            self.node.campaign()

    def peer_up(self, peer: int) -> None:
        if peer == self.leader:  # anything queued on the broken link may be gone: resend
            self.resend_all()
        if self.is_leader:
            self._told.discard(peer)
            self._announce()

    def tick(self, now: float) -> None:
        self.now = now
        self.node.tick()
        if self.role is _LEADER:
            self._reconcile()
            self._announce()
        if self.touched or self.reports or self.to_ack:
            self._report(now)
        if self.leader_grants is None and self.leader not in (NONE, self.id):
            self._check_leader_grants()
        timeout = self.config.request_timeout_s
        if self.reads:
            for ctx, (since, batch) in list(self.reads.items()):
                if now - since > timeout:
                    del self.reads[ctx]
                    if batch is None:
                        self.effects.append(ReadTimedOut(ctx))
        if not self.state.pending:
            return
        for p in self.state.expire(now, timeout):
            if p.done is not None:  # outcome unknown: the client sees ConnectionLoss
                self.effects.append(Reply(p.done, 0, LOST))

    def fence(self) -> None:
        """The host's storage failed: it acknowledges nothing more, so every read barrier
        gives up and every pending proposal ends with LOST, now."""
        for ctx, (_since, batch) in self.reads.items():
            if batch is None:
                self.effects.append(ReadTimedOut(ctx))
        self.reads.clear()
        for _index, ctx, batch in self.read_waits:
            if batch is None:
                self.effects.append(ReadTimedOut(ctx))
        self.read_waits.clear()
        pending, self.state.pending = self.state.pending, {}
        for p in pending.values():
            if p.done is not None:
                self.effects.append(Reply(p.done, 0, LOST))

    # --- session liveness reports and grants (roost.replica.sessions) --------------------
    def _report(self, now: float) -> None:
        """Report the sessions touched since the last report to the leader (ourselves
        if leading); the batch is kept while the link to the leader is down (a lost batch
        could let the leader expire live sessions). The leader then checks its leadership
        once for every report it got since its last check, and acknowledges them."""
        if self.touched and self.leader != NONE:
            sids = sorted(self.touched)
            seq = self.report_seq + 1
            if self.leader == self.id:
                self._reported(self.id, seq, sids, now)
            elif not (self.leader_grants and self.config.grants):
                # the older form, which every version reads: not acknowledged
                if self._send(self.leader, CH_TOUCH, msgpack.packb(sids)):
                    self.touched.clear()
                    self._plain_reports += 1
                seq = 0
            elif not self._send(self.leader, CH_TOUCH, msgpack.packb([seq, sids])):
                seq = 0
            if seq:
                self.report_seq = seq
                self.reports[seq] = (now, sids)
                self.touched.clear()
        if self.reports and len(self.reports) > 64:  # acknowledgements lost: keep the newest
            for old in sorted(self.reports)[:-64]:
                del self.reports[old]
        if self.to_ack and self.may_expire:
            batch, self.to_ack = self.to_ack, []
            self.grant_rounds += 1
            ctx = b"\0grant" + self.grant_rounds.to_bytes(8, "big")
            self._barrier(ctx, batch, now)

    def _reported(self, frm: int, seq: int, sids: list[int], now: float) -> None:
        """A member's report: its sessions were heard from (deadlines restart now)."""
        if self.sessions is not None:
            for sid in sids:
                self.sessions.touch(sid, now)
        if self.role == _LEADER and seq and self.config.grants:
            self.to_ack.append((frm, seq, sids))

    def _announce(self) -> None:
        """Tell every member not told yet in this leadership (its link was down) that this
        leader acknowledges liveness reports."""
        if not self.config.grants:
            return
        conf = self.node.conf_state
        told = self._told
        if len(told) + 1 >= len(conf.voters) + len(conf.learners):
            return
        word = msgpack.packb([self.node.term])
        for peer in sorted({*conf.voters, *conf.learners} - told - {self.id}):
            if self._send(peer, CH_GRANTS, word):
                told.add(peer)

    def _leader_grants(self, grants: bool) -> None:
        """Learned whether the current leader acknowledges reports: gate accordingly."""
        self.leader_grants = grants
        if not self.config.grants or self.gating == grants:
            return
        self.gating = grants
        if grants:
            log.info("member %d: leader %d acknowledges liveness reports: answering "
                     "sessions only under its grants again", self.id, self.leader)
            return
        log.warning("member %d: leader %d does not acknowledge liveness reports (a version "
                    "without grants?): answering sessions without them", self.id, self.leader)
        if self.sessions is not None:  # what waited for a grant may be answered now
            self.effects.append(Granted(list(self.sessions.timeouts)))

    def _check_leader_grants(self) -> None:
        """A leader that has not said it acknowledges reports after two election timeouts
        and three reports in the older form (each answered with its word if it does) is
        taken for a version without grants."""
        self._unknown_ticks += 1
        if self._unknown_ticks >= 2 * self.config.election_ticks and self._plain_reports >= 3:
            self._leader_grants(False)

    def _confirm(self, batch: _Batch) -> None:
        """A ReadIndex round proved this member led after it received `batch`: every
        reporter may answer the sessions we hold alive (L from its report's send time)."""
        if self.sessions is None or self.role != _LEADER:
            return
        for frm, seq, sids in batch:
            alive = self.sessions.alive(sids)
            if frm == self.id:
                self._acknowledged(seq, alive)
            else:
                self._send(frm, CH_TOUCH_ACK, msgpack.packb([seq, alive]))

    def _acknowledged(self, seq: int, alive: list[int]) -> None:
        report = self.reports.pop(seq, None)
        if report is None or self.sessions is None:
            return
        granted = self.sessions.grant(alive, report[0])
        if granted:
            self.effects.append(Granted(granted))

    # --- the Ready/Advance cycle ----------------------------------------------------------
    def ready(self, now: float) -> Ready | None:
        """The next batch of work for the host, or None. Proposals waiting for this leader
        go into raft first; the soft state is taken in and the early messages sent."""
        self.now = now
        node = self.node
        if self.to_propose and node.role == _LEADER:
            batch, self.to_propose = self.to_propose, []
            with contextlib.suppress(NotLeaderError, ProposalDroppedError):
                node.propose_batch(batch)  # if dropped, the origins resend to the next leader
        if not node.has_ready():
            return None
        rd = node.ready()
        if rd.soft_state is not None:
            self._role_change(rd.soft_state.role, rd.soft_state.leader, now)
        if rd.messages:
            self._send_raft(rd.messages)
        return rd

    def early(self) -> None:
        """While the host persists the last Ready: proposals waiting for this leader go
        into raft now and the messages that need no disk (appends of them, commit
        indexes) leave at once, so followers write while this member's disk does (the
        leader counts its own copy only once its Ready is advanced). Otherwise a no-op."""
        node = self.node
        if self.to_propose and node.role == _LEADER and self.role == _LEADER:
            batch, self.to_propose = self.to_propose, []
            with contextlib.suppress(NotLeaderError, ProposalDroppedError):
                node.propose_batch(batch)  # if dropped, the origins resend to the next leader
        self._send_raft(node.early_messages())

    def persisted(self, rd: Ready, image: bytes) -> None:
        """`rd` is persisted (with `image`, the state image of the snapshot it installed, if
        any): send what had to wait for the disk, install the snapshot (`Reset`). The host
        performs these effects before `advance`."""
        if rd.messages_after_persist:
            self._send_raft(rd.messages_after_persist)
        if rd.snapshot is not None:
            self._install(image, rd.snapshot.meta.index, rd.snapshot.meta.conf)

    def advance(self, rd: Ready) -> None:
        """After `persisted`: apply the committed entries (`ReplicaState.apply` runs its
        sinks), note the read indexes, hand the Ready back to raft."""
        if rd.committed_entries:  # (most Readies apply nothing)
            apply = self.state.apply
            for e in rd.committed_entries:
                apply(e)
            if (
                not self.established
                and self.role == _LEADER
                and any(e.term == self.node.term for e in rd.committed_entries)
            ):
                self._establish()
        for rs in rd.read_states:
            asked = self.reads.pop(rs.context, None)
            if asked is not None:
                self.read_waits.append((rs.index, rs.context, asked[1]))
        self.node.advance()

    def settle(self, now: float) -> None:
        """After a round of Ready/Advance: answer the reads whose index is applied; a
        removed member drops its peers when it is time."""
        if self.read_waits:
            applied = self.state.last_index
            ready = [w for w in self.read_waits if w[0] <= applied]
            self.read_waits = [w for w in self.read_waits if w[0] > applied]
            for _index, ctx, batch in ready:
                self._read_ready(ctx, batch)
        if self.state.removed:
            self._check_removed(now)

    def _establish(self) -> None:
        """An entry of our own term applied: anything an older leader committed is applied
        here too, and nothing an older leader decides from now on can commit. Every session
        gets a fresh deadline (ZooKeeper's leader does the same when it starts leading)."""
        self.established = True
        if self.sessions is not None:
            self.sessions.restart(self._tree_sessions(), self.now)
        log.info("member %d: established leader of term %d", self.id, self.node.term)

    def _tree_sessions(self) -> dict[int, int]:
        return {sid: info.timeout_ms for sid, info in self.state.tree.sessions.items()}

    def _role_change(self, role: Role, leader: int, now: float) -> None:
        old_leader = self.leader
        elected = role == _LEADER and self.role != _LEADER
        if role != _LEADER or self.role != _LEADER:
            self.established = False  # a new leadership establishes itself anew
        self.role, self.leader = role, leader
        if role != _LEADER:
            # proposals that waited for this leader go with its leadership: their origins
            # resend them to the next one (dedupe keeps each once), our own unless abandoned
            self.to_propose.clear()
            self.to_ack.clear()  # reports are acknowledged only by a leader
            if self.sessions is not None:
                self.sessions.abandon_expiries()  # the host abandons their proposals
        if leader == NONE:
            if self.leaderless_since is None:
                self.leaderless_since = now
        else:
            self.leaderless_since = None
        log.info(
            "member %d: %s, leader %d, term %d", self.id, role.name.lower(), leader, self.node.term
        )
        if leader != old_leader:
            self._unknown_ticks = self._plain_reports = 0
            if leader == self.id or leader in self.granting_peers:
                self._leader_grants(self.config.grants)
            else:
                self.leader_grants = None
        if elected:  # before this leadership's first messages on each link
            self._told = set()
            self._announce()
        if leader != old_leader and leader != NONE:
            self.resend_all()  # to the new leader; dedupe keeps each txn once
            # reports the old leader never acknowledged go to the new one with the next
            for _, sids in self.reports.values():
                self.touched.update(sids)
            self.reports.clear()
            for ctx in self.reads:  # a read index asked of the old leader may be lost
                self.node.read_index(ctx)
        self.effects.append(RoleChanged(role, leader))

    def _install(self, image: bytes, index: int, conf: ConfState) -> None:
        """A snapshot from the leader replaced our state (and the registry: `Reset` tells
        the host to follow it, as `ReplicaState.on_members` does for an applied change)."""
        self.state.install(image, index, founders_of(self.config.members, conf))
        if self.sessions is not None:  # the session table follows the new tree
            self.sessions.sync(self._tree_sessions(), self.now)
        log.info("member %d: installed snapshot at 0x%x", self.id, index)
        self.effects.append(RESET)

    # --- membership ----------------------------------------------------------------------
    def _check_removed(self, now: float) -> None:
        """A removed member stops talking to the others once raft's configuration no longer
        has it, or (not leading) once no leader has talked to it for a while: raft's removal
        of a member may commit without that member ever learning it (a removed leader hands
        leadership over first, and the new leader stops replicating to it)."""
        if self.peers_dropped:
            return
        conf = self.node.conf_state
        in_conf = self.id in conf.voters or self.id in conf.learners
        if in_conf and (self.is_leader or not self.partitioned(now)):
            return
        self.peers_dropped = True
        log.warning("member %d: no longer in the ensemble: dropping its peers", self.id)
        self.effects.append(DROP_PEERS)

    def refusal(self, peer: int) -> int | None:
        """`peer` asked the host for a link and the host does not know it: the version of
        our configuration, to refuse it with, when it is not a member of it (None: we have
        no say, being no member ourselves, or it is one and the host has not caught up)."""
        state = self.state
        if not state.serving:
            return None
        return refusal(state.members, self.node.conf_state, config_version(state.tree), peer)

    def refused(self, peer: int, version: int, now: float) -> None:
        """Member `peer` refused our link: its configuration, of version `version`, does
        not have us. When that is our removal (`told_removed`: a change we never applied,
        made while we were down), we stop as a member that applied its removal does: serve
        nobody, and drop the peers at once (they will tell us nothing else)."""
        self.now = now
        state = self.state
        if state.removed or self.peers_dropped:
            return
        mine = config_version(state.tree)
        if not told_removed(self.id, state.members, mine, version):
            return
        state.removed = True
        log.warning(
            "member %d: member %d's configuration 0x%x does not have it (ours is 0x%x): "
            "removed from the ensemble while away: serving no client; stop this process",
            self.id,
            peer,
            version,
            mine,
        )
        self.peers_dropped = True
        self.effects.append(DROP_PEERS)

    def _reconcile(self) -> None:
        """On the leader: move raft's membership one step towards the registry."""
        node = self.node
        raft = node.raft
        if raft.pending_conf_index > node.applied:
            return
        conf, members = node.conf_state, self.state.members
        if conf is self._agreed[0] and members is self._agreed[1]:
            return  # (every tick, mostly): the two agreed when last compared
        if not conf.learners and conf.voters == members.keys() and all(
            m.role == "voter" for m in members.values()
        ):
            # raft's configuration is the registry's: remembered by identity (both are
            # replaced, never changed in place, at every change)
            self._agreed = (conf, members)
            return
        last = raft.log.last_index()
        caught_up = {i for i, p in raft.prs.items() if last - p.match <= 100}
        # a member leaving raft's configuration is no longer replicated to: it learns of its
        # removal only if it holds the registry change when that happens (the change's
        # commit then reaches it with the removal's append); one that is down cannot wait
        version = config_version(self.state.tree)
        informed = {i for i, p in raft.prs.items() if p.match >= version or not p.active}
        step = plan(self.state.members, node.conf_state, self.id, caught_up, informed)
        if step is None:
            return
        try:
            if isinstance(step, int):
                log.info("member %d: handing leadership to %d before leaving", self.id, step)
                node.transfer_leadership(step)
            else:
                log.info("member %d: proposing %s %d", self.id, step.type.name, step.node_id)
                node.propose_conf_change(step)
        except (NotLeaderError, ProposalDroppedError) as e:
            log.info("member %d: membership step postponed: %s", self.id, e)
