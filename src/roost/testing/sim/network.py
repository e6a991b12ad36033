"""The simulated network: per-link blocking (partitions), loss, duplication and delay."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class LinkFaults:
    loss: float = 0.0  # probability a message vanishes
    dup: float = 0.0  # probability a message is delivered twice
    max_delay: int = 5  # normal delay is uniform in [1, max_delay] ms
    slow: float = 0.0  # probability of an extra long delay (reordering)
    slow_min: int = 20  # the long delay is uniform in [slow_min, slow_delay] ms
    slow_delay: int = 200


def randint(rng: random.Random, a: int, b: int) -> int:
    """`rng.randint(a, b)`, draw for draw (CPython's: `getrandbits` of the width's bit
    length until one is below the width), without its argument checks and three calls:
    the simulator draws one per message (tests/raft/test_sim_draws.py checks the two
    agree)."""
    n = b - a + 1
    k = n.bit_length()
    getrandbits = rng.getrandbits
    r = getrandbits(k)
    while r >= n:
        r = getrandbits(k)
    return a + r


class SimNetwork:
    def __init__(self, rng: random.Random, faults: LinkFaults) -> None:
        self.rng = rng
        self.faults = faults
        self.blocked: set[tuple[int, int]] = set()  # directed (from, to) links that drop
        self.sent = 0
        self.dropped = 0

    def delays(self, frm: int, to: int) -> list[int]:
        """Delivery delays for one message: [] if lost, two if duplicated."""
        self.sent += 1
        f = self.faults
        rng = self.rng
        if (frm, to) in self.blocked or (f.loss and rng.random() < f.loss):
            self.dropped += 1
            return []
        d = randint(rng, 1, f.max_delay)
        if f.slow and rng.random() < f.slow:
            d += randint(rng, f.slow_min, f.slow_delay)
        if f.dup and rng.random() < f.dup:
            return [d, self._delay()]
        return [d]

    def _delay(self) -> int:
        f = self.faults
        d = randint(self.rng, 1, f.max_delay)
        if f.slow and self.rng.random() < f.slow:
            d += randint(self.rng, f.slow_min, f.slow_delay)
        return d

    # -- partitions --
    def heal(self) -> None:
        self.blocked.clear()

    def split(self, a: list[int], b: list[int], one_way: bool = False) -> None:
        """Cut every link from a to b (and b to a unless one_way)."""
        for x in a:
            for y in b:
                self.blocked.add((x, y))
                if not one_way:
                    self.blocked.add((y, x))

    def bridge(self, a: list[int], bridge: int, b: list[int]) -> None:
        """a and b cannot talk to each other; both still reach the bridge node."""
        self.split([x for x in a if x != bridge], [y for y in b if y != bridge])
