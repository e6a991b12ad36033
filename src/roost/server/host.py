"""What every part of the server below `roost.server.core.Server` sees of it: its settings,
its log and its tree. The handler modules extend this Protocol with what each needs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from roost.replica.log import ReplicaLog
    from roost.server.config import ServerConfig
    from roost.tree import DataTree


class ServerHost(Protocol):
    @property
    def config(self) -> ServerConfig: ...
    @property
    def log(self) -> ReplicaLog | None: ...
    @property
    def tree(self) -> DataTree: ...
