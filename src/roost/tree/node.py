"""The znode: a compact `__slots__` object holding Stat fields as ints.

`cversion` stores the number of child *creations* (ZooKeeper's stored value); clients see
``2 * cversion - numChildren`` (creations plus deletions). `children` maps child name to
child node and is None while the node has no children (an empty dict costs ~64 bytes per
leaf, and most znodes are leaves).
"""

from __future__ import annotations

from enum import IntEnum

from roost.wire.records import ACL, Stat

_INT32 = 1 << 32
_INT32_MIN = -(1 << 31)


def wrap32(value: int) -> int:
    """Wrap to a Java int (versions overflow like ZooKeeper's)."""
    return (value - _INT32_MIN) % _INT32 + _INT32_MIN


class Kind(IntEnum):
    PERSISTENT = 0
    EPHEMERAL = 1
    CONTAINER = 2
    TTL = 3


class Node:
    """One znode. `owner` is the session id for ephemerals and the TTL (ms) for TTL nodes."""

    __slots__ = (
        "acl",
        "aversion",
        "children",
        "ctime",
        "cversion",
        "czxid",
        "data",
        "kind",
        "mtime",
        "mzxid",
        "owner",
        "pzxid",
        "version",
    )

    def __init__(
        self,
        data: bytes | None,
        acl: tuple[ACL, ...],
        zxid: int,
        time_ms: int,
        kind: int = Kind.PERSISTENT,
        owner: int = 0,
    ) -> None:
        self.data = data
        self.acl = acl
        self.children: dict[str, Node] | None = None
        self.czxid = zxid
        self.mzxid = zxid
        self.pzxid = zxid
        self.ctime = time_ms
        self.mtime = time_ms
        self.version = 0
        self.cversion = 0
        self.aversion = 0
        self.kind = kind
        self.owner = owner

    @property
    def ephemeral_owner(self) -> int:
        """The ephemeralOwner clients see: the session id for ephemerals, else 0."""
        return self.owner if self.kind == Kind.EPHEMERAL else 0

    @property
    def num_children(self) -> int:
        return len(self.children) if self.children else 0

    @property
    def data_length(self) -> int:
        return len(self.data) if self.data else 0

    def stat(self) -> Stat:
        n = len(self.children) if self.children else 0
        return Stat(
            self.czxid,
            self.mzxid,
            self.ctime,
            self.mtime,
            self.version,
            wrap32(2 * self.cversion - n),
            self.aversion,
            self.owner if self.kind == Kind.EPHEMERAL else 0,
            len(self.data) if self.data else 0,
            n,
            self.pzxid,
        )

    def __repr__(self) -> str:
        return f"<Node kind={Kind(self.kind).name} {self.stat()}>"
