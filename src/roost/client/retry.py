"""Retry policy as data: exponential backoff with a cap and a bounded number of attempts.

A `RetryPolicy` only says *when* to try again; *what* may be retried is decided by
the caller. The client applies its policy by itself only to reads (idempotent:
running one twice changes nothing). A write whose connection dropped before the
reply may or may not have been applied, so the client never repeats one on its own;
`Client.retry` does it only when the caller asks, for a write they know to be safe.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from roost.client.errors import (
    ClientClosedError,
    ConnectionLossError,
    OperationTimeoutError,
    SessionExpiredError,
)
from roost.wire.errors import KeeperError

_T = TypeVar("_T")

#: errors after which an idempotent operation may simply be run again
RETRYABLE: tuple[type[KeeperError], ...] = (
    ConnectionLossError,
    OperationTimeoutError,
    SessionExpiredError,
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """At most ``max_attempts`` tries; before try n+1 wait ``base_delay * 2**(n-1)``
    seconds, capped at ``max_delay``, times a factor drawn from ``[1 - jitter, 1]``.

    Between tries the client also waits (up to its session timeout) to be connected
    again, so a retry is not spent against a dead link.
    """

    max_attempts: int = 5
    base_delay: float = 0.05
    max_delay: float = 2.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or not 0 <= self.jitter <= 1:
            raise ValueError("delays must be >= 0 and jitter within [0, 1]")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The pause after failed try number ``attempt`` (1-based)."""
        raw = float(min(self.max_delay, self.base_delay * 2.0 ** min(attempt - 1, 32)))
        if rng is None or not self.jitter:
            return raw
        return raw * float(rng.uniform(1 - self.jitter, 1.0))

    def delays(self, rng: random.Random | None = None) -> list[float]:
        """Every pause the policy allows, in order (``max_attempts - 1`` of them)."""
        return [self.delay(n, rng) for n in range(1, self.max_attempts)]


#: never retry: one attempt
NO_RETRY = RetryPolicy(max_attempts=1)


async def run_with_retry(
    policy: RetryPolicy,
    fn: Callable[[], Awaitable[_T]],
    *,
    before_retry: Callable[[], Awaitable[None]] | None = None,
    rng: random.Random | None = None,
    retry_on: tuple[type[BaseException], ...] = RETRYABLE,
) -> _T:
    """``await fn()``; after a ``retry_on`` error, pause and try again, per ``policy``.

    `ClientClosedError` is never retried. ``before_retry`` runs after each pause
    (the client waits there to be connected again).
    """
    attempt = 1
    while True:
        try:
            return await fn()
        except ClientClosedError:
            raise
        except retry_on:
            if attempt >= policy.max_attempts:
                raise
        await asyncio.sleep(policy.delay(attempt, rng))
        if before_retry is not None:
            await before_retry()
        attempt += 1


__all__ = ["NO_RETRY", "RETRYABLE", "RetryPolicy", "run_with_retry"]
