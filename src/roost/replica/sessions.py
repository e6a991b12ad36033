"""Session liveness on one member, with no I/O: deadlines, who may expire, liveness grants.

Sessions themselves are replicated state in the tree (createSession/closeSession txns).
This module tracks when each session was last heard from; an expired session is closed by
proposing a closeSession txn, as ZooKeeper's leader does. Every method takes the host's
`now` (seconds, monotonic); nothing here reads a clock or draws a random number.

Who may expire: only the leader, and only once it is *established*, i.e. it has applied an
entry of its own term (raft's no-op). At that moment it restarts every session's deadline
(`restart`), as ZooKeeper's leader gives every session a fresh timeout when it starts
leading: no session expires for time spent in an election, nor because of pings another
leader heard. A follower hears only its own clients' pings, the leader all of them
(followers report theirs).

Why established, not elected: an older leader's expiry that was replicated before the
election may still commit under the new leader, but then it commits *before* the new
leader's own no-op, so the new leader has applied it before it confirms any session alive
(see `grant`); an expiry the older leader decides after the new leader's no-op committed can
never commit (raft's log matching). Hence a committed expiry never contradicts a liveness
confirmation given by a newer leader.

Liveness grants (the bound L of the lock lease, docs/client.md): every member reports the
sessions its clients touched to the leader each tick; the established leader, after a
ReadIndex round proves it still leads, acknowledges each report with the sessions it holds
alive; the reporter then holds a grant for each of them until the report's *send* time
plus L (`lease_bound`). A member answers a session (pings, reads, writes, events) only
under a grant, so an answer at time a means the leader, after a - L, heard the session and
restarted its timeout. A session created through the member is granted from the moment it
asked for it (the leader started its deadline when it applied the creation, later).

Rolling upgrade (roost.replica.core): a leader that does not acknowledge reports (a version
without grants) is detected, and its followers then answer without grants.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from roost.tree.context import SessionInfo

#: planted bug (for the simulator's checks only): a follower expires sessions too
KNOWN_BUGS = frozenset({"expire_on_follower"})

#: L as a share of the negotiated session timeout (both sides compute it; docs/client.md)
LEASE_BOUND_FRACTION = 0.5


def lease_bound(timeout_ms: int) -> float:
    """L in seconds for a session of `timeout_ms`: how long a member may answer a session
    after it sent the report the leader last acknowledged for it."""
    return timeout_ms * LEASE_BOUND_FRACTION / 1000.0


class Sessions:
    """One member's session table; see the module docstring."""

    def __init__(self, server_id: int = 0, base_ms: int = 0,
                 bugs: frozenset[str] = frozenset()) -> None:
        if bugs - KNOWN_BUGS:
            raise ValueError(f"unknown bugs {sorted(bugs - KNOWN_BUGS)}")
        self._expire_on_follower = "expire_on_follower" in bugs
        #: session -> when it expires (host seconds)
        self.deadlines: dict[int, float] = {}
        self.timeouts: dict[int, int] = {}
        #: sessions whose close was proposed here (not proposed again; a reattach refused)
        self.closing: set[int] = set()
        #: of those, the ones this member's expiry decided (dropped with its leadership)
        self.expiring: set[int] = set()
        #: session -> until when this member may answer it (see `grant`)
        self.granted: dict[int, float] = {}
        # ZooKeeper's layout: server id in the top byte, a time-derived base below it
        # (`base_ms`: the host's wall clock in milliseconds at start).
        self._next = ((base_ms << 24) & 0x00FF_FFFF_FFFF_FFFF) >> 8 | (server_id & 0xFF) << 56
        if self._next >= 1 << 63:
            self._next -= 1 << 64

    def new_id(self) -> int:
        self._next += 1
        if self._next == -(1 << 63):  # reserved as the container marker in ZooKeeper
            self._next += 1
        return self._next

    # --- deadlines ---------------------------------------------------------------------
    def track(self, session_id: int, timeout_ms: int, now: float) -> None:
        """A session is known (created, or its timeout renegotiated): a fresh deadline."""
        self.timeouts[session_id] = timeout_ms
        self.touch(session_id, now)

    def set_timeout(self, session_id: int, timeout_ms: int, now: float) -> None:
        """A renegotiated timeout: the same as `track`."""
        self.track(session_id, timeout_ms, now)

    def touch(self, session_id: int, now: float) -> None:
        t = self.timeouts.get(session_id)
        if t is not None:
            self.deadlines[session_id] = now + t / 1000.0

    def forget(self, session_id: int) -> None:
        self.deadlines.pop(session_id, None)
        self.timeouts.pop(session_id, None)
        self.closing.discard(session_id)
        self.expiring.discard(session_id)
        self.granted.pop(session_id, None)

    def restart(self, tree_sessions: Mapping[int, int], now: float) -> None:
        """Start over from the tree's sessions (session id -> timeout ms), every one with a
        fresh deadline: at start, and when this member becomes an established leader."""
        for sid in [s for s in self.timeouts if s not in tree_sessions]:
            self.forget(sid)
        self.closing.clear()
        self.expiring.clear()
        for sid, timeout_ms in tree_sessions.items():
            self.track(sid, timeout_ms, now)

    def sync(self, tree_sessions: Mapping[int, int], now: float) -> None:
        """The tree was replaced (a snapshot installed): forget sessions it no longer has,
        track the new ones (fresh deadlines); the others keep theirs."""
        for sid in [s for s in self.timeouts if s not in tree_sessions]:
            self.forget(sid)
        for sid, timeout_ms in tree_sessions.items():
            if sid not in self.timeouts:
                self.track(sid, timeout_ms, now)

    def expired(self, now: float, may_expire: bool) -> list[int]:
        """Sessions past their deadline that are not already being closed, if this member
        may expire sessions (an established leader); they are marked closing."""
        if not may_expire and not self._expire_on_follower:
            return []
        out = [sid for sid, d in self.deadlines.items() if d <= now and sid not in self.closing]
        self.closing.update(out)
        self.expiring.update(out)
        return out

    def abandon_expiries(self) -> None:
        """This member's leadership ended: its expiry decisions are dropped (the server
        abandons their proposals), so those sessions are no longer being closed here."""
        self.closing -= self.expiring
        self.expiring.clear()

    def reattach(self, session_id: int, known: SessionInfo | None, passwd: bytes) -> str:
        """A client reconnects with `session_id` and `passwd`: "expired" if the tree lacks
        the session (`known`) or the password differs; "wait" while a close of it is under
        way here (its outcome is not known yet: a deposed leader's expiry may never
        commit, so the client must not be told its session ended); else "ok"."""
        if known is None or known.passwd != passwd:
            return "expired"
        return "wait" if session_id in self.closing else "ok"

    def alive(self, sids: Iterable[int]) -> list[int]:
        """Of `sids`, those this (leading) member holds alive: known and not closing."""
        return [s for s in sids if s in self.timeouts and s not in self.closing]

    # --- liveness grants -----------------------------------------------------------------
    def grant(self, sids: Iterable[int], sent_at: float) -> list[int]:
        """The leader acknowledged `sids` of a report sent at `sent_at`: this member may
        answer each until `sent_at` + L. Returns the sessions granted."""
        out = []
        for sid in sids:
            t = self.timeouts.get(sid)
            if t is None:
                continue
            until = sent_at + lease_bound(t)
            if until > self.granted.get(sid, float("-inf")):
                self.granted[sid] = until
            out.append(sid)
        return out

    def may_answer(self, session_id: int, now: float) -> bool:
        return self.granted.get(session_id, float("-inf")) > now
