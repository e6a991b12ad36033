"""watch_history against both backends: roost streams the changes (paths relative to
the chroot); Apache ZooKeeper answers the extension opcode with Unimplemented, and the
client says the server lacks the feature (and carries on working)."""

from __future__ import annotations

import pytest

from roost.client import EventType, HistoryEvent, HistoryUnsupportedError

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
        # ZooKeeper closes the connection after Unimplemented: the client leaves it at
        # once, so the next request simply waits for the next connection
        assert (await zk.get("/h"))[0] == b"2"
        again = zk.watch_history("/h")  # remembered: fails without asking again
        with pytest.raises(HistoryUnsupportedError):
            await anext(again)
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
