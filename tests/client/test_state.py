"""The connection state machine: suspend/reconnect, session expiry, watch re-registration,
auth re-sent, server-list failover, close, and the lease deadline."""

from __future__ import annotations

import asyncio
import base64
import hashlib

import pytest

from roost.client import (
    ACL,
    AuthFailedError,
    ClientClosedError,
    ClientState,
    ConnectionLossError,
    EventType,
    Id,
    KeeperState,
    NoAuthError,
    OperationTimeoutError,
    StateChange,
    WatchedEvent,
)
from roost.client.lease import lease_span
from roost.testing.wait import wait_until_async
from roost.testing.zookeeper import free_port
from roost.wire.opcodes import Op, Perm
from roost.wire.protocol import FrameBuffer, decode_reply_header, encode_frame, encode_request
from roost.wire.records import ConnectRequest, ConnectResponse

from .helpers import Backend, Env, Proxy, make_client

S = ClientState


def states(changes: list[StateChange]) -> list[ClientState]:
    return [c.state for c in changes]


async def suspend(zk_proxy: Proxy, changes: list[StateChange]) -> None:
    """Cut the client's link and keep it cut until `resume`."""
    zk_proxy.blocked = True
    zk_proxy.cut()
    await wait_until_async(lambda: S.SUSPENDED in states(changes), what="SUSPENDED")


async def expire_session(backend: Backend, session_id: int, passwd: bytes,
                         timeout: float = 20.0) -> None:
    """End the session from outside: a raw connection attaches to it and closes it. The
    ConnectRequest and the closeSession go out in one write, so nothing can take the session
    back between the two; should the server drop the raw connection before it answered the
    closeSession, it is tried again (until `timeout`). Returns once the closeSession was
    answered, or an attach is told the session is gone."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    attach = encode_frame(ConnectRequest(0, 0, 10_000, session_id, passwd, False))
    while True:
        reader, writer = await asyncio.open_connection(backend.host, backend.port)
        fb = FrameBuffer()
        frames: list[bytes] = []
        try:
            writer.write(attach + encode_request(1, Op.CLOSE_SESSION))
            while len(frames) < 2:
                chunk = await asyncio.wait_for(reader.read(4096),
                                               max(deadline - loop.time(), 0.1))
                if not chunk:
                    break
                frames += fb.feed(chunk)
        except (OSError, TimeoutError):
            pass  # the connection broke: try again until the deadline
        finally:
            writer.close()
        if frames:
            answer = ConnectResponse.from_bytes(frames[0])
            if answer.sessionId != session_id or answer.timeOut <= 0:
                return  # the session is gone already
            if len(frames) >= 2:
                xid, _zxid, err = decode_reply_header(frames[1])
                assert (xid, err) == (1, 0), f"closeSession answered {xid=} {err=}"
                return
        assert loop.time() < deadline, f"session 0x{session_id:x} could not be closed"
        await asyncio.sleep(0.05)  # a pause before the next try (bounded by the deadline)


async def test_drop_and_reconnect_keeps_the_session(env: Env) -> None:
    proxy = await env.proxy()
    changes: list[StateChange] = []
    zk = await env.client(hosts=proxy.hosts, start=False)
    zk.add_listener(changes.append)
    await zk.start()
    sid = zk.session_id
    await zk.create("/eph", ephemeral=True)
    await suspend(proxy, changes)
    # A request made while suspended waits and is sent after the reconnect.
    pending = asyncio.ensure_future(zk.exists("/eph"))
    await wait_until_async(lambda: zk.conn.inflight.queued, what="the request queued")
    assert not pending.done()
    proxy.blocked = False
    await zk.wait_for(S.RECONNECTED, timeout=10)
    assert (await pending) is not None
    assert zk.session_id == sid
    await wait_until_async(lambda: len(changes) == 3)
    assert states(changes) == [S.CONNECTED, S.SUSPENDED, S.RECONNECTED]
    assert all(c.session_id == sid for c in changes)


async def test_watches_fire_for_changes_made_while_disconnected(env: Env) -> None:
    proxy = await env.proxy()
    changes: list[StateChange] = []
    zk = await env.client(hosts=proxy.hosts)
    zk.add_listener(changes.append)
    other = await env.client()
    await zk.create("/d", b"0")
    await zk.create("/c")
    await zk.create("/gone")
    events: list[WatchedEvent] = []
    await zk.get("/d", watch=events.append)
    await zk.children("/c", watch=events.append)
    assert await zk.exists("/new", watch=events.append) is None
    await zk.get("/gone", watch=events.append)
    await suspend(proxy, changes)
    await other.set("/d", b"1")
    await other.create("/c/kid")
    await other.create("/new")
    await other.delete("/gone")
    assert events == []
    proxy.blocked = False
    await zk.wait_for(S.RECONNECTED, timeout=10)
    await wait_until_async(lambda: len(events) >= 4, what="re-registered watches")
    await zk.sync("/")
    assert sorted((e.type, e.path) for e in events) == sorted([
        (EventType.NODE_DATA_CHANGED, "/d"),
        (EventType.NODE_CHILDREN_CHANGED, "/c"),
        (EventType.NODE_CREATED, "/new"),
        (EventType.NODE_DELETED, "/gone"),
    ])


async def test_unchanged_watch_survives_reconnect_and_persistent_watches_too(env: Env) -> None:
    proxy = await env.proxy()
    changes: list[StateChange] = []
    zk = await env.client(hosts=proxy.hosts)
    zk.add_listener(changes.append)
    other = await env.client()
    await zk.create("/quiet", b"0")
    await zk.create("/rec")
    quiet: list[WatchedEvent] = []
    rec: list[WatchedEvent] = []
    await zk.get("/quiet", watch=quiet.append)
    await zk.add_watch("/rec", rec.append, recursive=True)
    await suspend(proxy, changes)
    proxy.blocked = False
    await zk.wait_for(S.RECONNECTED, timeout=10)
    assert quiet == [] and rec == []
    # Both were re-registered (setWatches2): later changes still reach them.
    await other.set("/quiet", b"1")
    await other.create("/rec/a")
    await other.create("/rec/a/b")
    await wait_until_async(lambda: quiet and len(rec) >= 2)
    assert [(e.type, e.path) for e in quiet] == [(EventType.NODE_DATA_CHANGED, "/quiet")]
    assert [(e.type, e.path) for e in rec] == [
        (EventType.NODE_CREATED, "/rec/a"),
        (EventType.NODE_CREATED, "/rec/a/b"),
    ]


async def test_session_expiry_goes_lost_then_reconnected_with_a_new_session(env: Env) -> None:
    proxy = await env.proxy()
    changes: list[StateChange] = []
    zk = await env.client(hosts=proxy.hosts, start=False)
    zk.add_listener(changes.append)
    await zk.start()
    other = await env.client()
    old_sid = zk.session_id
    await zk.create("/mine", ephemeral=True)
    await zk.create("/watched")
    events: list[WatchedEvent] = []
    await zk.get("/watched", watch=events.append)
    await suspend(proxy, changes)
    await expire_session(env.backend, *zk.client_id)
    proxy.blocked = False
    await wait_until_async(lambda: states(changes)[-1:] == [S.RECONNECTED] and len(changes) == 4)
    assert states(changes) == [S.CONNECTED, S.SUSPENDED, S.LOST, S.RECONNECTED]
    assert zk.session_id not in (0, old_sid)
    assert await other.exists("/mine") is None
    await wait_until_async(lambda: events)
    assert events == [WatchedEvent(EventType.NONE, KeeperState.EXPIRED, "/watched")]
    # The new session works.
    await zk.create("/mine", ephemeral=True)


async def test_auth_is_resent_after_reconnect(env: Env) -> None:
    proxy = await env.proxy()
    changes: list[StateChange] = []
    zk = await env.client(hosts=proxy.hosts)
    zk.add_listener(changes.append)
    stranger = await env.client()
    await zk.add_auth("digest", "alice:secret")
    assert ("digest", "alice") in await zk.who_am_i()
    digest = base64.b64encode(hashlib.sha1(b"alice:secret").digest()).decode()
    acl = [ACL(Perm.ALL, Id("digest", f"alice:{digest}"))]
    await zk.create("/secret", b"s3", acl)
    with pytest.raises(NoAuthError):
        await stranger.get("/secret")
    await suspend(proxy, changes)
    proxy.blocked = False
    await zk.wait_for(S.RECONNECTED, timeout=10)
    assert (await zk.get("/secret"))[0] == b"s3"
    got, _ = await zk.get_acl("/secret")
    assert got == acl


async def test_fails_over_to_the_next_server(env: Env) -> None:
    first, second = await env.proxy(), await env.proxy()
    changes: list[StateChange] = []
    dead = free_port()
    hosts = f"127.0.0.1:{dead},{first.hosts},{second.hosts}"
    zk = await env.client(hosts=hosts)
    zk.add_listener(changes.append)
    sid = zk.session_id
    assert zk.server is not None and zk.server[1] in (first.port, second.port)
    used = first if zk.server[1] == first.port else second
    await suspend(used, changes)
    await zk.wait_for(S.RECONNECTED, timeout=10)
    assert zk.session_id == sid and zk.server is not None
    assert zk.server[1] == (second if used is first else first).port
    assert await zk.exists("/") is not None


async def test_start_fails_fast_without_a_server(env: Env) -> None:
    zk = make_client(f"127.0.0.1:{free_port()}")
    with pytest.raises(ConnectionLossError):
        await zk.start(timeout=0.5)
    assert zk.state is S.CLOSED


async def test_close_ends_the_session(env: Env) -> None:
    zk = await env.client()
    other = await env.client()
    changes: list[StateChange] = []
    zk.add_listener(changes.append)
    await zk.create("/bye", ephemeral=True)
    await zk.close()
    assert zk.state is S.CLOSED and states(changes) == [S.CLOSED]
    assert await other.exists("/bye") is None
    with pytest.raises(ClientClosedError):
        await zk.get("/")
    await zk.close()  # idempotent


async def test_lease_deadline_tracks_heartbeats(env: Env) -> None:
    proxy = await env.proxy()
    changes: list[StateChange] = []
    zk = await env.client(hosts=proxy.hosts)
    zk.add_listener(changes.append)
    span = lease_span(zk.session_timeout, zk.conn.options.clock_drift)
    assert 0 < span < zk.session_timeout / 2
    assert 0 < zk.lease_remaining() <= span
    first = zk.lease_deadline
    await zk.exists("/")  # a read proves nothing about the session: no renewal
    assert zk.lease_deadline == first
    # pings (every third of the timeout) renew it
    await wait_until_async(lambda: zk.lease_deadline > first, what="a ping renews the lease")
    await suspend(proxy, changes)
    stale = zk.lease_deadline
    # time passing while cut off is what is tested: the lease runs down, nothing renews it
    await asyncio.sleep(0.3)
    assert zk.lease_deadline == stale
    assert zk.lease_remaining() <= span - 0.3
    proxy.blocked = False
    await zk.wait_for(S.RECONNECTED, timeout=10)
    await wait_until_async(lambda: zk.lease_deadline > stale, what="renewed after reconnecting")


def test_lease_remaining_never_exceeds_the_session_timeout() -> None:
    # Loop clocks that count whole milliseconds (uvloop's) read the same time at the send
    # and right after a quick reply: the lease left is then the whole timeout, never more.
    # (sent + 10) - sent is 10.000000000000114 for sent = 1014.003: test_sync_facade_api
    # once failed its "lease_remaining() <= 10" that way.
    from roost.client.connection import Connection
    from roost.client.events import Dispatcher
    from roost.client.options import ConnectionOptions

    conn = Connection([("127.0.0.1", 1)], "", ConnectionOptions(), Dispatcher())
    assert conn.lease_remaining(5.0) < 0  # no session yet
    conn.negotiated_timeout = conn.lease.timeout = 10.0
    # the lease: less than the timeout (docs/client.md)
    span = lease_span(conn.lease.timeout, conn.options.clock_drift)
    assert 0 < span < 10.0
    for ms in range(1_014_000, 1_016_000):
        sent = ms / 1000
        conn.lease.renew(sent, conn.options.clock_drift)
        assert conn.lease_deadline == sent + span
        assert conn.lease_remaining(sent) == span
        assert span - 0.002 < conn.lease_remaining(sent + 0.001) < span


async def test_request_timeout_while_suspended(env: Env) -> None:
    proxy = await env.proxy()
    changes: list[StateChange] = []
    zk = await env.client(hosts=proxy.hosts, request_timeout=0.2)
    zk.add_listener(changes.append)
    await suspend(proxy, changes)
    with pytest.raises(OperationTimeoutError):
        await zk.get("/")
    zk.request_timeout = None
    proxy.blocked = False
    await zk.wait_for(S.RECONNECTED, timeout=10)
    assert (await zk.get("/"))[1].numChildren >= 0


async def test_pings_keep_an_idle_session_alive(env: Env) -> None:
    changes: list[StateChange] = []
    zk = await env.client(session_timeout=4.0)  # the smallest timeout both servers allow
    zk.add_listener(changes.append)
    other = await env.client()
    sid = zk.session_id
    await zk.create("/alive", ephemeral=True)
    assert zk.session_timeout == 4.0
    # Stay idle for longer than the session timeout: only pings keep the session. (The
    # idle time is what is tested; 4.5 s.)
    await asyncio.sleep(zk.session_timeout + 0.5)
    assert zk.state is S.CONNECTED and zk.session_id == sid and changes == []
    assert await other.exists("/alive") is not None
    assert zk.lease_remaining() > 0


async def test_failed_auth_raises_and_the_client_recovers(env: Env) -> None:
    changes: list[StateChange] = []
    zk = await env.client()
    zk.add_listener(changes.append)
    sid = zk.session_id
    with pytest.raises(AuthFailedError):
        await zk.add_auth("no-such-scheme", "whatever")
    # The server drops the connection after a failed auth; the session survives it.
    await zk.retry(zk.exists, "/")
    assert zk.session_id == sid and zk.state is S.RECONNECTED
    assert all(scheme != "no-such-scheme" for scheme, _ in await zk.who_am_i())


def test_only_an_answered_ping_renews_the_lease() -> None:
    """The lease's rules (docs/client.md, "The session lease"), which the simulator's
    clients follow too: a new session's handshake starts it from its send time, a reattach
    does not; an answered ping on a read-write link renews it, a read, a write, a failed
    ping, a read-only link's ping and a ping older than the lease's start do not."""
    from roost.client.lease import Lease
    from roost.wire.opcodes import Op

    lease = Lease()
    lease.established(True, 10.0, False, 1.0, 0.02)
    span = lease_span(10.0, 0.02)
    assert lease.deadline == 1.0 + span
    lease.established(False, 12.0, False, 2.0, 0.02)  # a reattach: nothing renewed
    assert lease.deadline == 1.0 + span and lease.timeout == 10.0
    for op in (Op.SET_DATA, Op.CREATE, Op.GET_DATA, Op.SYNC, Op.MULTI):
        assert not lease.answered(int(op), 0, False, 3.0, 0.02)
    assert not lease.answered(int(Op.PING), 1, False, 3.0, 0.02)  # an error
    assert not lease.answered(int(Op.PING), 0, True, 3.0, 0.02)  # a read-only link
    assert lease.deadline == 1.0 + span
    assert lease.answered(int(Op.PING), 0, False, 3.0, 0.02)
    assert lease.deadline == 3.0 + span
    assert not lease.answered(int(Op.PING), 0, False, 2.5, 0.02)  # older than its start
    assert lease.deadline == 3.0 + span
    read_only = Lease()
    read_only.established(True, 10.0, True, 1.0, 0.02)
    assert read_only.deadline == 0.0
