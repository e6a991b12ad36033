"""What a run's parts see of the run (`SimWorld`): the chaos (chaos.py), the clients
(clients.py) and the host and checks of cluster.py's `SimCluster`, which implements it.
They depend on this interface, not on the cluster module."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Protocol

from roost.replica.core import ReplicaCore
from roost.replica.log import Done
from roost.tree.txn import Txn

from .checker import Checker
from .disk import DiskFaults, SimDisk
from .network import SimNetwork
from .node import SimNode
from .profile import Profile
from .stats import SimStats
from .timing import Timing


class ClientsView(Protocol):
    """What the chaos asks of the clients (clients.py's `SimSessions`)."""

    def staying_members(self) -> list[int]: ...


class SimWorld(Protocol):
    n: int
    bugs: frozenset[str]
    timing: Timing
    profile: Profile
    #: the run's draws; the clocks' own
    rng: random.Random
    clock_rng: random.Random
    drift: float
    net: SimNetwork
    disk_faults: DiskFaults
    checker: Checker
    stats: SimStats
    trace: list[str] | None
    #: true (simulated) time, ms
    now: int
    nodes: dict[int, SimNode]
    next_id: int
    healed_at: int
    probing: bool
    clients: ClientsView

    def log(self, text: str) -> None: ...

    def schedule(self, delay: int, kind: int, arg: Any = None) -> None: ...

    def schedule_at(self, at: int, kind: int, arg: Any = None) -> None: ...

    def alive(self) -> list[SimNode]: ...

    def leaders(self) -> list[SimNode]: ...

    def new_disk(self) -> SimDisk: ...

    def _add_node(self, nid: int, storage: SimDisk) -> SimNode: ...

    def _start(self, sn: SimNode) -> None: ...

    def process(self, sn: SimNode) -> None: ...

    def _perform(self, sn: SimNode, core: ReplicaCore) -> None: ...

    def propose(self, sn: SimNode, txn: Txn, done: Done | None,
                abandoned: Callable[[], bool] | None = None) -> None: ...

    def linearizable_read(self, sn: SimNode, ctx: bytes, then: Callable[[], None],
                          failed: Callable[[], None] = ...) -> None: ...

    def crash(self, sn: SimNode, why: str) -> None: ...

    def epoch_done(self) -> None: ...
