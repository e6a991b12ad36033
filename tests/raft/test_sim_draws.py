"""The simulator's inline draws are the interpreter's, draw for draw (a seed's run must not
change when a hot path stops calling `random.Random.randint`)."""

from __future__ import annotations

import random

from roost.testing.sim.network import randint


def test_inline_randint_draws_as_random_randint() -> None:
    widths = [(1, 1), (1, 2), (1, 5), (1, 10), (1, 50), (20, 200), (100, 1000), (0, 7),
              (0, 8), (5, 5 + (1 << 40))]
    for seed in range(50):
        a, b = random.Random(seed), random.Random(seed)
        for _ in range(200):
            lo, hi = widths[a.randrange(len(widths))]
            b.randrange(len(widths))
            assert randint(a, lo, hi) == b.randint(lo, hi)
        assert a.getstate() == b.getstate()
