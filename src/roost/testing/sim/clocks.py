"""Each simulated member's (and client's) own clock: an offset and a rate.

Simulated time is the true time (integer milliseconds). A member reads
`offset + rate * true`; its core, its session tracker and the time stamped on its txns
all see that, and it ticks every `tick_period` ms of its own time. Rates lie within
`1 ± drift` of true time, `drift` being the run's documented bound (drawn per seed, at
most `MAX_DRIFT`); checks that rely on a time bound (session expiry) allow for it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

#: the largest drift bound a run draws: a clock runs at most 5% fast or slow
MAX_DRIFT = 0.05
#: a run's drift bound, drawn per seed (0: every clock runs at the true rate)
DRIFTS = (0.0, 0.001, 0.01, MAX_DRIFT)
#: the largest offset between two clocks' readings (ms)
MAX_OFFSET_MS = 2000


@dataclass(frozen=True, slots=True)
class SimClock:
    offset_ms: float = 0.0
    rate: float = 1.0

    @staticmethod
    def draw(rng: random.Random, drift: float) -> SimClock:
        return SimClock(rng.uniform(0, MAX_OFFSET_MS), rng.uniform(1 - drift, 1 + drift))

    def ms(self, true_ms: int) -> float:
        """This clock's reading at true time `true_ms`."""
        return self.offset_ms + self.rate * true_ms

    def seconds(self, true_ms: int) -> float:
        return self.ms(true_ms) / 1000

    def wall_ms(self, true_ms: int) -> int:
        """The reading as a txn's timestamp (whole milliseconds)."""
        return int(self.ms(true_ms))

    def true_at(self, local_ms: float) -> int:
        """The first true millisecond at which this clock reads at least `local_ms`."""
        return math.ceil((local_ms - self.offset_ms) / self.rate - 1e-9)

    def true_ms(self, local_ms: float) -> float:
        """The true time (ms, unrounded) at which this clock reads `local_ms`."""
        return (local_ms - self.offset_ms) / self.rate

    def after(self, local_delay_ms: float) -> int:
        """True milliseconds that pass while this clock advances `local_delay_ms`
        (at least 1)."""
        return max(1, round(local_delay_ms / self.rate))
