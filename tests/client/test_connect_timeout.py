"""One connect attempt against a server that accepts the TCP connection and never answers the
handshake must not use up the session.

Apache ZooKeeper 3.8 does exactly that to a connection made while it is still loading its
database after a restart (closing it hits a null database and the socket stays open, silent).
With one server the old per-attempt limit was the whole session timeout, and SUSPENDED for a
session timeout is LOST here (Curator's rule), so that single attempt lost the session.
"""

from __future__ import annotations

import asyncio

from roost.client import ClientState, StateChange
from roost.testing.wait import wait_until_async

from .helpers import Env, Proxy

S = ClientState
#: Session timeout for these tests (the test servers allow 4..40 s).
SESSION = 6.0


class StallingProxy(Proxy):
    """A `Proxy` that accepts its next ``stall`` connections and then never reads nor answers."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port)
        self.stall = 0
        self.stalled: list[asyncio.StreamWriter] = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.stall > 0:
            self.stall -= 1
            self.stalled.append(writer)  # kept open: the client sees a connected, silent peer
            return
        await super()._handle(reader, writer)

    async def close(self) -> None:
        for writer in self.stalled:
            writer.transport.abort()
        self.stalled.clear()
        await super().close()


async def stalling_proxy(env: Env) -> StallingProxy:
    proxy = StallingProxy(env.backend.host, env.backend.port)
    await proxy.start()
    env.proxies.append(proxy)  # closed by env.aclose()
    return proxy


async def test_a_silent_server_does_not_cost_the_session(env: Env) -> None:
    proxy = await stalling_proxy(env)
    changes: list[StateChange] = []
    zk = await env.client(hosts=proxy.hosts, session_timeout=SESSION, start=False)
    zk.add_listener(changes.append)
    await zk.start()
    sid = zk.session_id
    loop = asyncio.get_running_loop()
    proxy.stall = 1
    proxy.cut()
    cut_at = loop.time()
    await wait_until_async(lambda: S.RECONNECTED in [c.state for c in changes] or
                           S.LOST in [c.state for c in changes], timeout=2 * SESSION,
                           what="reconnect")
    took = loop.time() - cut_at
    assert len(proxy.stalled) == 1, "the first attempt after the cut did not reach the stall"
    assert [c.state for c in changes] == [S.CONNECTED, S.SUSPENDED, S.RECONNECTED]
    assert zk.session_id == sid and all(c.session_id == sid for c in changes)
    # the silent attempt was given up well inside the session (a third of it per attempt)
    assert took < SESSION * 0.6, f"reconnected only after {took:.1f}s"
    assert await zk.exists("/") is not None


async def test_an_explicit_connect_timeout_is_used_as_given(env: Env) -> None:
    proxy = await stalling_proxy(env)
    zk = await env.client(hosts=proxy.hosts, session_timeout=SESSION, connect_timeout=1.0)
    sid = zk.session_id
    loop = asyncio.get_running_loop()
    proxy.stall = 2
    proxy.cut()
    cut_at = loop.time()
    await zk.wait_for(S.RECONNECTED, S.LOST, timeout=2 * SESSION)
    took = loop.time() - cut_at
    assert zk.state is S.RECONNECTED and zk.session_id == sid
    assert len(proxy.stalled) == 2
    # two silent attempts of 1 s each, then the real one (the default would be 2 s each)
    assert 1.9 < took < 3.5, f"reconnected after {took:.2f}s"
