"""roost.tree: the deterministic ZooKeeper data tree (the replicated state machine).

No I/O, clocks, randomness or asyncio: time and zxid arrive in `TxnContext`, and apply()
returns results and `WatchEvent`s instead of performing effects.
"""

from roost.tree.acl import auth_ids, check_acl, digest_id, fixup_acl, ip_matches
from roost.tree.context import (
    DEFAULT_CONFIG,
    MAX_TTL_MS,
    SessionInfo,
    TreeConfig,
    TxnContext,
    WatchEvent,
)
from roost.tree.datatree import DataTree
from roost.tree.node import Kind, Node
from roost.tree.paths import InvalidPath, is_valid_path, validate_path
from roost.tree.snapshot import SnapshotError

__all__ = [
    "DEFAULT_CONFIG",
    "MAX_TTL_MS",
    "DataTree",
    "InvalidPath",
    "Kind",
    "Node",
    "SessionInfo",
    "SnapshotError",
    "TreeConfig",
    "TxnContext",
    "WatchEvent",
    "auth_ids",
    "check_acl",
    "digest_id",
    "fixup_acl",
    "ip_matches",
    "is_valid_path",
    "validate_path",
]
