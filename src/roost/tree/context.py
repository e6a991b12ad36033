"""Values that cross the tree's boundary: txn context, watch events, config, sessions."""

from __future__ import annotations

from dataclasses import dataclass, field

from roost.wire.records import ACL, Id

#: Largest TTL ZooKeeper accepts (40 bits of milliseconds).
MAX_TTL_MS = 0xFF_FFFF_FFFF


# TxnContext and WatchEvent are built for every write: plain slotted dataclasses construct
# about six times faster than frozen ones. Treat them as immutable values all the same.
@dataclass(slots=True)
class TxnContext:
    """Everything apply() needs besides the request, fixed by the proposer."""

    zxid: int  # this txn's zxid; every op of a multi shares it
    time_ms: int  # the proposer's wall clock (ms): ctime/mtime and TTL decisions
    session_id: int  # the requesting session (0 for internal txns)
    auth: tuple[Id, ...] = ()  # the connection's identities


@dataclass(slots=True)
class WatchEvent:
    """A change the server's watch manager must deliver (never fired by the tree)."""

    type: int  # EventType.NODE_CREATED / NODE_DELETED / NODE_DATA_CHANGED / NODE_CHILDREN_CHANGED
    path: str  # for NODE_CHILDREN_CHANGED: the parent's path
    acl: tuple[ACL, ...]  # that node's ACL, so delivery can be filtered by READ


@dataclass(frozen=True, slots=True)
class TreeConfig:
    super_digest: str | None = None  # "super:<base64 sha1>"
    ttl_enabled: bool = True  # ZooKeeper's zookeeper.extendedTypesEnabled
    max_data_bytes: int = 1024 * 1024  # backstop only: the server drops bigger frames first
    #: znode.container.maxNeverUsedIntervalMs: reap never-used containers older than this
    #: (0 = never reap a container that never had a child)
    container_max_never_used_ms: int = 0
    #: planted bugs the simulator must catch (never set in production): a failed multi
    #: leaves its first op applied (`multi_partial_apply`)
    _bugs: frozenset[str] = frozenset()


#: the planted bugs `TreeConfig._bugs` accepts
KNOWN_BUGS = frozenset({"multi_partial_apply"})
DEFAULT_CONFIG = TreeConfig()


@dataclass(slots=True)
class SessionInfo:
    """A replicated session: its timeout, password and the paths of its ephemerals."""

    timeout_ms: int
    passwd: bytes
    ephemerals: set[str] = field(default_factory=set)
