"""The dashboard's page and JSON endpoints through plain HTTP (standalone server)."""

from __future__ import annotations

import base64
import json

from conftest import Served
from kazoo.client import KazooClient
from kazoo.security import make_digest_acl

from roost.testing.wait import wait_until


def test_page_and_static_files(served: Served) -> None:
    page = served.get("/ui")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert b"/ui/static/app.js" in page.body and b'id="members"' in page.body
    js = served.get("/ui/static/app.js")
    assert js.status == 200 and b"/ui/api/cluster" in js.body
    assert served.get("/ui/static/style.css").status == 200
    assert served.get("/ui/static/../../etc/passwd").status == 404
    assert served.get("/ui/static/secret.py").status == 404


def test_cluster_view_of_a_standalone_server(served: Served) -> None:
    c = served.get("/ui/api/cluster").json()
    assert isinstance(c, dict)
    assert c["mode"] == "standalone" and c["ready"] is True
    assert [m["role"] for m in c["members"]] == ["standalone"]
    assert c["znodes"] >= 4 and c["last_zxid"] == c["applied"]


def test_browse_create_set_delete(served: Served, prefix: str) -> None:
    base = "/ui-" + prefix.rstrip("/")

    def node(path: str) -> dict[str, object]:
        r = served.get(f"/ui/api/node?path={path}")
        assert r.status == 200, r.body
        out = r.json()
        assert isinstance(out, dict)
        return out

    assert served.post(f"/ui/api/node?path={base}", json.dumps({"data": "one"}).encode()
                       ).status == 200
    got = node(base)
    assert base64.b64decode(str(got["data"])) == b"one"
    stat = got["stat"]
    assert isinstance(stat, dict) and stat["version"] == 0
    assert got["acl"] == [{"perms": "cdrwa", "scheme": "world", "id": "anyone"}]
    assert served.post(f"/ui/api/node?path={base}", b'{"data": ""}').status == 409
    body = json.dumps({"data": "two", "version": 5}).encode()
    r = served.put(f"/ui/api/node?path={base}", body)
    assert r.status == 409 and r.json() == {"ok": False, "error": "BAD_VERSION"}
    body = json.dumps({"data": "two", "version": 0}).encode()
    assert served.put(f"/ui/api/node?path={base}", body).status == 200
    assert base64.b64decode(str(node(base)["data"])) == b"two"
    served.post(f"/ui/api/node?path={base}/kid", b"{}")
    assert node(base)["children"] == ["kid"]
    assert served.delete(f"/ui/api/node?path={base}").status == 409  # NOT_EMPTY
    assert served.delete(f"/ui/api/node?path={base}/kid&version=0").status == 200
    assert served.delete(f"/ui/api/node?path={base}").status == 200
    assert served.get(f"/ui/api/node?path={base}").status == 404
    assert served.get("/ui/api/node?path=relative").status == 400


def test_acl_is_honoured_and_digests_masked(served: Served, prefix: str) -> None:
    path = "/ui-acl-" + prefix.rstrip("/")
    zk = KazooClient(hosts=served.server.hosts)
    zk.start(timeout=10)
    try:
        zk.create(path, b"hidden", acl=[make_digest_acl("carol", "pw", all=True)])
    finally:
        zk.stop()
        zk.close()
    anon = served.get(f"/ui/api/node?path={path}").json()
    assert isinstance(anon, dict) and anon["data"] is None and anon["readable"] is False
    assert anon["acl"] == [{"perms": "cdrwa", "scheme": "digest", "id": "carol:x"}]
    carol = served.get(f"/ui/api/node?path={path}", headers={"X-Consul-Token": "carol:pw"})
    got = carol.json()
    assert isinstance(got, dict) and base64.b64decode(str(got["data"])) == b"hidden"
    r = served.put(f"/ui/api/node?path={path}", b'{"data": "x"}')
    assert r.status == 403


def test_sessions_watches_and_event_feed(served: Served, prefix: str) -> None:
    seq = served.get("/ui/api/events").json()
    assert isinstance(seq, dict)
    start = int(seq["seq"])
    path = "/ui-feed-" + prefix.rstrip("/")
    zk = KazooClient(hosts=served.server.hosts)
    zk.start(timeout=10)
    try:
        zk.create(path, b"")
        eph = zk.create(path + "/eph", b"", ephemeral=True)
        zk.get(path, watch=lambda ev: None)
        sid = f"0x{zk.client_id[0] & 0xFFFFFFFFFFFFFFFF:x}"
        sessions = served.get("/ui/api/sessions").json()
        assert isinstance(sessions, list)
        mine = [s for s in sessions if s["id"] == sid]
        assert mine and mine[0]["ephemerals"] == [eph]
        assert mine[0]["watches"] == {"data": [path]}
        assert mine[0]["client"].startswith("127.0.0.1:")
        watches = served.get("/ui/api/watches").json()
        assert isinstance(watches, list)
        assert {"path": path, "watchers": 1, "sessions": [sid]} in watches
        # the HTTP API's own watches (the event feed on "/", the KV and session roots) are
        # not a user's
        assert served.server.server is not None
        assert served.server.server.watches.count() >= 4
        assert [w for w in watches if w["path"] in ("/", "/kv", "/consul/sessions")] == []
        zk.delete(path + "/eph")
    finally:
        zk.stop()
        zk.close()

    def feed() -> list[tuple[str, str]]:
        out = served.get(f"/ui/api/events?after={start}").json()
        assert isinstance(out, dict)
        return [(str(e["kind"]), str(e["detail"])) for e in out["events"]]

    wait_until(lambda: ("session closed", sid) in feed(), what="the session's close")
    events = feed()
    assert ("created", path) in events and ("deleted", path + "/eph") in events
    assert events.index(("created", path)) < events.index(("deleted", path + "/eph"))
    assert ("session created", sid) in events
