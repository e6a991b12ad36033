"""DataTree: the replicated state (`roost.tree.state.TreeState`: znodes, sessions, last
zxid, primitive changes) with its client writes (`ops.py`) and its snapshot and digest
(`snapshot.py`) on it: the class the rest of roost holds. Deterministic like its parts: no
I/O, clocks or randomness; time and zxid arrive in a `TxnContext`.
"""

from __future__ import annotations

from roost.tree import snapshot
from roost.tree.context import DEFAULT_CONFIG, TreeConfig, TxnContext, WatchEvent
from roost.tree.ops import apply_op
from roost.tree.state import TreeState
from roost.wire.records import Record


class DataTree(TreeState):
    """The ZooKeeper data tree as a deterministic state machine (see the package docs)."""

    def apply(
        self, ctx: TxnContext, op: int, req: Record
    ) -> tuple[int, Record | None, list[WatchEvent]]:
        """Apply one client write txn; see `roost.tree.ops.apply_op`."""
        self.last_zxid = ctx.zxid
        return apply_op(self, ctx, op, req)

    # --- snapshot ---------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """Deterministic msgpack snapshot of nodes, sessions and last_zxid (versioned)."""
        return snapshot.encode(self)

    @classmethod
    def from_bytes(cls, data: bytes | memoryview, config: TreeConfig = DEFAULT_CONFIG) -> DataTree:
        """Load a `to_bytes` snapshot; raises `SnapshotError` (a ValueError) if invalid."""
        tree = cls(config)
        snapshot.decode(data, tree)
        return tree

    def digest(self) -> int:
        """Order-independent hash of the whole state, equal on trees with equal state."""
        return snapshot.digest(self)
