"""Session liveness over the raw protocol, against both backends: real timeouts, pings."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from roost.wire.errors import Err
from roost.wire.opcodes import CreateMode, EventType, Op
from roost.wire.records import ACL, CreateRequest, ExistsRequest, Id, WatcherEvent

from .rawclient import RawClient

pytestmark = pytest.mark.compat

OPEN = [ACL(31, Id("world", "anyone"))]
RawFactory = Callable[..., RawClient]
#: the smallest timeout a tickTime of 2000 ms allows
MIN_TIMEOUT_MS = 4000


def test_silent_session_expires_and_pinging_session_lives(raw: RawFactory, base: str) -> None:
    silent = raw(timeout_ms=MIN_TIMEOUT_MS)
    pinger = raw(timeout_ms=MIN_TIMEOUT_MS)
    reader = raw(timeout_ms=MIN_TIMEOUT_MS)  # reads touch the session like pings
    watcher = raw()
    assert silent.negotiated_timeout == pinger.negotiated_timeout == MIN_TIMEOUT_MS
    for client, name in ((silent, "silent"), (pinger, "pinger"), (reader, "reader")):
        reply = client.request(
            Op.CREATE, CreateRequest(f"{base}/{name}", b"", OPEN, CreateMode.EPHEMERAL)
        )
        assert reply.err == 0
    assert watcher.request(Op.EXISTS, ExistsRequest(f"{base}/silent", True)).err == 0
    started = time.monotonic()
    # keep two sessions alive (pings, reads) every second while the third says nothing;
    # ZooKeeper expires a session between timeout and timeout + tickTime
    while not watcher.events:
        assert time.monotonic() - started < 15, "the silent session never expired"
        pinger.ping()
        assert reader.request(Op.EXISTS, ExistsRequest(f"{base}/reader", False)).err == 0
        try:
            watcher.wait_events(1, timeout=1.0)
        except AssertionError:
            continue
    elapsed = time.monotonic() - started
    assert watcher.events == [WatcherEvent(EventType.NODE_DELETED, 3, f"{base}/silent")]
    assert elapsed >= MIN_TIMEOUT_MS / 1000 - 0.5
    # the expired session's connection is closed; reattaching is refused
    silent.wait_closed()
    again = raw(connect=False)
    assert again.connect(session_id=silent.session_id, passwd=silent.passwd).timeOut == 0
    # the pinging session is untouched
    for client, name in ((pinger, "pinger"), (reader, "reader")):
        reply = client.request(Op.EXISTS, ExistsRequest(f"{base}/{name}", False))
        assert reply.err == 0
    reply = watcher.request(Op.EXISTS, ExistsRequest(f"{base}/silent", False))
    assert reply.err == Err.NO_NODE
