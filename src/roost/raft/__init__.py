"""roost.raft: a sans-I/O Raft consensus core in the shape of etcd-io/raft.

The host drives a `RaftNode` with tick()/step()/propose()/read_index(), takes `Ready`
batches, does the I/O they ask for, and calls advance(). See docs/raft.md.
"""

from .config import Config
from .errors import (
    CompactedError,
    NotLeaderError,
    ProposalDroppedError,
    RaftError,
    SnapshotOutOfDateError,
    UnavailableError,
)
from .messages import (
    NONE,
    ConfChange,
    ConfChangeType,
    ConfState,
    Entry,
    EntryKind,
    HardState,
    Message,
    MsgType,
    ReadState,
    Role,
    Snapshot,
    SnapshotMeta,
    SoftState,
)
from .node import RaftNode, Ready
from .storage import MemoryStorage, Storage

__all__ = [
    "NONE", "CompactedError", "ConfChange", "ConfChangeType", "ConfState", "Config", "Entry",
    "EntryKind", "HardState", "MemoryStorage", "Message", "MsgType", "NotLeaderError",
    "ProposalDroppedError", "RaftError", "RaftNode", "ReadState", "Ready", "Role", "Snapshot",
    "SnapshotMeta", "SnapshotOutOfDateError", "SoftState", "Storage", "UnavailableError",
]
