"""roost's asyncio ZooKeeper client, with a blocking facade (`SyncClient`).

    from roost.client import Client

    async with Client("127.0.0.1:2181") as zk:
        path = await zk.create("/jobs/job-", b"payload", sequence=True, make_parents=True)

Works against roost and Apache ZooKeeper 3.6+. See docs/client.md.
"""

from roost.client.client import (
    CREATOR_ALL_ACL,
    OPEN_ACL_UNSAFE,
    READ_ACL_UNSAFE,
    Client,
)
from roost.client.errors import *  # noqa: F403 - the error table is the public API
from roost.client.errors import __all__ as _errors_all
from roost.client.events import ClientState, StateChange, WatchedEvent
from roost.client.sync import SyncClient
from roost.client.transaction import ReadBatch, Transaction
from roost.wire.opcodes import EventType, KeeperState, WatcherType
from roost.wire.records import ACL, Id, Stat

__all__ = [
    "ACL",
    "CREATOR_ALL_ACL",
    "OPEN_ACL_UNSAFE",
    "READ_ACL_UNSAFE",
    "Client",
    "ClientState",
    "EventType",
    "Id",
    "KeeperState",
    "ReadBatch",
    "StateChange",
    "Stat",
    "SyncClient",
    "Transaction",
    "WatchedEvent",
    "WatcherType",
    *_errors_all,
]
