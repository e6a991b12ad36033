"""Opcodes, event types, states, create modes and permission bits."""

from __future__ import annotations

from enum import IntEnum, IntFlag


class Op(IntEnum):
    NOTIFICATION = 0
    CREATE = 1
    DELETE = 2
    EXISTS = 3
    GET_DATA = 4
    SET_DATA = 5
    GET_ACL = 6
    SET_ACL = 7
    GET_CHILDREN = 8
    SYNC = 9
    PING = 11
    GET_CHILDREN2 = 12
    CHECK = 13
    MULTI = 14
    CREATE2 = 15
    RECONFIG = 16
    CHECK_WATCHES = 17
    REMOVE_WATCHES = 18
    CREATE_CONTAINER = 19
    DELETE_CONTAINER = 20
    CREATE_TTL = 21
    MULTI_READ = 22
    AUTH = 100
    SET_WATCHES = 101
    SASL = 102
    GET_EPHEMERALS = 103
    GET_ALL_CHILDREN_NUMBER = 104
    SET_WATCHES2 = 105
    ADD_WATCH = 106
    WHO_AM_I = 107
    CREATE_SESSION = -10
    CLOSE_SESSION = -11
    ERROR = -1
    #: roost extensions (docs/client.md, "Watch history"), far outside ZooKeeper's ranges
    #: (0-22 and 100-107 in 3.9); ZooKeeper answers them with Unimplemented
    WATCH_HISTORY = 5000
    STOP_WATCH_HISTORY = 5001


class Xid:
    NOTIFICATION = -1
    PING = -2
    AUTH = -4
    SET_WATCHES = -8
    #: roost extension: the frames of a watch-history stream (HistoryBatch records)
    HISTORY = -5000


class EventType(IntEnum):
    NONE = -1
    NODE_CREATED = 1
    NODE_DELETED = 2
    NODE_DATA_CHANGED = 3
    NODE_CHILDREN_CHANGED = 4
    DATA_WATCH_REMOVED = 5
    CHILD_WATCH_REMOVED = 6
    PERSISTENT_WATCH_REMOVED = 7
    #: roost extension, only ever sent on a watch-history stream (docs/client.md)
    NODE_ACL_CHANGED = 100


class KeeperState(IntEnum):
    DISCONNECTED = 0
    SYNC_CONNECTED = 3
    AUTH_FAILED = 4
    CONNECTED_READ_ONLY = 5
    SASL_AUTHENTICATED = 6
    EXPIRED = -112
    CLOSED = 7


class CreateMode(IntEnum):
    PERSISTENT = 0
    EPHEMERAL = 1
    PERSISTENT_SEQUENTIAL = 2
    EPHEMERAL_SEQUENTIAL = 3
    CONTAINER = 4
    PERSISTENT_WITH_TTL = 5
    PERSISTENT_SEQUENTIAL_WITH_TTL = 6

    # Comparisons on the plain int value: these run for every create, and `in` on a tuple
    # of members goes through Enum.__eq__/__hash__ in Python.
    @property
    def ephemeral(self) -> bool:
        return self._value_ in (1, 3)

    @property
    def sequential(self) -> bool:
        return self._value_ in (2, 3, 6)

    @property
    def ttl(self) -> bool:
        return self._value_ in (5, 6)


#: every create mode by its flags value (a dict lookup is cheaper than calling the enum)
CREATE_MODES: dict[int, CreateMode] = {m.value: m for m in CreateMode}


class Perm(IntFlag):
    READ = 1
    WRITE = 2
    CREATE = 4
    DELETE = 8
    ADMIN = 16
    ALL = 31


class WatcherType(IntEnum):
    """checkWatches/removeWatches type."""

    CHILDREN = 1
    DATA = 2
    ANY = 3


class AddWatchMode(IntEnum):
    PERSISTENT = 0
    PERSISTENT_RECURSIVE = 1
