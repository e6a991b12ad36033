"""kazoo against both backends: chroot, sessions, expiry, reconnects, big requests, sync."""

from __future__ import annotations

import threading

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import ConnectionLoss
from kazoo.protocol.states import EventType, KazooState
from kazoo.retry import KazooRetry

from roost.testing.wait import wait_until

from .conftest import Backend, ClientFactory
from .helpers import Collector, drop_connection, expire_session

pytestmark = pytest.mark.compat


def test_chroot_hides_the_prefix(make_client: ClientFactory, admin: KazooClient, base: str) -> None:
    zk = make_client()
    assert zk.create("/node", b"x") == "/node"
    assert zk.create("/node/s-", b"", sequence=True) == "/node/s-0000000000"
    # admin may be connected to another ensemble member, which need not have applied zk's
    # writes yet (ZooKeeper promises no more): sync first, as a ZooKeeper client must
    admin.sync(base)
    assert admin.get(f"{base}/node")[0] == b"x"
    assert admin.get_children(f"{base}/node") == ["s-0000000000"]
    assert zk.get_children("/") == ["node"]
    seen = Collector()
    zk.get("/node", watch=seen)
    admin.set(f"{base}/node", b"y")
    assert [(e.type, e.path) for e in seen.wait_for(1)] == [(EventType.CHANGED, "/node")]
    t = zk.transaction()
    t.create("/node/t", b"")
    assert t.commit() == ["/node/t"]


def test_nested_chroot(make_client: ClientFactory, base: str) -> None:
    zk = make_client()
    zk.create("/inner/deeper", b"d", makepath=True)
    inner = make_client(chroot=f"{base}/inner")
    assert inner.get_children("/") == ["deeper"]
    assert inner.get("/deeper")[0] == b"d"


def test_session_expiry_removes_ephemerals(make_client: ClientFactory, backend: Backend) -> None:
    victim = make_client()
    watcher = make_client()
    victim.create("/eph", b"", ephemeral=True)
    victim.create("/persistent", b"")
    old_session = victim.client_id[0]
    gone = Collector()
    watcher.exists("/eph", watch=gone)
    states = expire_session(victim, backend.host, backend.port)
    assert KazooState.LOST in states
    assert [(e.type, e.path) for e in gone.wait_for(1)] == [(EventType.DELETED, "/eph")]
    assert watcher.exists("/eph") is None
    assert watcher.exists("/persistent") is not None
    # kazoo starts a fresh session after LOST
    wait_until(lambda: victim.connected and victim.client_id[0] != old_session,
               what="a new session")
    assert victim.exists("/eph") is None


def test_session_expiry_fires_client_watches(make_client: ClientFactory, backend: Backend) -> None:
    victim = make_client()
    victim.create("/w", b"")
    seen = Collector()
    victim.get("/w", watch=seen)
    expire_session(victim, backend.host, backend.port)
    # the server closed the victim's connection when the second client took the session
    # over; kazoo tells its watchers with a NONE event and drops them
    events = seen.wait_for(1)
    assert [(e.type, e.state) for e in events] == [(EventType.NONE, "CONNECTING")]
    wait_until(lambda: victim.connected, what="a new session")
    victim.set("/w", b"changed")
    assert len(seen) == 1


def test_reconnect_keeps_session_and_ephemerals(make_client: ClientFactory) -> None:
    zk = make_client()
    other = make_client()
    zk.create("/eph", b"alive", ephemeral=True)
    session = zk.client_id
    drop_connection(zk)
    assert zk.client_id == session
    assert zk.get("/eph")[0] == b"alive"
    assert other.exists("/eph").ephemeralOwner == session[0]


def test_auth_is_resent_after_reconnect(make_client: ClientFactory) -> None:
    from kazoo.security import make_digest_acl

    zk = make_client(auth_data=[("digest", "ivy:pw")])
    zk.create("/h", b"ok", acl=[make_digest_acl("ivy", "pw", read=True)])
    drop_connection(zk)
    assert zk.get("/h")[0] == b"ok"


def test_wrong_session_password_is_expired(
    make_client: ClientFactory, backend: Backend, base: str
) -> None:
    owner = make_client()
    owner.create("/eph", b"", ephemeral=True)
    sid, passwd = owner.client_id
    bad = bytes([passwd[0] ^ 0xFF]) + passwd[1:]
    states: list[str] = []
    imposter = make_client(start=False, client_id=(sid, bad))
    imposter.add_listener(states.append)
    imposter.start(timeout=20)
    # kazoo is told its session is invalid and then gets a brand-new session
    wait_until(lambda: imposter.connected and imposter.client_id[0] != sid,
               what="a new session")
    assert states[-1] == KazooState.CONNECTED
    # the real session survives (ZooKeeper drops the owner's TCP connection when another
    # connection claims the session id, even with a wrong password; the owner reconnects)
    wait_until(lambda: owner.connected, what="owner reconnected")
    assert owner.retry(owner.exists, "/eph").ephemeralOwner == sid
    assert owner.client_id[0] == sid


def test_unknown_session_id_gets_new_session(make_client: ClientFactory) -> None:
    states: list[str] = []
    zk = make_client(start=False, client_id=(0x1234567890ABCDE, b"x" * 16))
    zk.add_listener(states.append)
    zk.start(timeout=20)
    wait_until(lambda: zk.connected and zk.client_id[0] != 0x1234567890ABCDE,
               what="a new session")
    assert states[-1] == KazooState.CONNECTED
    zk.create("/works", b"")


def test_close_session_removes_ephemerals(make_client: ClientFactory) -> None:
    owner = make_client()
    watcher = make_client()
    watcher.create("/dir", b"")
    owner.create("/dir/eph1", b"", ephemeral=True)
    owner.create("/dir/eph2", b"", ephemeral=True)
    owner.create("/dir/kept", b"")
    before = watcher.exists("/dir")
    owner.stop()
    assert watcher.get_children("/dir") == ["kept"]
    after = watcher.exists("/dir")
    # both removals count as child deletions, made by the closeSession txn
    assert after.cversion == before.cversion + 2
    assert after.numChildren == 1
    assert after.pzxid > before.pzxid
    assert after.mzxid == before.mzxid


def test_large_requests(make_client: ClientFactory) -> None:
    zk = make_client()
    bystander = make_client()
    kb_512 = b"a" * (512 * 1024)
    zk.create("/big", kb_512)
    assert zk.get("/big")[0] == kb_512
    with pytest.raises(ConnectionLoss):
        zk.create("/huge", b"a" * (2 * 1024 * 1024))
    # the client reconnects (same session) and the server keeps serving everyone
    wait_until(lambda: zk.connected, what="reconnect")
    assert zk.retry(zk.exists, "/huge") is None
    assert zk.retry(zk.get, "/big")[0] == kb_512
    bystander.create("/still-fine", b"")
    assert bystander.exists("/big").dataLength == 512 * 1024


def test_sync(make_client: ClientFactory) -> None:
    writer = make_client()
    reader = make_client()
    writer.create("/s", b"v1")
    assert reader.sync("/s") == "/s"
    assert reader.get("/s")[0] == b"v1"
    # sync on a missing path still answers with the path
    assert reader.sync("/not-there") == "/not-there"


def test_many_clients_in_parallel(make_client: ClientFactory) -> None:
    clients = [make_client() for _ in range(4)]
    clients[0].create("/par", b"")
    errors: list[BaseException] = []

    def work(i: int, zk: KazooClient) -> None:
        try:
            for j in range(25):
                zk.create(f"/par/c{i}-{j}", b"")
        except BaseException as e:  # collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    st = clients[1].exists("/par")
    assert st.numChildren == 100
    assert st.cversion == 100


def test_expire_session_beats_a_client_that_reconnects_at_once(
    make_client: ClientFactory, backend: Backend
) -> None:
    # A client that retries without any delay takes its session back within a millisecond
    # of losing its connection to whichever connection claimed the session. expire_session
    # must still end the session (it once attached with a second kazoo client, whose first
    # request came too late under load: ConnectionLoss or a connection time-out).
    eager = make_client(connection_retry=KazooRetry(max_tries=-1, delay=0, max_jitter=0))
    for i in range(5):
        eager.create(f"/e{i}", b"", ephemeral=True)
        old_session = eager.client_id[0]
        states = expire_session(eager, backend.host, backend.port)
        assert KazooState.LOST in states
        wait_until(lambda s=old_session: eager.connected and eager.client_id[0] != s,
                   what="a new session")
        assert eager.exists(f"/e{i}") is None
