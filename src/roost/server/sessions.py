"""Session liveness (server-local): deadlines, id and password generation.

Sessions themselves are replicated state in the tree (createSession/closeSession
txns). This module only tracks when each session was last heard from; an expired
session is closed by proposing a closeSession txn, like ZooKeeper's leader does.
Deadlines use the monotonic clock (the simulator passes its own); after a restart every
session gets a fresh deadline, so no session expires for time the server was down. Only
the leader decides expiry: a follower hears only its own clients' pings, the leader hears
all of them (followers forward theirs).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

#: planted bug (for the simulator's checks only): a follower expires sessions too
KNOWN_BUGS = frozenset({"expire_on_follower"})


class SessionTracker:
    def __init__(
        self,
        server_id: int = 0,
        clock: Callable[[], float] = time.monotonic,
        _bugs: frozenset[str] = frozenset(),
    ) -> None:
        if _bugs - KNOWN_BUGS:
            raise ValueError(f"unknown bugs {sorted(_bugs - KNOWN_BUGS)}")
        self._expire_on_follower = "expire_on_follower" in _bugs
        self.clock = clock
        self.deadlines: dict[int, float] = {}
        self.timeouts: dict[int, int] = {}
        self.closing: set[int] = set()
        now_ms = int(time.time() * 1000)
        # ZooKeeper's layout: server id in the top byte, a time-derived base below it.
        self._next = ((now_ms << 24) & 0x00FF_FFFF_FFFF_FFFF) >> 8 | (server_id & 0xFF) << 56
        if self._next >= 1 << 63:
            self._next -= 1 << 64

    def new_id(self) -> int:
        self._next += 1
        if self._next == -(1 << 63):  # reserved as the container marker in ZooKeeper
            self._next += 1
        return self._next

    @staticmethod
    def new_password() -> bytes:
        return os.urandom(16)

    def track(self, session_id: int, timeout_ms: int) -> None:
        self.timeouts[session_id] = timeout_ms
        self.touch(session_id)

    def touch(self, session_id: int) -> None:
        t = self.timeouts.get(session_id)
        if t is not None:
            self.deadlines[session_id] = self.clock() + t / 1000.0

    def set_timeout(self, session_id: int, timeout_ms: int) -> None:
        self.timeouts[session_id] = timeout_ms
        self.touch(session_id)

    def forget(self, session_id: int) -> None:
        self.deadlines.pop(session_id, None)
        self.timeouts.pop(session_id, None)
        self.closing.discard(session_id)

    def expired(self, leading: bool = True) -> list[int]:
        """Sessions past their deadline that are not already being closed, if this server
        leads (none otherwise: its deadlines miss the pings other members heard)."""
        if not leading and not self._expire_on_follower:
            return []
        now = self.clock()
        out = [sid for sid, d in self.deadlines.items() if d <= now and sid not in self.closing]
        self.closing.update(out)
        return out
