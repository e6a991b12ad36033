"""What the server needs of its replicated log, standalone or ensemble member.

A standalone server is a one-member group (`StandaloneLog`: a txn commits once fsynced);
an ensemble member runs raft (`RaftLog`). The server, the admin commands and the HTTP API
use this interface only, never the concrete class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from roost.raft import RaftNode
from roost.replica.member import Member
from roost.tree import DataTree
from roost.tree.txn import Txn, TxnResult

Done = Callable[[int, TxnResult], None]
Applied = Callable[[int, Txn, TxnResult], None]


class ReplicaLog(Protocol):
    #: this member's id (a standalone server's configured server_id)
    id: int
    #: the index of the newest snapshot written (or being written)
    snapshot_index: int
    #: the storage error that fenced this log: nothing is acknowledged after it, proposals
    #: end at once with LOST, and only a restart clears it
    failed: BaseException | None
    fsync_count: int
    batches: int
    #: the raft node (None on a standalone server, and before `recover`)
    node: RaftNode | None
    #: called for each txn applied while replaying the log at start-up (set before recover)
    on_replayed: Applied
    #: the host's event history as of a snapshot's index, saved in the snapshot file
    #: (called in the forked child for a background snapshot; set before recover)
    history_image: Callable[[int], bytes]
    #: a snapshot was loaded (start-up, before the log replay) or installed from a leader
    #: (before the entries after it apply): the history image saved with it (None: none)
    #: and its index (set before recover)
    on_history: Callable[[bytes | None, int], None]

    @property
    def tree(self) -> DataTree:
        """The state machine: every committed txn applied in log order."""
        ...

    @property
    def last_index(self) -> int:
        """The last applied log index (= zxid)."""
        ...

    @property
    def members(self) -> dict[int, Member]:
        """The ensemble's member registry (empty on a standalone server)."""
        ...

    @property
    def ensemble(self) -> bool:
        """True for an ensemble member (several members, reconfig, read barriers)."""
        ...

    @property
    def leader(self) -> int:
        """The id of the member that leads (0: none known); standalone: its own id."""
        ...

    @property
    def is_leader(self) -> bool: ...

    @property
    def may_expire(self) -> bool:
        """This member decides session expiries (an established leader; standalone: always)."""
        ...

    def may_answer(self, session_id: int) -> bool:
        """This member holds a liveness grant for the session (roost.replica.sessions):
        it may answer the session now (pings, reads, writes, events); standalone:
        always."""
        ...

    def granted_until(self, session_id: int) -> float:
        """Until when (the host's monotonic seconds) this member may answer the session
        (`may_answer`): -inf without a grant, inf if it does not gate (standalone)."""
        ...

    @property
    def partitioned(self) -> bool:
        """Cut off from the majority for a while: local reads may be stale."""
        ...

    @property
    def serving(self) -> bool:
        """In the ensemble's registry and storage not failed: may serve clients."""
        ...

    def recover(self) -> None: ...

    def start(self) -> None: ...

    def propose(
        self, txn: Txn, done: Done | None = None, abandoned: Callable[[], bool] | None = None
    ) -> None: ...

    def barrier(self, then: Callable[[], None], on_timeout: Callable[[], None]) -> None:
        """Run `then` once everything committed before the call is applied here."""
        ...

    def touch(self, session_id: int) -> None:
        """A client of this member was heard from."""
        ...

    def config_text(self) -> bytes:
        """/zookeeper/config's data."""
        ...

    async def snapshot(self) -> None: ...

    async def close(self, snapshot: bool = True) -> None: ...
