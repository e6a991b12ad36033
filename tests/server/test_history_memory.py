"""The event history's memory: the byte estimate bounds what tracemalloc measures, and a
server under a bounded write flood keeps its history within the configured bytes."""

from __future__ import annotations

import asyncio
import random
import tracemalloc

import pytest

from roost.client import Client
from roost.server.history import EventHistory, HistoryEvent, Limits
from roost.testing.server import RoostServer
from roost.wire.opcodes import EventType


@pytest.mark.parametrize("per_zxid", [1, 2, 5])
def test_estimate_bounds_measured_memory(per_zxid: int) -> None:
    rng = random.Random(per_zxid)
    n = 20_000
    tracemalloc.start()
    try:
        h = EventHistory(Limits(10**9, 10**12, 10**12))
        base = tracemalloc.get_traced_memory()[0]
        for zxid, i in enumerate(range(0, n, per_zxid), 1):
            events = [
                HistoryEvent(int(EventType.NODE_DATA_CHANGED), f"/app/node{i + j:06d}",
                             rng.randbytes(rng.randrange(64)), ())
                for j in range(per_zxid)
            ]
            h.append(zxid, 0, events)
        used = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert h.events == n
    assert used <= h.bytes, f"measured {used} B, estimated {h.bytes} B"
    assert used >= 0.6 * h.bytes, f"estimate too loose: measured {used} B of {h.bytes} B"


def test_server_history_stays_within_its_bound_under_a_write_flood(tmp_path) -> None:
    bound = 256 * 1024
    writes, payload = 3000, 300

    async def flood(hosts: str) -> None:
        async with Client(hosts) as zk:
            await zk.create("/flood", b"")
            async with asyncio.timeout(120):
                for start in range(0, writes, 100):
                    await asyncio.gather(*(
                        zk.create(f"/flood/n{i:05d}", bytes(payload))
                        for i in range(start, start + 100)))

    with RoostServer(tmp_path / "d", history_max_bytes=bound, fsync=False) as srv:
        asyncio.run(flood(srv.hosts))
        assert srv.server is not None
        h = srv.server.streams.history
        assert 0 < h.bytes <= bound
        # most of the bound is in use, and the oldest writes were dropped
        assert h.bytes > bound // 2 and h.floor > 3
        assert h.events < 2 * writes
