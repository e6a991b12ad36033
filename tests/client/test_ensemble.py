"""The client against a 3-member roost ensemble: failover to another member keeps the session."""

from __future__ import annotations

import asyncio
from pathlib import Path

from roost.client import ClientState, EventType, StateChange, WatchedEvent
from roost.testing.ensemble import RoostEnsemble
from roost.testing.wait import wait_until_async

from .helpers import make_client


async def test_failover_to_another_member_keeps_session_and_watches(tmp_path: Path) -> None:
    with RoostEnsemble(3, base_dir=tmp_path) as ens:
        changes: list[StateChange] = []
        zk = make_client(ens.hosts, seed=7)
        zk.add_listener(changes.append)
        other = make_client(ens.hosts, seed=8)
        try:
            await zk.start()
            await other.start()
            sid = zk.session_id
            await zk.create("/mine", b"e", ephemeral=True)
            await zk.create("/watched", b"0")
            events: list[WatchedEvent] = []
            await zk.get("/watched", watch=events.append)
            assert zk.server is not None
            members = ens.hosts.split(",")
            member = members.index(f"{zk.server[0]}:{zk.server[1]}")
            await asyncio.get_running_loop().run_in_executor(None, ens.stop_member, member)
            await wait_until_async(lambda: ClientState.SUSPENDED in [c.state for c in changes])
            await zk.wait_for(ClientState.RECONNECTED, timeout=30)
            assert zk.session_id == sid and zk.server is not None
            assert f"{zk.server[0]}:{zk.server[1]}" != members[member]
            assert await zk.retry(zk.exists, "/mine") is not None
            await other.retry(other.set, "/watched", b"1")
            await wait_until_async(lambda: events, timeout=20, what="watch on the new member")
            assert [(e.type, e.path) for e in events] == [(EventType.NODE_DATA_CHANGED, "/watched")]
            assert await zk.retry(zk.create, "/after", b"ok") == "/after"
        finally:
            await zk.close()
            await other.close()
