"""Coordination recipes on the roost client: locks, elections, config, discovery, queues.

Every recipe takes an asyncio `roost.client.Client`; for blocking code, wrap one with
`roost.recipes.blocking.blocking(sync_client, Recipe, ...)`. Locks, leases and leadership
grants carry fencing tokens (`roost.recipes.fencing`). See docs/recipes.md.
"""

from roost.recipes._base import AcquireTimeout, RecipeError
from roost.recipes.barrier import Barrier, DoubleBarrier
from roost.recipes.blocking import Blocking, blocking
from roost.recipes.config import ConfigStore, ConfigWatcher, Versioned
from roost.recipes.counter import Counter
from roost.recipes.discovery import (
    ChildrenCache,
    GroupMembership,
    ServiceDiscovery,
    ServiceInstance,
    ServiceRegistry,
)
from roost.recipes.fencing import FencingGate, StaleTokenError, check_token, guard, lease_valid
from roost.recipes.leader import CloseMode, LeaderLatch, Participant
from roost.recipes.lock import Lock, ReadLock, ReadWriteLock, WriteLock
from roost.recipes.queue import DistributedQueue
from roost.recipes.selector import LeaderSelector
from roost.recipes.semaphore import Lease, Semaphore

__all__ = [
    "AcquireTimeout",
    "Barrier",
    "Blocking",
    "ChildrenCache",
    "CloseMode",
    "ConfigStore",
    "ConfigWatcher",
    "Counter",
    "DistributedQueue",
    "DoubleBarrier",
    "FencingGate",
    "GroupMembership",
    "LeaderLatch",
    "LeaderSelector",
    "Lease",
    "Lock",
    "Participant",
    "ReadLock",
    "ReadWriteLock",
    "RecipeError",
    "Semaphore",
    "ServiceDiscovery",
    "ServiceInstance",
    "ServiceRegistry",
    "StaleTokenError",
    "Versioned",
    "WriteLock",
    "blocking",
    "check_token",
    "guard",
    "lease_valid",
]
