"""Moved to `roost.tree.txn` (the replicated input belongs to the tree layer); this name is
kept so that code written against it still imports."""

from roost.tree.txn import Kind, Txn, TxnResult, apply_txn

__all__ = ["Kind", "Txn", "TxnResult", "apply_txn"]
