"""`/v1/roost/history/<path>`: blocking queries and server-sent events give the same
events as the wire stream: every change after the index, complete up to X-Consul-Index,
resumable with Last-Event-ID; a compacted index gives 410."""

from __future__ import annotations

import base64
import http.client
import json
import threading
from collections.abc import Iterator

import pytest
from conftest import Reply, Served, start_served

from roost.client import SyncClient
from roost.testing.wait import wait_until


@pytest.fixture(scope="module")
def hist_served() -> Iterator[Served]:
    yield from start_served(history_max_events=50)


def events_of(body: object) -> list[tuple[int, str, str, bytes | None]]:
    assert isinstance(body, list)
    return [(e["Index"], e["Type"], e["Path"],
             base64.b64decode(e["Data"]) if e["Data"] is not None else None) for e in body]


def test_blocking_query_returns_everything_after_the_index(hist_served: Served) -> None:
    with SyncClient(hist_served.server.hosts) as zk:
        start = hist_served.get("/v1/roost/history/bq")
        assert start.status == 200 and start.json() == []
        index = int(start.headers["X-Consul-Index"])
        zk.create("/bq", b"a")
        zk.create("/bq/x", b"b")
        zk.set("/bq", b"c")
        r = hist_served.get(f"/v1/roost/history/bq?index={index}&recurse&data")
        assert r.status == 200
        got = events_of(r.json())
        assert [(t, p, d) for _, t, p, d in got] == [
            ("created", "/bq", b"a"), ("created", "/bq/x", b"b"), ("changed", "/bq", b"c")]
        nxt = int(r.headers["X-Consul-Index"])
        assert nxt >= got[-1][0]  # (the server itself may have written elsewhere since)
        # a blocking call wakes up with the next change, and only it
        out: list[object] = []
        t = threading.Thread(target=lambda: out.append(
            hist_served.get(f"/v1/roost/history/bq?index={nxt}&recurse&wait=10s")))
        t.start()
        wait_until(lambda: hist_served.server.call(lambda s: s.streams.count()) == 1,
                   what="the blocking query's stream")
        zk.delete("/bq/x")
        t.join(15)
        reply = out[0]
        assert [(ty, p) for _, ty, p, _ in events_of(reply.json())] == [  # type: ignore[attr-defined]
            ("deleted", "/bq/x")]
        # nothing new: an empty answer after the wait, same index
        empty = hist_served.get(f"/v1/roost/history/bq?index={zk.aio.last_zxid}&wait=50ms")
        assert empty.json() == [] and int(empty.headers["X-Consul-Index"]) >= zk.aio.last_zxid


def test_compacted_index_is_410(hist_served: Served) -> None:
    with SyncClient(hist_served.server.hosts) as zk:
        zk.create("/cq", b"")
        for i in range(60):
            zk.set("/cq", str(i).encode())
        r = hist_served.get("/v1/roost/history/cq?index=1")
        assert r.status == 410
        body = r.json()
        assert isinstance(body, dict) and body["CompactedIndex"] > 1
        ok = hist_served.get(f"/v1/roost/history/cq?index={body['CompactedIndex']}&wait=0s")
        assert ok.status == 200 and len(ok.json()) > 0  # type: ignore[arg-type]


def read_sse(served: Served, path: str, headers: dict[str, str], n: int) -> list[dict]:
    """The first n `history` messages of an SSE stream (each: id, data)."""
    conn = http.client.HTTPConnection("127.0.0.1", served.http_port, timeout=10)
    conn.request("GET", path, headers={"Accept": "text/event-stream", **headers})
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    msgs: list[dict] = []
    cur: dict = {}
    while len(msgs) < n:
        raw = resp.readline()
        assert raw, f"stream ended after {msgs}"
        line = raw.decode().rstrip("\n")
        if not line:
            if cur.get("event") in ("history", "compacted"):
                msgs.append(cur)
            cur = {}
            continue
        if line.startswith(":"):
            continue
        key, _, value = line.partition(": ")
        cur[key] = value
    conn.close()
    return msgs


def test_sse_streams_and_resumes_with_last_event_id(hist_served: Served) -> None:
    with SyncClient(hist_served.server.hosts) as zk:
        zk.create("/sse", b"")
        since = zk.aio.last_zxid
        for i in range(6):
            zk.create(f"/sse{i}", str(i).encode())
        path = f"/v1/roost/history/?recurse&data&index={since}"
        first = read_sse(hist_served, path, {}, 3)
        assert [json.loads(m["data"])[0]["Path"] for m in first] == ["/sse0", "/sse1", "/sse2"]
        # a reconnecting EventSource sends the last id it saw: the stream goes on from there
        rest = read_sse(hist_served, path, {"Last-Event-ID": first[-1]["id"]}, 3)
        assert [json.loads(m["data"])[0]["Path"] for m in rest] == ["/sse3", "/sse4", "/sse5"]
        assert [int(m["id"]) for m in first + rest] == sorted(int(m["id"]) for m in first + rest)
        for _ in range(60):  # more than history_max_events
            zk.set("/sse0", b"")
        gone = read_sse(hist_served, "/v1/roost/history/?index=1", {}, 1)
        assert gone[0]["event"] == "compacted"


def test_a_snapshot_loaded_under_a_blocking_query() -> None:
    """An ensemble member that installs a leader's snapshot while a blocking query waits
    (done here by loading a history image on the server's loop): a history that reaches
    back to the query's point sends it the events it missed; one that starts later
    answers 410 with the new floor, never a silent gap."""
    from roost.server.history import EventHistory, HistoryEvent, encode
    from roost.wire.opcodes import EventType

    created = int(EventType.NODE_CREATED)
    gen = start_served()
    served = next(gen)
    try:
        server, loop = served.server.server, served.server._loop
        assert server is not None and loop is not None
        loaded: list[int] = []

        def answer(index: int, reaches: bool) -> Reply:
            """A blocking query from `index` that, once waiting, sees a snapshot's history
            loaded (one reaching back to what it has seen, or not)."""
            out: list[Reply] = []
            t = threading.Thread(target=lambda: out.append(
                served.get(f"/v1/roost/history/hq?index={index}&recurse&wait=20s")))
            t.start()
            wait_until(lambda: served.server.call(lambda s: s.streams.count()) == 1, 10,
                       what="the blocking query's stream")

            def load() -> None:  # on the server's loop: no txn slips in meanwhile
                seen = server.streams.history.last
                h = EventHistory(floor=seen if reaches else seen + 50)
                h.append(seen + 53, 0, [HistoryEvent(created, "/hq/a", None, ())])
                loaded.append(seen)
                server.streams.restore(encode(h, seen + 60), seen + 60)

            loop.call_soon_threadsafe(load)
            t.join(15)
            assert out, "no answer"
            return out[0]

        now = int(served.get("/v1/roost/history/hq").headers["X-Consul-Index"])
        reply = answer(now, reaches=True)
        assert reply.status == 200
        assert events_of(reply.json()) == [(loaded[0] + 53, "created", "/hq/a", None)]
        reply = answer(loaded[0] + 60, reaches=False)  # the loaded history's end
        assert reply.status == 410
        body = reply.json()
        assert isinstance(body, dict) and body["CompactedIndex"] == loaded[1] + 50
    finally:
        gen.close()
