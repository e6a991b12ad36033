"""Cluster-wide safety invariants, checked incrementally after every simulation step."""

from __future__ import annotations

from roost.raft import Entry, MemoryStorage, Message, MsgType, Role
from roost.raft.core import Raft

#: messages whose promises the persistence check looks at
_PRE_VOTES = frozenset({MsgType.PRE_VOTE, MsgType.PRE_VOTE_RESP})
#: (read per message sent, as globals: an enum class's attribute costs several times more)
_VOTE, _VOTE_RESP, _APP_RESP = MsgType.VOTE, MsgType.VOTE_RESP, MsgType.APP_RESP


class InvariantViolation(AssertionError):
    """A safety or liveness property failed; the message names it."""


class Checker:
    def __init__(self) -> None:
        self.leaders: dict[int, int] = {}  # term -> leader id (election safety)
        self.log_facts: dict[tuple[int, int], tuple[bytes, int | None]] = {}  # log matching
        self.committed: dict[int, int] = {}  # index -> term (never lost, completeness)
        #: index -> the term of the node that first regarded it committed: it was committed
        #: in that term or before (an entry of an older term may be committed under a
        #: later leader's, and a stale leader of a term in between need not have it)
        self.commit_terms: dict[int, int] = {}
        self.applied: dict[int, tuple[int, bytes]] = {}  # index -> (term, data)
        self.digests: dict[int, bytes] = {}  # index -> state-machine digest
        self.max_applied = 0
        self.max_committed = 0
        #: indexes first recorded as committed since the host last took them (checked
        #: against every current leader's log, see `check_new_commits`)
        self.fresh: list[int] = []
        self.checks = 0

    # -- election safety --
    def on_role(self, node: int, raft: Raft) -> None:
        if raft.role is not Role.LEADER:
            return
        self.checks += 1
        other = self.leaders.setdefault(raft.term, node)
        if other != node:
            raise InvariantViolation(
                f"election safety: nodes {other} and {node} both lead term {raft.term}")
        self.check_leader_complete(node, raft)

    # -- log matching: (index, term) identifies one entry and one predecessor term --
    def on_entries(self, node: int, raft: Raft, ents: tuple[Entry, ...]) -> None:
        prev_term: int | None = None
        if ents:
            t = raft.log.term_or_zero(ents[0].index - 1)
            prev_term = t if t or ents[0].index == 1 else None
        for e in ents:
            self.checks += 1
            key = (e.index, e.term)
            fact = self.log_facts.get(key)
            if fact is None:
                self.log_facts[key] = (e.data, prev_term)
            else:
                data, pt = fact
                if data != e.data or (pt is not None and prev_term is not None and pt != prev_term):
                    raise InvariantViolation(
                        f"log matching: node {node} holds a different entry or predecessor "
                        f"at index {e.index} term {e.term}")
                if pt is None and prev_term is not None:
                    self.log_facts[key] = (data, prev_term)
            prev_term = e.term

    # -- commit records, leader completeness --
    def on_commit(self, node: int, raft: Raft, lo: int, hi: int) -> None:
        """Record that `node` regards (lo, hi] as committed."""
        first = raft.log.first_index()
        for i in range(max(lo + 1, first), hi + 1):
            self.record_committed(node, i, raft.log.term(i), raft.term)
        snap = raft.log.snapshot().meta
        if lo < snap.index <= hi:
            self.record_committed(node, snap.index, snap.term, raft.term)

    def on_leader_commit(self, node: int, raft: Raft, before: int) -> None:
        """Raft §5.4.2: a leader moves its commit index only onto an entry of its own
        term (older entries get committed indirectly, underneath it)."""
        self.checks += 1
        c = raft.log.committed
        if c > before and raft.log.term(c) != raft.term:
            raise InvariantViolation(
                f"commit rule: leader {node} of term {raft.term} advanced its commit "
                f"index to {c}, an entry of term {raft.log.term(c)}")

    def record_committed(self, node: int, index: int, term: int, in_term: int = 0) -> None:
        """`node`, in term `in_term`, regards `index` (of term `term`) as committed."""
        self.checks += 1
        seen = self.committed.get(index)
        if seen is None:
            self.committed[index] = term
            self.commit_terms[index] = max(term, in_term)
            if index > self.max_committed:
                self.max_committed = index
            self.fresh.append(index)
        elif seen != term:
            raise InvariantViolation(
                f"committed entry lost: index {index} was committed with term {seen}, "
                f"node {node} regards term {term} as committed there")

    def check_leader_complete(self, node: int, raft: Raft,
                              indexes: list[int] | range | None = None) -> None:
        """Every committed entry is in the log of every leader of a later term than the one
        it was committed in (`indexes`: only those; by default every committed index the
        leader's log has not compacted)."""
        log = raft.log
        first = log.first_index()
        last = log.last_index()
        if indexes is None:
            indexes = range(first, self.max_committed + 1)
        committed, commit_terms = self.committed, self.commit_terms
        for index in indexes:
            term = committed.get(index)
            if term is None or index < first or commit_terms[index] > raft.term:
                continue
            self.checks += 1
            if index > last or log.term(index) != term:
                raise InvariantViolation(
                    f"leader completeness: leader {node} of term {raft.term} lacks "
                    f"committed entry {index} (term {term})")

    def check_new_commits(self, leaders: list[tuple[int, Raft]]) -> None:
        """The indexes committed since the last call are in every current leader's log
        (a leader elected later is checked in full by `on_role`)."""
        fresh, self.fresh = self.fresh, []
        if fresh:
            for node, raft in leaders:
                self.check_leader_complete(node, raft, fresh)

    # -- state machine safety --
    def on_apply(self, node: int, e: Entry, digest: bytes) -> None:
        self.checks += 1
        seen = self.applied.setdefault(e.index, (e.term, e.data))
        if seen != (e.term, e.data):
            raise InvariantViolation(
                f"state machine safety: node {node} applied (term {e.term}) at index "
                f"{e.index} where another node applied term {seen[0]}")
        d = self.digests.setdefault(e.index, digest)
        if d != digest:
            raise InvariantViolation(f"state machine digest differs at {e.index} on node {node}")
        self.max_applied = max(self.max_applied, e.index)

    def on_install(self, node: int, index: int, digest: bytes) -> None:
        self.checks += 1
        d = self.digests.setdefault(index, digest)
        if d != digest:
            raise InvariantViolation(f"snapshot at {index} installed on node {node} differs")

    # -- persistence ordering (the Ready contract) --
    def on_send(self, node: int, m: Message, disk: MemoryStorage) -> None:
        """A message leaves `node`; what it promises must already be on `disk` (the state
        a crash would keep)."""
        self.checks += 1
        hs = disk.hard_state
        t = m.type
        if t in _PRE_VOTES:
            return
        if hs.term < m.term:
            raise InvariantViolation(
                f"persistence: node {node} sent {t.name} in term {m.term} with term "
                f"{hs.term} on disk")
        if t is _VOTE and (hs.term != m.term or hs.vote != node):
            raise InvariantViolation(f"persistence: node {node} asked for votes before "
                                     f"persisting its own vote in term {m.term}")
        if t is _VOTE_RESP and not m.reject and (
                hs.term != m.term or hs.vote != m.to):
            raise InvariantViolation(f"persistence: node {node} granted a vote in term "
                                     f"{m.term} before persisting it")
        if t is _APP_RESP and not m.reject:
            durable = max(disk.last_index(), disk.snapshot().meta.index)
            if m.index > durable:
                raise InvariantViolation(
                    f"persistence: node {node} acknowledged index {m.index} with only "
                    f"{durable} durable")
