"""The order of an applied txn's effects (roost.replica.order): watches, then the reply;
used by the replicated state, the standalone server and the simulator."""

from __future__ import annotations

from roost.replica.order import effects
from roost.tree.txn import Kind, Txn, TxnResult


def _run(reply_first: bool, with_done: bool = True) -> list[str]:
    seen: list[str] = []
    txn = Txn(Kind.NOOP)
    result = TxnResult(0, None, [])
    effects(lambda z, t, r: seen.append(f"applied {z}"),
            (lambda z, r: seen.append(f"reply {z}")) if with_done else None,
            7, txn, result, reply_first)
    return seen


def test_watches_fire_before_the_reply() -> None:
    assert _run(False) == ["applied 7", "reply 7"]


def test_no_writer_waiting_still_fires_watches() -> None:
    assert _run(False, with_done=False) == ["applied 7"]
    assert _run(True, with_done=False) == ["applied 7"]


def test_the_planted_bug_replies_first() -> None:
    assert _run(True) == ["reply 7", "applied 7"]
