"""The order of an applied txn's effects, shared by every host (the replicated and the
standalone server, the simulator).

ZooKeeper's guarantee: a client sees the event of a watch it holds before it sees the
change that fired it, so before the reply of the write that made the change (and before
anything it reads after that reply). Hosts queue each watch event to its watcher's
connection as soon as the `applied` sink fires it, and a reply can only queue behind it
on the same connection; so the `applied` sink must run before the writer's `done`.
"""

from __future__ import annotations

from roost.replica.log import Applied, Done
from roost.tree.txn import Txn, TxnResult


def effects(
    applied: Applied,
    done: Done | None,
    zxid: int,
    txn: Txn,
    result: TxnResult,
    reply_first: bool = False,
) -> None:
    """Run the effects of `txn`, applied at `zxid`: watches (through `applied`), then the
    writer's reply. `reply_first` is a planted bug for the simulator (never set in
    production): the reply overtakes the events."""
    if reply_first and done is not None:
        done(zxid, result)
        applied(zxid, txn, result)
        return
    applied(zxid, txn, result)
    if done is not None:
        done(zxid, result)
