"""The session lease: how long the session is certainly alive after an answered ping
(docs/client.md, "The session lease")."""

from __future__ import annotations

from roost.replica.sessions import LEASE_BOUND_FRACTION
from roost.wire.opcodes import Op

_PING = int(Op.PING)


def lease_span(timeout: float, clock_drift: float) -> float:
    """Seconds the session is certainly alive after the send time of a ping the server
    answered: the session timeout `timeout` the leader restarted, seen through clocks whose
    rates differ by up to `clock_drift`, less the bound L for which a member may answer
    after the leader last confirmed the session (roost.replica.sessions)."""
    return timeout * (1 - clock_drift) / (1 + clock_drift) - timeout * LEASE_BOUND_FRACTION



class Lease:
    """The lease of one session: from the send time of the latest answered ping (or of the
    handshake that created the session) to `deadline`, `lease_span` later."""

    def __init__(self) -> None:
        #: the smallest timeout negotiated in this session (the lease counts with it)
        self.timeout = 0.0
        #: send time of the request behind `deadline` (its deadline less the lease's span)
        self.start = 0.0
        self.deadline = 0.0
        self.span = 0.0

    def renew(self, sent_at: float, clock_drift: float) -> None:
        """A ping sent at `sent_at` was answered (or the session was created after it): the
        session lives at least until then plus the lease's span (`lease_span`)."""
        self.span = lease_span(self.timeout, clock_drift)
        self.start = sent_at
        self.deadline = sent_at + self.span

    def established(self, new_session: bool, timeout: float, read_only: bool,
                    sent_at: float, clock_drift: float) -> None:
        """A handshake sent at `sent_at` opened the session with the negotiated `timeout`:
        a new session's lease starts at `sent_at` (it was created by a committed txn after
        that, which gave it a whole timeout), unless the server is read-only; a reattach
        proves nothing (the member may be cut off: the next ping does) and only lowers the
        timeout the lease counts with."""
        if new_session:
            self.timeout = timeout
            if read_only:
                self.clear()
            else:
                self.renew(sent_at, clock_drift)
        else:
            self.timeout = min(self.timeout, timeout)

    def answered(self, op: int, err: int, read_only: bool, sent_at: float,
                 clock_drift: float) -> bool:
        """A reply (`err`) to a request of opcode `op` sent at `sent_at` arrived: only an
        answered ping on a read-write link renews the lease (a member answers a ping only
        while a leader confirms the session alive; reads and writes do not renew it).
        Whether it renewed."""
        if op == _PING and err == 0 and not read_only and sent_at > self.start:
            self.renew(sent_at, clock_drift)
            return True
        return False

    def remaining(self, now: float) -> float:
        """Seconds from `now` until `deadline` (negative once it has passed, and with
        no session). Counted as the span less the time since `start`, which never
        exceeds the span: ``deadline - now`` came out one rounding step above it when
        no time had passed on the loop's clock (uvloop's counts whole milliseconds)."""
        if not self.deadline:
            return -now
        return self.span - (now - self.start)

    def clear(self) -> None:
        """No lease (the session is gone, or only read-only servers have seen it)."""
        self.deadline = self.start = 0.0
