"""Seeded fault schedules: which fault, on which member, when and for how long.

A schedule is a pure function of (seed, kinds, seconds, members): the same seed gives the
same list of `Fault`s, so a failing run can be replayed. Targets are symbolic ("leader",
or a member index) because the leader is only known when the fault fires.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

#: every fault kind the nemesis knows
#: (clock: restart a member with its clock running fast or slow by `CLOCK_SKEW`)
KINDS = ("kill", "pause", "partition", "slowdisk", "clock")


@dataclass(frozen=True)
class Fault:
    """One fault: starts `at` seconds into the run and is healed `hold` seconds later."""

    at: float
    kind: str
    #: "leader" or a member index
    target: str | int
    hold: float
    #: for partitions: "isolate", "majority" or "bridge"
    variant: str = ""

    def describe(self) -> str:
        what = f"{self.kind}/{self.variant}" if self.variant else self.kind
        return f"t={self.at:5.1f}s {what} {self.target} for {self.hold:.1f}s"


def parse_kinds(text: str) -> tuple[str, ...]:
    """"kill,pause,partition" -> ("kill", "pause", "partition"); raises ValueError."""
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown nemesis kind(s) {unknown}; choose from {', '.join(KINDS)}")
    return kinds


def make_schedule(seed: int, kinds: tuple[str, ...], seconds: float, members: int, *,
                  pause_hold: float = 4.0, quiet: tuple[float, float] = (1.0, 2.5),
                  first_at: float = 1.0) -> list[Fault]:
    """Faults one after another (never two at once) from `first_at` until `seconds`.

    Each fault holds 1.5-3.5 s (pauses hold `pause_hold` s, longer than the session and
    election timeouts), then the run stays quiet for a time drawn from `quiet`."""
    rng = random.Random(seed)
    out: list[Fault] = []
    t = first_at
    while kinds:
        kind = rng.choice(kinds)
        hold = pause_hold if kind == "pause" else round(rng.uniform(1.5, 3.5), 2)
        if t + hold > seconds:
            break
        target: str | int = "leader" if rng.random() < 0.5 else rng.randrange(members)
        variant = ""
        if kind == "partition":
            variant = rng.choice(("isolate", "majority", "bridge"))
        out.append(Fault(round(t, 2), kind, target, hold, variant))
        t += hold + rng.uniform(*quiet)
    return out


def split(members: int, pivot: int, variant: str, rng: random.Random) -> list[list[int]]:
    """The groups of a partition around member `pivot` (the chosen target):

    * isolate: the pivot alone against the rest;
    * majority: the pivot with a random minority-sized group, against the others;
    * bridge: two halves that cannot talk to each other, except through the pivot, which is
      in neither group and keeps its links to both."""
    others = [i for i in range(members) if i != pivot]
    rng.shuffle(others)
    if variant == "isolate":
        return [[pivot], others]
    if variant == "majority":
        minority = (members - 1) // 2
        return [[pivot, *others[:minority - 1]], others[minority - 1:]]
    half = len(others) // 2
    return [others[:half], others[half:]]
