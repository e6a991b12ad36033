"""roost's asyncio ZooKeeper client, with a blocking facade (`SyncClient`).

    from roost.client import Client

    async with connect("127.0.0.1:2181/app") as zk:
        path = await zk.create("/jobs/job-", b"payload", sequence=True, make_parents=True)
        async for snap in zk.watch_data("/config"):
            ...

Works against roost and Apache ZooKeeper 3.6+. See docs/client.md.
"""

from roost.client.client import (
    CREATOR_ALL_ACL,
    OPEN_ACL_UNSAFE,
    READ_ACL_UNSAFE,
    Client,
)
from roost.client.connect import connect
from roost.client.errors import *  # noqa: F403 - the error table is the public API
from roost.client.errors import __all__ as _errors_all
from roost.client.events import ClientState, StateChange, WatchedEvent
from roost.client.history import (
    CompactedError,
    HistoryEvent,
    HistoryStream,
    HistoryUnsupportedError,
)
from roost.client.iterators import ChildrenSnapshot, DataSnapshot, StateStream
from roost.client.retry import NO_RETRY, RetryPolicy
from roost.client.sync import SyncClient
from roost.client.transaction import ReadBatch, Transaction
from roost.wire.opcodes import EventType, KeeperState, WatcherType
from roost.wire.records import ACL, Id, Stat

__all__ = [
    "ACL",
    "CREATOR_ALL_ACL",
    "NO_RETRY",
    "OPEN_ACL_UNSAFE",
    "READ_ACL_UNSAFE",
    "Client",
    "ChildrenSnapshot",
    "ClientState",
    "CompactedError",
    "DataSnapshot",
    "EventType",
    "HistoryEvent",
    "HistoryStream",
    "HistoryUnsupportedError",
    "Id",
    "KeeperState",
    "ReadBatch",
    "RetryPolicy",
    "StateChange",
    "StateStream",
    "Stat",
    "SyncClient",
    "Transaction",
    "WatchedEvent",
    "WatcherType",
    "connect",
    *_errors_all,
]
