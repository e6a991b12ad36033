"""How a client connects: `ConnectionOptions` (timeouts, retry and read-only-probe pacing,
the clock-drift bound) and the pauses and attempt timeouts it gives."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

#: by default one connect attempt may take at most this fraction (1/N) of the session timeout
ATTEMPTS_PER_SESSION = 3


@dataclass
class ConnectionOptions:
    """Tuning knobs; times are in seconds."""

    session_timeout: float = 10.0
    # default: session timeout / max(number of servers, 3), at least 1 s
    connect_timeout: float | None = None
    retry_delay: float = 0.1  # first pause after a full round of failed connects
    retry_max_delay: float = 2.0
    read_only: bool = False  # may attach to a read-only server
    rw_probe_delay: float = 0.1  # first pause between searches for a read-write server
    rw_probe_max_delay: float = 10.0
    rw_probe_timeout: float = 1.0  # per server and probe
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    #: the assumed bound on how far any two clocks' rates differ (0.02: 2%); the lease is
    #: shortened by it (docs/client.md, "The session lease")
    clock_drift: float = 0.02

    def backoff(self, rounds: int) -> float:
        """The pause after `rounds` full rounds of failed connects, with jitter."""
        delay = min(self.retry_max_delay, self.retry_delay * (2 ** min(rounds - 1, 16)))
        return float(delay * self.rng.uniform(0.5, 1.0))

    def attempt_timeout(self, negotiated_timeout: float, servers: int) -> float:
        """How long one TCP connect plus handshake may take (``connect_timeout`` if given).

        ZooKeeper's own clients allow the session timeout divided by the number of servers.
        With one server that is the whole session; but SUSPENDED for a session timeout is
        LOST here (Curator's rule), so a single attempt against a server that accepts and
        never answers (ZooKeeper 3.8 leaves connections made while it loads its database
        open and silent) would lose the session by itself. So at most a third of the
        (negotiated) session: at least three attempts fit before the session is given up.
        """
        if self.connect_timeout:
            return self.connect_timeout
        session = negotiated_timeout or self.session_timeout
        return max(1.0, session / max(servers, ATTEMPTS_PER_SESSION))
