"""Fencing tokens: reject writes from a deposed lock holder or leader.

Every lock, lease and leadership grant in `roost.recipes` carries a token: the creation zxid
(czxid) of the sequential node that won. zxids only grow, and nodes are granted in creation
order, so each grant of one lock or election has a larger token than every earlier grant.

A holder passes its token along with each write to a downstream store. The store keeps the
largest token it has accepted and refuses smaller ones (`FencingGate`), so a holder that was
paused or cut off while someone else took over cannot overwrite the newer holder's work.

Inside the coordination service itself, `guard` adds a version check on the holder's own node
to a transaction: the transaction then commits only while the node (and so the grant) exists.

`lease_valid(client)` is the holder's own side: True while the client's session lease
(docs/client.md) says the session is certainly alive. Lock.is_held, LeaderLatch's and
LeaderSelector's has_leadership use it; a holder checks it before each fenced write.
"""

from __future__ import annotations

import asyncio
import threading

from roost.client import Client, Transaction


class StaleTokenError(Exception):
    """A write carried a token smaller than one the store already accepted."""

    def __init__(self, token: int, highest: int) -> None:
        super().__init__(f"fencing token {token} is older than {highest}")
        self.token = token
        self.highest = highest


def check_token(token: int, highest_seen: int) -> bool:
    """True if a write with ``token`` may go ahead given the largest token seen so far."""
    return token >= highest_seen


class FencingGate:
    """What a downstream store keeps per protected resource: the largest token accepted.

    ``admit(token)`` accepts equal or larger tokens (the same holder keeps writing with the
    same token) and raises `StaleTokenError` for smaller ones. Thread-safe.
    """

    def __init__(self, highest: int = 0) -> None:
        self._highest = highest
        self._mutex = threading.Lock()

    @property
    def highest(self) -> int:
        return self._highest

    def admit(self, token: int) -> None:
        with self._mutex:
            if not check_token(token, self._highest):
                raise StaleTokenError(token, self._highest)
            self._highest = token

    def would_admit(self, token: int) -> bool:
        return check_token(token, self._highest)


def lease_valid(client: Client, loop: asyncio.AbstractEventLoop | None = None) -> bool:
    """True while `client`'s session is certainly alive on the ensemble: its lease
    deadline (a ping's send time plus the lease span, docs/client.md) is in the future.
    `loop` is the client's event loop (needed when called from another thread)."""
    if loop is None:
        loop = asyncio.get_running_loop()
    return client.lease_deadline > loop.time()


def guard(txn: Transaction, holder_path: str, version: int = 0) -> Transaction:
    """Add "the holder's node still exists, unchanged" to ``txn`` (etcd's IsOwner compare)."""
    return txn.check(holder_path, version)


__all__ = ["FencingGate", "StaleTokenError", "check_token", "guard", "lease_valid"]
