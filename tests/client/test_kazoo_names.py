"""kazoo's names on the blocking facade, and kazoo-style DataWatch/ChildrenWatch callbacks,
against roost and Apache ZooKeeper (semantics from kazoo's KazooClient and recipe/watchers)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kazoo.client import KazooClient

from roost.client import ACL, Id, NoNodeError, SyncClient, WatchedEvent
from roost.client.watchers import ChildrenWatch, DataWatch
from roost.testing.wait import wait_until

from .helpers import DEADLINE, Env


@pytest.fixture
def zk(env: Env) -> Iterator[SyncClient]:
    with SyncClient(env.backend.hosts) as root:
        root.ensure_path(env.base)
    with SyncClient(env.backend.hosts + env.base, session_timeout=10.0) as client:
        yield client


def drain(zk: SyncClient) -> None:
    """Wait until every callback queued on the facade's callback thread so far has run."""
    zk._executor.submit(lambda: None).result(DEADLINE)


def test_kazoo_method_names(zk: SyncClient) -> None:
    assert zk.create("/a/b/c", b"v", makepath=True) == "/a/b/c"
    assert zk.get_children("/a") == ["b"]
    kids, stat = zk.get_children("/a", include_data=True)
    assert kids == ["b"] and stat.numChildren == 1 and stat.cversion == 1
    acl = [ACL(31, Id("world", "anyone"))]
    acls, stat = zk.get_acls("/a/b")
    assert list(acls) == acl and stat.aversion == 0
    assert zk.set_acls("/a/b", [ACL(1, Id("world", "anyone"))]).aversion == 1
    assert zk.get_acls("/a/b")[0][0].perms == 1
    session, password = zk.client_id
    assert session == zk.session_id and len(password) == 16
    assert zk.command(b"ruok") == "imok"
    assert zk.server_version() >= (3, 5, 0)
    fired = threading.Event()
    assert zk.get_children("/a", watch=lambda ev: fired.set()) == ["b"]
    zk.create("/a/x")
    assert fired.wait(DEADLINE)


def test_same_answers_as_kazoo(zk: SyncClient, env: Env) -> None:
    zk.create("/k/one", b"1", makepath=True)
    kz = KazooClient(hosts=env.backend.hosts + env.base)
    kz.start()
    try:
        assert sorted(zk.get_children("/k")) == sorted(kz.get_children("/k"))
        ours, theirs = zk.get_children("/k", include_data=True), kz.get_children(
            "/k", include_data=True)
        assert ours[1].pzxid == theirs[1].pzxid and ours[1].cversion == theirs[1].cversion
        assert [a.perms for a in zk.get_acls("/k")[0]] == [a.perms for a in kz.get_acls("/k")[0]]
        assert zk.server_version() == kz.server_version()
    finally:
        kz.stop()
        kz.close()


def test_stop_ends_the_session(env: Env) -> None:
    with SyncClient(env.backend.hosts) as watcher:
        zk = SyncClient(env.backend.hosts).start()
        zk.create(env.base + "-eph", ephemeral=True)
        zk.stop()
        assert zk.closed
        assert watcher.exists(env.base + "-eph") is None
        zk.close()  # idempotent, as kazoo's stop() then close()


def test_data_watch_called_now_and_on_every_change(zk: SyncClient) -> None:
    calls: list[tuple[bytes | None, int | None, str | None]] = []
    registering = threading.get_ident()
    threads: list[int] = []

    def on_data(data: bytes | None, stat: Any, event: WatchedEvent | None) -> None:
        threads.append(threading.get_ident())
        calls.append((data, None if stat is None else stat.version,
                      None if event is None else event.type.name))

    watch = zk.DataWatch("/d", on_data)
    assert calls == [(None, None, None)]  # called at once: the node does not exist yet
    assert threads == [registering]
    zk.create("/d", b"1")
    wait_until(lambda: len(calls) == 2, what="the creation")
    zk.set("/d", b"2")
    wait_until(lambda: len(calls) == 3, what="the change")
    zk.delete("/d")
    wait_until(lambda: len(calls) == 4, what="the deletion")
    assert calls[1:] == [(b"1", 0, "NODE_CREATED"), (b"2", 1, "NODE_DATA_CHANGED"),
                         (None, None, "NODE_DELETED")]
    assert all(t != registering for t in threads[1:])  # later calls: the callback thread
    watch.stop()
    zk.create("/d", b"3")
    drain(zk)
    assert len(calls) == 4 and watch.stopped


def test_data_watch_decorator_two_arguments_and_false_stops(zk: SyncClient) -> None:
    zk.create("/d", b"a")
    seen: list[bytes | None] = []

    @zk.DataWatch("/d")
    def on_data(data: bytes | None, stat: Any) -> bool:
        seen.append(data)
        return data != b"stop"

    assert seen == [b"a"]
    zk.set("/d", b"stop")
    wait_until(lambda: seen == [b"a", b"stop"], what="the stopping value")
    # a second watch on the same node proves the change below was delivered
    later: list[bytes | None] = []
    zk.DataWatch("/d", lambda data, stat: later.append(data))
    zk.set("/d", b"after")
    wait_until(lambda: b"after" in later, what="the second watch")
    drain(zk)
    assert seen == [b"a", b"stop"]


def test_data_watch_keeps_calling_after_a_failing_function(zk: SyncClient) -> None:
    zk.create("/d", b"0")
    seen: list[bytes | None] = []

    def flaky(data: bytes | None, stat: Any) -> None:
        seen.append(data)
        if data == b"1":
            raise RuntimeError("boom")

    zk.DataWatch("/d", flaky)
    zk.set("/d", b"1")
    wait_until(lambda: b"1" in seen, what="the failing call")
    zk.set("/d", b"2")
    wait_until(lambda: b"2" in seen, what="the call after the failure")


def test_children_watch(zk: SyncClient) -> None:
    zk.create("/p")
    calls: list[list[str]] = []
    watch = zk.ChildrenWatch("/p", calls.append)
    assert calls == [[]]
    zk.create("/p/b")
    wait_until(lambda: calls[-1] == ["b"], what="child b")
    zk.create("/p/a")
    wait_until(lambda: calls[-1] == ["a", "b"], what="child a")
    n = len(calls)
    zk.set("/p", b"data changes are not child changes")
    zk.delete("/p/a")
    wait_until(lambda: calls[-1] == ["b"], what="the removal")
    assert len(calls) == n + 1
    zk.delete("/p/b")
    wait_until(lambda: calls[-1] == [], what="the last removal")
    zk.delete("/p")  # the watch ends without a call
    wait_until(lambda: watch.stopped, what="the watch to end with its node")
    zk.create("/p")
    zk.create("/p/c")
    drain(zk)
    assert calls[-1] == [] and all("c" not in kids for kids in calls)


def test_children_watch_send_event_decorator_and_false(zk: SyncClient) -> None:
    zk.create("/p")
    events: list[tuple[list[str], str | None]] = []

    @zk.ChildrenWatch("/p", send_event=True)
    def on_children(children: list[str], event: WatchedEvent | None) -> bool:
        events.append((children, None if event is None else event.type.name))
        return len(children) < 1

    zk.create("/p/x")
    wait_until(lambda: len(events) == 2, what="the first child")
    assert events == [([], None), (["x"], "NODE_CHILDREN_CHANGED")]
    wait_until(lambda: on_children is not None and not zk.aio.conn.watches.watching(
        zk.aio.chroot + "/p") and not zk.aio.conn.watches.watching("/p"), what="watch removal")
    zk.create("/p/y")
    drain(zk)
    assert len(events) == 2


def test_children_watch_on_missing_node_is_never_called(zk: SyncClient) -> None:
    calls: list[list[str]] = []
    watch = ChildrenWatch(zk, "/missing", calls.append)
    assert watch.stopped and calls == []
    with pytest.raises(NoNodeError):
        zk.get_children("/missing")


def test_children_watch_takes_kazoos_positional_arguments(zk: SyncClient) -> None:
    zk.create("/p")
    seen: list[tuple[list[str], Any]] = []
    zk.ChildrenWatch("/p", lambda kids, event: seen.append((kids, event)), True, True)
    assert seen == [([], None)]
    with pytest.raises(ValueError):
        zk.ChildrenWatch("/p", print, False)


def test_one_function_per_watch(zk: SyncClient) -> None:
    watch = DataWatch(zk, "/d")
    watch(lambda data, stat: None)
    with pytest.raises(RuntimeError):
        watch(lambda data, stat: None)
    watch.stop()


def test_retry_calls_again_after_a_connection_loss(zk: SyncClient) -> None:
    from roost.client import ConnectionLossError

    zk.create("/r", b"v")
    calls: list[str] = []

    def flaky(path: str) -> bytes | None:
        calls.append(threading.current_thread().name)
        if len(calls) < 3:
            raise ConnectionLossError()
        return zk.get(path)[0]

    assert zk.retry(flaky, "/r") == b"v"
    assert len(calls) == 3
    assert zk.retry(zk.get_children, "/") == ["r"]
    with pytest.raises(NoNodeError):  # not a retryable error: raised at once
        zk.retry(zk.get, "/missing")
