"""kazoo against both backends: one-shot data, exist and child watches."""

from __future__ import annotations

import itertools

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError
from kazoo.protocol.states import EventType, WatchedEvent

from .conftest import ClientFactory
from .helpers import Collector

pytestmark = pytest.mark.compat

_markers = itertools.count()


def flush(zk: KazooClient) -> None:
    """Barrier: once a fresh watch on a marker fires, every earlier event was delivered.

    Notifications on one connection arrive in order and kazoo dispatches them in order,
    so anything a test did before this call has produced all its events by the end.
    """
    marker = Collector()
    path = f"/marker-{next(_markers)}"
    zk.exists(path, watch=marker)
    zk.create(path, b"")
    marker.wait_for(1)
    zk.delete(path)


def kinds(events: list[WatchedEvent]) -> list[tuple[str, str]]:
    return [(e.type, e.path) for e in events]


def test_data_watch_fires_once(zk: KazooClient) -> None:
    zk.create("/d", b"1")
    seen = Collector()
    zk.get("/d", watch=seen)
    zk.set("/d", b"2")
    seen.wait_for(1)
    zk.set("/d", b"3")
    flush(zk)
    assert kinds(seen.items) == [(EventType.CHANGED, "/d")]


def test_data_watch_on_delete(zk: KazooClient) -> None:
    zk.create("/d", b"")
    seen = Collector()
    zk.get("/d", watch=seen)
    zk.delete("/d")
    seen.wait_for(1)
    flush(zk)
    assert kinds(seen.items) == [(EventType.DELETED, "/d")]


def test_exists_watch_on_missing_node(zk: KazooClient) -> None:
    seen = Collector()
    assert zk.exists("/later", watch=seen) is None
    zk.create("/later", b"")
    seen.wait_for(1)
    zk.set("/later", b"x")
    zk.delete("/later")
    flush(zk)
    assert kinds(seen.items) == [(EventType.CREATED, "/later")]


def test_exists_watch_on_existing_node(zk: KazooClient) -> None:
    zk.create("/e", b"")
    changed = Collector()
    zk.exists("/e", watch=changed)
    zk.set("/e", b"x")
    deleted = Collector()
    changed.wait_for(1)
    zk.exists("/e", watch=deleted)
    zk.delete("/e")
    deleted.wait_for(1)
    flush(zk)
    assert kinds(changed.items) == [(EventType.CHANGED, "/e")]
    assert kinds(deleted.items) == [(EventType.DELETED, "/e")]


def test_child_watch_on_create_and_delete(zk: KazooClient) -> None:
    zk.create("/c", b"")
    created = Collector()
    assert zk.get_children("/c", watch=created) == []
    zk.create("/c/x", b"")
    created.wait_for(1)
    zk.create("/c/y", b"")  # the watch is gone: no second event
    removed = Collector()
    assert sorted(zk.get_children("/c", watch=removed)) == ["x", "y"]
    zk.set("/c/x", b"data")  # data changes of a child do not fire child watches
    zk.delete("/c/x")
    removed.wait_for(1)
    flush(zk)
    assert kinds(created.items) == [(EventType.CHILD, "/c")]
    assert kinds(removed.items) == [(EventType.CHILD, "/c")]


def test_child_watch_sees_node_deleted(zk: KazooClient) -> None:
    zk.create("/gone", b"")
    seen = Collector()
    zk.get_children("/gone", watch=seen)
    zk.delete("/gone")
    seen.wait_for(1)
    flush(zk)
    assert kinds(seen.items) == [(EventType.DELETED, "/gone")]


def test_watch_on_other_client(make_client: ClientFactory) -> None:
    writer = make_client()
    watcher = make_client()
    writer.create("/shared", b"")
    seen = Collector()
    watcher.get("/shared", watch=seen)
    child = Collector()
    watcher.get_children("/shared", watch=child)
    writer.set("/shared", b"new")
    writer.create("/shared/kid", b"")
    seen.wait_for(1)
    child.wait_for(1)
    flush(watcher)
    assert kinds(seen.items) == [(EventType.CHANGED, "/shared")]
    assert kinds(child.items) == [(EventType.CHILD, "/shared")]


def test_failed_write_fires_nothing(zk: KazooClient) -> None:
    zk.create("/f", b"")
    seen = Collector()
    zk.get("/f", watch=seen)
    with pytest.raises(BadVersionError):
        zk.set("/f", b"x", version=7)
    flush(zk)
    assert seen.items == []
    zk.set("/f", b"x")
    seen.wait_for(1)
    assert kinds(seen.items) == [(EventType.CHANGED, "/f")]


def test_same_callback_registered_twice_fires_once_per_trigger(zk: KazooClient) -> None:
    zk.create("/twice", b"")
    seen = Collector()
    zk.get("/twice", watch=seen)
    zk.exists("/twice", watch=seen)
    zk.set("/twice", b"x")
    seen.wait_for(1)
    flush(zk)
    # one server-side data watch per connection; kazoo dedupes the same callable
    assert kinds(seen.items) == [(EventType.CHANGED, "/twice")]


def test_ephemeral_delete_fires_watch_for_other_client(make_client: ClientFactory) -> None:
    owner = make_client()
    watcher = make_client()
    owner.create("/eph", b"", ephemeral=True)
    seen = Collector()
    watcher.exists("/eph", watch=seen)
    parent = Collector()
    watcher.get_children("/", watch=parent)
    owner.stop()
    seen.wait_for(1)
    parent.wait_for(1)
    assert kinds(seen.items) == [(EventType.DELETED, "/eph")]
    assert kinds(parent.items) == [(EventType.CHILD, "/")]
    assert watcher.exists("/eph") is None


def test_watch_fan_out(make_client: ClientFactory) -> None:
    writer = make_client()
    writer.create("/fan", b"")
    watchers = [make_client() for _ in range(4)]
    seen = [Collector() for _ in watchers]
    for client, collector in zip(watchers, seen, strict=True):
        client.get("/fan", watch=collector)
    writer.set("/fan", b"go")
    for client, collector in zip(watchers, seen, strict=True):
        collector.wait_for(1)
        flush(client)
        assert kinds(collector.items) == [(EventType.CHANGED, "/fan")]
