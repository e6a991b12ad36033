"""One simulated member's process state (`SimNode`): its disk, raft node, replica core,
clock and the host's bookkeeping between inputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from roost.raft import RaftNode, Ready
from roost.replica.core import ReplicaCore
from roost.replica.sessions import Sessions
from roost.replica.state import ReplicaState
from roost.server.watches import WatchManager

from .clocks import SimClock
from .disk import SimDisk


@dataclass
class SimNode:
    id: int
    storage: SimDisk
    node: RaftNode | None = None
    incarnation: int = 0
    tick_period: int = 10
    sm_index: int = 0
    sm_digest: bytes = b""
    crash_armed: bool = False
    commit_seen: int = 0
    led_term: int = 0
    removed: bool = False
    waiting_reads: dict[bytes, int] = field(default_factory=dict)
    #: the linearizable reads under way: ctx -> what runs when its barrier passed
    read_served: dict[bytes, Callable[[], None]] = field(default_factory=dict)
    #: and what to do if it fails (the server aborts the client's connection)
    read_failed: dict[bytes, Callable[[], None]] = field(default_factory=dict)
    replica: ReplicaState | None = None
    core: ReplicaCore | None = None
    #: a removed member dropped its peers: nothing leaves it or reaches it
    dropped: bool = False
    sessions: Sessions | None = None
    watches: WatchManager | None = None
    #: this member's clock (its rate is fixed, its offset drawn again at each start)
    clock: SimClock = field(default_factory=SimClock)
    #: its clock's reading at its next tick
    next_tick: float = 0.0
    #: the Ready whose disk write is in flight (advanced when the DISK event completes it)
    persisting: Ready | None = None
    #: the newest time a txn it applied stamped on a node (ctime, mtime): never goes back
    stamp: int = 0

    def now(self, true_ms: int) -> float:
        """The core's `now` (seconds, this member's clock) at true time `true_ms`
        (`SimClock.seconds`, inline: the simulator asks at every event)."""
        c = self.clock
        return (c.offset_ms + c.rate * true_ms) / 1000
