"""The fault and tuning profile of one simulation run, drawn from its seed."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

from .timing import Timing


@dataclass(frozen=True, slots=True)
class Profile:
    nodes: int
    loss: float
    dup: float
    max_delay: int
    slow: float
    partitions: bool
    crashes: bool
    skew: bool  # nodes tick at different rates (0.7..1.4 times the tick period)
    heartbeat_tick: int
    max_size_per_msg: int
    max_inflight: int
    compact_every: int  # 0: never compact
    membership: bool
    pre_vote: bool
    check_quorum: bool
    propose_every: int
    reads: bool
    encode: bool  # round-trip every delivered message through bytes
    safety_ms: int
    fault_every: int
    lease_reads: bool  # only with equal tick rates: lease reads assume bounded drift
    transfers: bool
    snapshot_chunk: int  # bytes per SNAP message (0: whole); sim images are a few KiB

    @staticmethod
    def from_rng(nodes: int, rng: random.Random, timing: Timing) -> Profile:
        """The run's profile; its durations (ms) at `timing`."""
        p = Profile._draw(nodes, rng, timing)
        if p.lease_reads and (p.skew or not p.check_quorum):
            p = dataclasses.replace(p, lease_reads=False)
        return p

    @staticmethod
    def _draw(nodes: int, rng: random.Random, timing: Timing) -> Profile:
        ms = timing.ms
        return Profile(
            nodes=nodes,
            loss=rng.choice([0.0, 0.0, 0.01, 0.05, 0.15]),
            dup=rng.choice([0.0, 0.02, 0.1]),
            max_delay=ms(rng.choice([2, 5, 10])),
            slow=rng.choice([0.0, 0.01, 0.05]),
            partitions=rng.random() < 0.7,
            crashes=rng.random() < 0.7,
            skew=rng.random() < 0.5,
            heartbeat_tick=rng.choice([1, 2, 3]),
            max_size_per_msg=rng.choice([1, 200, 1 << 20]),
            max_inflight=rng.choice([1, 4, 64]),
            compact_every=rng.choice([0, 5, 20, 50]),
            membership=rng.random() < 0.3,
            pre_vote=rng.random() < 0.85,
            check_quorum=rng.random() < 0.85,
            propose_every=ms(rng.choice([20, 60])) * timing.create_spacing,
            reads=rng.random() < 0.5,
            encode=rng.random() < 0.2,
            safety_ms=rng.randint(ms(800), ms(1800)),
            fault_every=ms(rng.choice([100, 300])),
            lease_reads=rng.random() < 0.5,
            transfers=rng.random() < 0.3,
            snapshot_chunk=rng.choice([0, 512, 1 << 20]),
        )
