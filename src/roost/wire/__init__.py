"""ZooKeeper client protocol codec (sans-I/O): jute records, opcodes, frames."""

from roost.wire.errors import Err, KeeperError, ProtocolError
from roost.wire.opcodes import AddWatchMode, CreateMode, EventType, KeeperState, Op, Perm, Xid
from roost.wire.records import ACL, Id, Stat

__all__ = [
    "ACL",
    "AddWatchMode",
    "CreateMode",
    "Err",
    "EventType",
    "Id",
    "KeeperError",
    "KeeperState",
    "Op",
    "Perm",
    "ProtocolError",
    "Stat",
    "Xid",
]
