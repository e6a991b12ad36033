"""watch_history against both backends: roost streams the changes (paths relative to
the chroot); Apache ZooKeeper answers the extension opcode with Unimplemented, and the
client says the server lacks the feature (and carries on working)."""

from __future__ import annotations

import asyncio

import pytest

from roost.client import ConnectionLossError, EventType, HistoryEvent, HistoryUnsupportedError
from roost.client.events import WRITABLE_STATES

from .helpers import Env


async def test_watch_history_in_a_chroot_or_unsupported(env: Env) -> None:
    zk = await env.client()
    since = zk.last_zxid
    await zk.create("/h", b"1")
    await zk.set("/h", b"2")
    stream = zk.watch_history("/h", since=since, with_data=True)
    if env.backend.kind == "zookeeper":
        with pytest.raises(HistoryUnsupportedError) as ei:
            await anext(stream)
        assert "does not support watch_history" in str(ei.value)
        # ZooKeeper closes the connection after Unimplemented (what was in flight on it
        # fails with ConnectionLoss); the client reconnects and the session carries on
        async with asyncio.timeout(10):
            while True:
                try:
                    assert (await zk.get("/h"))[0] == b"2"
                    break
                except ConnectionLossError:
                    await zk.wait_for(*WRITABLE_STATES)
        return
    created = await anext(stream)
    changed = await anext(stream)
    assert created == HistoryEvent(created.zxid, EventType.NODE_CREATED, "/h", b"1")
    assert changed == HistoryEvent(changed.zxid, EventType.NODE_DATA_CHANGED, "/h", b"2")
    assert since < created.zxid < changed.zxid == zk.last_zxid
    assert stream.resume_zxid == changed.zxid
    await stream.aclose()
    with pytest.raises(StopAsyncIteration):
        await anext(stream)
