"""ZooKeeper client protocol codec (sans-I/O): jute records, opcodes, frames."""

# the records' readers and writers, generated from their layouts, install themselves on
# the record classes (record_codecs imports records): an import of any roost.wire module
# runs this package first, so no record is used without its codecs
from roost.wire import record_codecs  # noqa: F401
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
