"""RetryPolicy as data, and where the client applies it: reads are retried by themselves,
writes never (their outcome is unknown after a connection loss)."""

from __future__ import annotations

import random

import pytest

from roost.client import (
    NO_RETRY,
    Client,
    ConnectionLossError,
    NoNodeError,
    OperationTimeoutError,
    RetryPolicy,
)
from roost.client.retry import run_with_retry
from roost.wire.opcodes import Op

from .test_protocol import FakeServer


def test_policy_backs_off_exponentially_up_to_the_cap() -> None:
    p = RetryPolicy(max_attempts=6, base_delay=0.1, max_delay=0.5, jitter=0)
    assert p.delays() == [0.1, 0.2, 0.4, 0.5, 0.5]
    assert NO_RETRY.delays() == []


def test_policy_jitter_is_seeded_and_bounded() -> None:
    p = RetryPolicy(max_attempts=5, base_delay=0.2, max_delay=1.0, jitter=0.5)
    a, b = p.delays(random.Random(9)), p.delays(random.Random(9))
    assert a == b and a != p.delays(random.Random(10))
    for got, raw in zip(a, RetryPolicy(5, 0.2, 1.0, 0).delays(), strict=True):
        assert raw * 0.5 <= got <= raw


@pytest.mark.parametrize("bad", [dict(max_attempts=0), dict(base_delay=-1), dict(jitter=2)])
def test_policy_rejects_nonsense(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**bad)  # type: ignore[arg-type]


async def test_run_with_retry_stops_after_max_attempts() -> None:
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OperationTimeoutError("/x")
        return "ok"

    fast = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.001)
    assert await run_with_retry(fast, flaky) == "ok" and len(calls) == 3
    calls.clear()
    with pytest.raises(OperationTimeoutError):
        await run_with_retry(RetryPolicy(2, 0.001, 0.001), flaky)
    assert len(calls) == 2

    async def missing() -> str:
        calls.append(1)
        raise NoNodeError("/x")

    calls.clear()
    with pytest.raises(NoNodeError):  # not a retryable error: one attempt only
        await run_with_retry(fast, missing)
    assert len(calls) == 1


async def test_reads_are_retried_by_the_client_but_writes_are_not() -> None:
    policy = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)
    fake = FakeServer(bad_conn=1)
    server = await fake.start()
    zk = Client(f"127.0.0.1:{fake.port}", retry_delay=0.01, rng=random.Random(6),
                retry_policy=policy)
    try:
        await zk.start(timeout=5)
        data, _ = await zk.get("/a")  # the first connection garbles the reply: retried
        assert data == b"ok" and fake.ops.count(Op.GET_DATA) == 2 and fake.connections == 2
    finally:
        await zk.close()
        server.close()

    fake = FakeServer(bad_conn=1)
    server = await fake.start()
    zk = Client(f"127.0.0.1:{fake.port}", retry_delay=0.01, rng=random.Random(6),
                retry_policy=policy)
    try:
        await zk.start(timeout=5)
        with pytest.raises(ConnectionLossError):
            await zk.set("/a", b"v")  # may have been applied: never repeated silently
        assert fake.ops.count(Op.SET_DATA) == 1
        # An explicit retry of a write the caller knows to be safe is allowed.
        with pytest.raises(NoNodeError):
            await zk.retry(zk.set, "/a", b"v", policy=policy)
        assert fake.ops.count(Op.SET_DATA) == 2
    finally:
        await zk.close()
        server.close()
