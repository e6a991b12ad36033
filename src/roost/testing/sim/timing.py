"""A simulation run's time scale: how often members tick, and how long faults, delays,
calm stretches, sessions and clients' turns last, in simulated milliseconds.

Every duration of the simulator is written in the units of the compressed timing (10 ms
ticks, the simulator's only timing until 2026-12-07) and multiplied by `scale`
(`Timing.ms`), so that a run checks the same things per election timeout at any scale.
Two timings exist:

- `production` (the default): members tick every 50 ms (`raft_tick_ms`; elections after
  10-20 ticks, as `roost.server.config`), so ticks, message and disk delays, faults, storms,
  calm stretches and the liveness bound are five times the compressed ones. Sessions last a
  few seconds to tens of seconds, as ZooKeeper clients ask for them (2-6 s, a quarter
  6-30 s; the server's default bounds are 4-40 s, shorter with a shorter tickTime); each
  client works every 250-700 ms between its pings (every third of its timeout), and the
  background creates come half as often as scaling alone gives. So that sessions can
  expire, 30% of partitions are long ones: one member that a client staying with its
  member is connected to is cut off for 3-12 s, with no other fault meanwhile, and the storm
  lasts until it heals.
- `compressed`: the simulator's timing until 2026-12-07 (10 ms ticks, sessions of
  150-400 ms, clients working on their pings' turns). A seed found at it replays exactly
  with `--timing compressed`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Timing:
    name: str
    #: every compressed-timing duration (tick, faults, delays, liveness) times this
    scale: int
    #: a client session's timeout (ms): uniform in `session_ms`, or with
    #: `long_session_share` in `long_session_ms`
    session_ms: tuple[int, int]
    long_session_ms: tuple[int, int] = (0, 0)
    long_session_share: float = 0.0
    #: a client's work (watches, writes, a close) comes this often (ms), between its
    #: pings; None: on its pings only
    client_turn_ms: tuple[int, int] | None = None
    #: a partition lasts `ms(100)..ms(800)`, or with `long_partition_share` it cuts one
    #: member off for a time in `long_partition_ms` (long enough to outlast sessions; no
    #: other fault meanwhile, and the storm lasts until it heals: chaos.py)
    long_partition_ms: tuple[int, int] = (0, 0)
    long_partition_share: float = 0.0
    #: the background creates (a client's stream of them) come this many times less
    #: often than `scale` alone gives
    create_spacing: int = 1
    #: how long a member's core waits for a forwarded request's outcome (production's:
    #: the server's request_timeout_ms)
    request_timeout_s: float = 5.0

    def ms(self, compressed_ms: int) -> int:
        """A duration of the compressed timing at this one."""
        return compressed_ms * self.scale

    def session_timeout(self, rng: random.Random) -> int:
        if self.long_session_share and rng.random() < self.long_session_share:
            return rng.randint(*self.long_session_ms)
        return rng.randint(*self.session_ms)


COMPRESSED = Timing("compressed", 1, (150, 400))
PRODUCTION = Timing("production", 5, (2000, 6000), (6000, 30000), 0.25,
                    client_turn_ms=(250, 700), long_partition_ms=(3000, 12000),
                    long_partition_share=0.3, create_spacing=2, request_timeout_s=10.0)
TIMINGS = {t.name: t for t in (PRODUCTION, COMPRESSED)}
DEFAULT = PRODUCTION.name


def timing(name: str) -> Timing:
    try:
        return TIMINGS[name]
    except KeyError:
        raise ValueError(f"unknown timing {name!r} (one of {', '.join(TIMINGS)})") from None
