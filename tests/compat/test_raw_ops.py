"""Raw-protocol tests for operations kazoo 2.11 cannot send, against both backends.

TTL and container nodes, persistent (recursive) watches, check/removeWatches,
getEphemerals, getAllChildrenNumber, whoAmI, multiRead and setWatches.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Callable

import pytest

from roost.testing.wait import wait_until
from roost.wire.errors import Err
from roost.wire.jute import Writer
from roost.wire.multi import MultiRequest, MultiResponse, OpResult
from roost.wire.opcodes import AddWatchMode, CreateMode, EventType, Op, WatcherType
from roost.wire.records import (
    ACL,
    AddWatchRequest,
    AuthPacket,
    CheckWatchesRequest,
    ClientInfo,
    Create2Response,
    CreateRequest,
    CreateTTLRequest,
    DeleteRequest,
    ExistsRequest,
    GetAllChildrenNumberRequest,
    GetAllChildrenNumberResponse,
    GetChildrenRequest,
    GetChildrenResponse,
    GetDataRequest,
    GetDataResponse,
    GetEphemeralsRequest,
    GetEphemeralsResponse,
    Id,
    MultiHeader,
    RemoveWatchesRequest,
    SetDataRequest,
    SetWatches,
    SetWatches2,
    WatcherEvent,
    WhoAmIResponse,
)

from .conftest import Backend
from .rawclient import RawClient, frame

pytestmark = pytest.mark.compat

OPEN = [ACL(31, Id("world", "anyone"))]
RawFactory = Callable[..., RawClient]
SYNC_CONNECTED = 3


def create(c: RawClient, path: str, data: bytes | None = b"", flags: int = 0) -> str:
    reply = c.request(Op.CREATE, CreateRequest(path, data, OPEN, flags))
    assert reply.err == 0, (path, reply.err)
    return path


def exists(c: RawClient, path: str, watch: bool = False) -> bool:
    reply = c.request(Op.EXISTS, ExistsRequest(path, watch))
    assert reply.err in (0, Err.NO_NODE)
    return reply.err == 0


def set_data(c: RawClient, path: str, data: bytes) -> None:
    assert c.request(Op.SET_DATA, SetDataRequest(path, data, -1)).err == 0


def delete(c: RawClient, path: str) -> None:
    assert c.request(Op.DELETE, DeleteRequest(path, -1)).err == 0


def ev(kind: int, path: str) -> WatcherEvent:
    return WatcherEvent(kind, SYNC_CONNECTED, path)


# --- TTL nodes ----------------------------------------------------------------------------


def create_ttl(c: RawClient, path: str, ttl: int, flags: int = CreateMode.PERSISTENT_WITH_TTL
               ) -> tuple[int, Create2Response | None]:
    reply = c.request(Op.CREATE_TTL, CreateTTLRequest(path, b"t", OPEN, flags, ttl))
    assert reply.record is None or isinstance(reply.record, Create2Response)
    return reply.err, reply.record


def test_ttl_node_expires_when_childless(raw: RawFactory, base: str) -> None:
    c = raw()
    err, rec = create_ttl(c, f"{base}/short", 200)
    assert err == 0
    assert rec is not None
    assert rec.path == f"{base}/short"
    assert rec.stat.ephemeralOwner == 0
    assert rec.stat.czxid == rec.stat.mzxid
    assert create_ttl(c, f"{base}/parent", 200)[0] == 0
    create(c, f"{base}/parent/kid")
    # the sweep runs every second (container check interval 1000 ms)
    wait_until(lambda: not exists(c, f"{base}/short"), timeout=15, what="TTL node removed")
    # the sweep that removed the childless node kept the one with a child
    assert exists(c, f"{base}/parent")
    delete(c, f"{base}/parent/kid")
    wait_until(lambda: not exists(c, f"{base}/parent"), timeout=15, what="emptied TTL node")


def test_ttl_sequential(raw: RawFactory, base: str) -> None:
    c = raw()
    err, rec = create_ttl(c, f"{base}/seq-", 60_000, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL)
    assert err == 0
    assert rec is not None
    assert rec.path == f"{base}/seq-0000000000"


@pytest.mark.parametrize("ttl", [0, -1, -1000])
def test_ttl_must_be_positive(raw: RawFactory, base: str, ttl: int) -> None:
    c = raw()
    assert create_ttl(c, f"{base}/bad", ttl)[0] == Err.BAD_ARGUMENTS
    assert not exists(c, f"{base}/bad")


def test_ttl_rejects_non_ttl_mode(raw: RawFactory, base: str) -> None:
    c = raw()
    assert create_ttl(c, f"{base}/bad", 1000, CreateMode.PERSISTENT)[0] == Err.BAD_ARGUMENTS
    # and a TTL mode through plain create is refused too
    reply = c.request(Op.CREATE, CreateRequest(f"{base}/bad", b"", OPEN, 5))
    assert reply.err == Err.BAD_ARGUMENTS


# --- containers ----------------------------------------------------------------------------


def create_container(c: RawClient, path: str) -> Create2Response:
    reply = c.request(Op.CREATE_CONTAINER, CreateRequest(path, b"c", OPEN, CreateMode.CONTAINER))
    assert reply.err == 0
    assert isinstance(reply.record, Create2Response)
    return reply.record


def test_container_removed_after_last_child(raw: RawFactory, base: str) -> None:
    c = raw()
    watcher = raw()
    rec = create_container(c, f"{base}/used")
    assert rec.path == f"{base}/used"
    assert rec.stat.ephemeralOwner == 0
    create_container(c, f"{base}/never-used")
    create(c, f"{base}/used/a")
    create(c, f"{base}/used/b")
    delete(c, f"{base}/used/a")
    assert exists(watcher, f"{base}/used", watch=True)
    delete(c, f"{base}/used/b")
    events = watcher.wait_events(1, timeout=15)
    assert events == [ev(EventType.NODE_DELETED, f"{base}/used")]
    assert not exists(c, f"{base}/used")
    # a container that never had a child stays
    assert exists(c, f"{base}/never-used")


def test_container_may_hold_children(raw: RawFactory, base: str) -> None:
    c = raw()
    create_container(c, f"{base}/box")
    create(c, f"{base}/box/kid")
    create(c, f"{base}/box/kid/grandkid")
    assert exists(c, f"{base}/box/kid/grandkid")


# --- persistent watches ------------------------------------------------------------------


def add_watch(c: RawClient, path: str, mode: int) -> None:
    reply = c.request(Op.ADD_WATCH, AddWatchRequest(path, mode))
    assert reply.err == 0
    assert len(reply.body) == 20  # header + ErrorResponse{0}


def test_persistent_watch(raw: RawFactory, base: str) -> None:
    w = raw()
    c = raw()
    p = f"{base}/p"
    add_watch(w, p, AddWatchMode.PERSISTENT)  # no existence check
    create(c, p)
    set_data(c, p, b"1")
    set_data(c, p, b"2")
    create(c, f"{p}/kid")
    create(c, f"{p}/kid/grandkid")  # not a direct child: nothing
    set_data(c, f"{p}/kid", b"x")  # a child's data: nothing
    delete(c, f"{p}/kid/grandkid")
    delete(c, f"{p}/kid")
    delete(c, p)
    w.ping()
    assert w.wait_events(6) == [
        ev(EventType.NODE_CREATED, p),
        ev(EventType.NODE_DATA_CHANGED, p),
        ev(EventType.NODE_DATA_CHANGED, p),
        ev(EventType.NODE_CHILDREN_CHANGED, p),
        ev(EventType.NODE_CHILDREN_CHANGED, p),
        ev(EventType.NODE_DELETED, p),
    ]
    w.ping()
    assert len(w.events) == 6
    # still registered after the node is gone
    create(c, p)
    assert w.wait_events(7)[-1] == ev(EventType.NODE_CREATED, p)


def test_persistent_recursive_watch(raw: RawFactory, base: str) -> None:
    w = raw()
    c = raw()
    r = f"{base}/r"
    create(c, r)
    add_watch(w, r, AddWatchMode.PERSISTENT_RECURSIVE)
    create(c, f"{r}/a")
    create(c, f"{r}/a/b")
    set_data(c, f"{r}/a/b", b"x")
    set_data(c, r, b"y")
    delete(c, f"{r}/a/b")
    create(c, f"{base}/outside")  # not below the watched path
    delete(c, f"{r}/a")
    w.ping()
    assert w.wait_events(6) == [
        ev(EventType.NODE_CREATED, f"{r}/a"),
        ev(EventType.NODE_CREATED, f"{r}/a/b"),
        ev(EventType.NODE_DATA_CHANGED, f"{r}/a/b"),
        ev(EventType.NODE_DATA_CHANGED, r),
        ev(EventType.NODE_DELETED, f"{r}/a/b"),
        ev(EventType.NODE_DELETED, f"{r}/a"),
    ]
    w.ping()
    assert all(e.type != EventType.NODE_CHILDREN_CHANGED for e in w.events)
    assert len(w.events) == 6


def test_persistent_watch_not_fired_for_own_path_prefix(raw: RawFactory, base: str) -> None:
    w = raw()
    c = raw()
    add_watch(w, f"{base}/ab", AddWatchMode.PERSISTENT_RECURSIVE)
    create(c, f"{base}/abc")  # shares a string prefix but is not a descendant
    create(c, f"{base}/ab")
    w.ping()
    assert w.wait_events(1) == [ev(EventType.NODE_CREATED, f"{base}/ab")]
    w.ping()
    assert len(w.events) == 1


# --- checkWatches / removeWatches ------------------------------------------------------


def test_check_and_remove_watches(raw: RawFactory, base: str) -> None:
    c = raw()
    p = create(c, f"{base}/w")
    check = CheckWatchesRequest
    assert c.request(Op.CHECK_WATCHES, check(p, WatcherType.DATA)).err == Err.NO_WATCHER
    assert c.request(Op.GET_DATA, GetDataRequest(p, True)).err == 0
    assert c.request(Op.CHECK_WATCHES, check(p, WatcherType.DATA)).err == 0
    assert c.request(Op.CHECK_WATCHES, check(p, WatcherType.ANY)).err == 0
    assert c.request(Op.CHECK_WATCHES, check(p, WatcherType.CHILDREN)).err == Err.NO_WATCHER
    remove = RemoveWatchesRequest
    assert c.request(Op.REMOVE_WATCHES, remove(p, WatcherType.CHILDREN)).err == Err.NO_WATCHER
    assert c.request(Op.REMOVE_WATCHES, remove(p, WatcherType.DATA)).err == 0
    assert c.request(Op.CHECK_WATCHES, check(p, WatcherType.DATA)).err == Err.NO_WATCHER
    set_data(c, p, b"x")  # our own notification would precede this reply
    assert c.events == []


def test_remove_child_watch_keeps_data_watch(raw: RawFactory, base: str) -> None:
    c = raw()
    p = create(c, f"{base}/w")
    assert c.request(Op.GET_DATA, GetDataRequest(p, True)).err == 0
    assert c.request(Op.GET_CHILDREN, GetChildrenRequest(p, True)).err == 0
    remove = RemoveWatchesRequest
    assert c.request(Op.REMOVE_WATCHES, remove(p, WatcherType.CHILDREN)).err == 0
    create(c, f"{p}/kid")
    set_data(c, p, b"x")
    assert c.events == [ev(EventType.NODE_DATA_CHANGED, p)]


def test_exist_watch_counts_as_data_watch(raw: RawFactory, base: str) -> None:
    c = raw()
    p = f"{base}/missing"
    assert not exists(c, p, watch=True)
    check = CheckWatchesRequest
    assert c.request(Op.CHECK_WATCHES, check(p, WatcherType.DATA)).err == 0
    assert c.request(Op.REMOVE_WATCHES, RemoveWatchesRequest(p, WatcherType.ANY)).err == 0
    create(c, p)
    assert c.events == []


# --- getEphemerals / getAllChildrenNumber / whoAmI -------------------------------------


def test_get_ephemerals(raw: RawFactory, base: str) -> None:
    c = raw()
    other = raw()
    create(c, f"{base}/e")
    create(c, f"{base}/e/a", flags=CreateMode.EPHEMERAL)
    create(c, f"{base}/e/b", flags=CreateMode.EPHEMERAL)
    create(c, f"{base}/f", flags=CreateMode.EPHEMERAL)
    create(other, f"{base}/e/theirs", flags=CreateMode.EPHEMERAL)
    reply = c.request(Op.GET_EPHEMERALS, GetEphemeralsRequest(f"{base}/e"))
    assert isinstance(reply.record, GetEphemeralsResponse)
    assert sorted(reply.record.ephemerals) == [f"{base}/e/a", f"{base}/e/b"]
    reply = c.request(Op.GET_EPHEMERALS, GetEphemeralsRequest(base))
    assert isinstance(reply.record, GetEphemeralsResponse)
    assert sorted(reply.record.ephemerals) == [f"{base}/e/a", f"{base}/e/b", f"{base}/f"]
    reply = c.request(Op.GET_EPHEMERALS, GetEphemeralsRequest("/"))
    assert isinstance(reply.record, GetEphemeralsResponse)
    assert sorted(reply.record.ephemerals) == [f"{base}/e/a", f"{base}/e/b", f"{base}/f"]


def test_get_all_children_number(raw: RawFactory, base: str) -> None:
    c = raw()
    create(c, f"{base}/t")
    for path in ("a", "a/x", "a/y", "b", "b/z", "b/z/deep"):
        create(c, f"{base}/t/{path}")
    reply = c.request(Op.GET_ALL_CHILDREN_NUMBER, GetAllChildrenNumberRequest(f"{base}/t"))
    assert isinstance(reply.record, GetAllChildrenNumberResponse)
    assert reply.record.totalNumber == 6
    reply = c.request(Op.GET_ALL_CHILDREN_NUMBER, GetAllChildrenNumberRequest(f"{base}/t/b/z"))
    assert isinstance(reply.record, GetAllChildrenNumberResponse)
    assert reply.record.totalNumber == 1
    missing = GetAllChildrenNumberRequest(f"{base}/nope")
    assert c.request(Op.GET_ALL_CHILDREN_NUMBER, missing).err == Err.NO_NODE


def test_who_am_i(raw: RawFactory) -> None:
    c = raw()
    reply = c.request(Op.WHO_AM_I)
    assert isinstance(reply.record, WhoAmIResponse)
    assert reply.record.clientInfo == [ClientInfo("ip", "127.0.0.1")]
    auth = c.request(Op.AUTH, AuthPacket(0, "digest", b"alice:pw"), xid=-4)
    assert (auth.xid, auth.zxid, auth.err, len(auth.body)) == (-4, 0, 0, 16)
    reply = c.request(Op.WHO_AM_I)
    assert isinstance(reply.record, WhoAmIResponse)
    assert sorted(reply.record.clientInfo, key=lambda i: i.authScheme) == [
        ClientInfo("digest", "alice"),
        ClientInfo("ip", "127.0.0.1"),
    ]


# --- multiRead ----------------------------------------------------------------------------


def test_multi_read(raw: RawFactory, base: str) -> None:
    c = raw()
    create(c, f"{base}/m", b"data")
    create(c, f"{base}/m/x")
    last = c.request(Op.EXISTS, ExistsRequest(f"{base}/m/x", False)).zxid
    req = MultiRequest(
        (
            (Op.GET_DATA, GetDataRequest(f"{base}/m", False)),
            (Op.GET_CHILDREN, GetChildrenRequest(f"{base}/missing", False)),
            (Op.GET_CHILDREN, GetChildrenRequest(f"{base}/m", False)),
        )
    )
    reply = c.request(Op.MULTI_READ, req)
    assert reply.err == 0
    assert reply.zxid == last  # a read consumes no zxid
    assert isinstance(reply.record, MultiResponse)
    first, second, third = reply.record.results
    assert first.type == Op.GET_DATA
    assert isinstance(first.record, GetDataResponse)
    assert first.record.data == b"data"
    assert first.record.stat.numChildren == 1
    assert second == OpResult.error(Err.NO_NODE)
    assert third.type == Op.GET_CHILDREN
    assert third.record == GetChildrenResponse(["x"])


# --- setWatches on reconnect ---------------------------------------------------------------


def test_set_watches_fires_missed_events(raw: RawFactory, base: str) -> None:
    c = raw()
    changed = create(c, f"{base}/changed")
    same = create(c, f"{base}/same")
    deleted = create(c, f"{base}/deleted")
    parent = create(c, f"{base}/parent")
    born = f"{base}/born"
    rel = c.request(Op.EXISTS, ExistsRequest(base, False)).zxid
    session, passwd = c.session_id, c.passwd
    c.close()  # the session survives the dropped connection
    writer = raw()
    set_data(writer, changed, b"new")
    delete(writer, deleted)
    create(writer, f"{parent}/kid")
    create(writer, born)
    back = raw(connect=False)
    resp = back.connect(session_id=session, passwd=passwd, last_zxid=rel)
    assert resp.sessionId == session
    sw = SetWatches(rel, [changed, same, deleted], [born, f"{base}/still-missing"], [parent, same])
    reply = back.request(Op.SET_WATCHES, sw)
    assert reply.err == 0
    assert len(reply.body) == 16
    back.ping()
    assert sorted(back.events, key=lambda e: e.path) == sorted(
        [
            ev(EventType.NODE_CREATED, born),
            ev(EventType.NODE_DATA_CHANGED, changed),
            ev(EventType.NODE_DELETED, deleted),
            ev(EventType.NODE_CHILDREN_CHANGED, parent),
        ],
        key=lambda e: e.path,
    )
    # unchanged paths were re-armed: later changes fire them once
    back.events.clear()
    set_data(writer, same, b"x")
    create(writer, f"{same}/kid")
    create(writer, f"{base}/still-missing")
    back.wait_events(3)
    back.ping()
    assert sorted(back.events, key=lambda e: e.path) == sorted(
        [
            ev(EventType.NODE_DATA_CHANGED, same),
            ev(EventType.NODE_CHILDREN_CHANGED, same),
            ev(EventType.NODE_CREATED, f"{base}/still-missing"),
        ],
        key=lambda e: e.path,
    )


# --- multi with every create flavour ----------------------------------------------------


def test_multi_create_result_types(raw: RawFactory, base: str, backend: Backend) -> None:
    c = raw()
    req = MultiRequest(
        (
            (Op.CREATE, CreateRequest(f"{base}/plain", b"", OPEN, 0)),
            (Op.CREATE2, CreateRequest(f"{base}/two", b"ab", OPEN, 0)),
            (Op.CREATE_CONTAINER, CreateRequest(f"{base}/box", b"", OPEN, CreateMode.CONTAINER)),
            (Op.CREATE_TTL, CreateTTLRequest(f"{base}/ttl", b"", OPEN, 5, 60_000)),
        )
    )
    reply = c.request(Op.MULTI, req)
    assert reply.err == 0
    assert isinstance(reply.record, MultiResponse)
    types = [r.type for r in reply.record.results]
    # Container and TTL creates get Create2Response (type 15). A create2 gets type 15 from
    # ZooKeeper 3.8.4 (roost's reference) but a plain create result (type 1) from Debian's
    # 3.8.0, which predates that fix; a plain create (type 1) is always answered as type 1.
    create2 = Op.CREATE if backend.is_zookeeper else Op.CREATE2
    assert types == [Op.CREATE, create2, Op.CREATE2, Op.CREATE2]
    paths = [getattr(r.record, "path", None) for r in reply.record.results]
    assert paths == [f"{base}/plain", f"{base}/two", f"{base}/box", f"{base}/ttl"]
    box, ttl = reply.record.results[2].record, reply.record.results[3].record
    assert isinstance(box, Create2Response)
    assert isinstance(ttl, Create2Response)
    assert box.stat.czxid == ttl.stat.czxid == reply.zxid


def test_empty_multi(raw: RawFactory) -> None:
    c = raw()
    reply = c.request(Op.MULTI, MultiRequest(()))
    assert reply.err == 0
    assert reply.body[16:] == b"\xff\xff\xff\xff\x01\xff\xff\xff\xff"  # just the end marker


def test_multi_mixing_reads_and_writes_is_rejected(raw: RawFactory, base: str) -> None:
    c = raw()
    w = Writer()
    MultiHeader(Op.CREATE, False, -1).write(w)
    CreateRequest(f"{base}/mixed", b"", OPEN, 0).write(w)
    MultiHeader(Op.GET_DATA, False, -1).write(w)
    GetDataRequest(base, False).write(w)
    MultiHeader(-1, True, -1).write(w)
    c.send_bytes(frame(struct.pack(">ii", 50, Op.MULTI) + w.getvalue()))
    reply = c.read_reply(Op.MULTI, expect_xid=50)
    assert reply.err == Err.MARSHALLING_ERROR
    assert len(reply.body) == 16
    assert not exists(c, f"{base}/mixed")


# --- watches respect READ permission ---------------------------------------------------------


def test_watch_events_need_read_permission(raw: RawFactory, base: str) -> None:
    owner = raw()
    auth = owner.request(Op.AUTH, AuthPacket(0, "digest", b"wendy:pw"), xid=-4)
    assert auth.err == 0
    digest = "wendy:" + base64.b64encode(hashlib.sha1(b"wendy:pw").digest()).decode()
    path = f"{base}/secret"
    reply = owner.request(Op.CREATE, CreateRequest(path, b"", [ACL(31, Id("digest", digest))], 0))
    assert reply.err == 0
    stranger = raw()
    friend = raw()
    assert friend.request(Op.AUTH, AuthPacket(0, "digest", b"wendy:pw"), xid=-4).err == 0
    assert exists(stranger, path, watch=True)  # exists needs no permission
    assert exists(friend, path, watch=True)
    set_data(owner, path, b"changed")
    assert friend.wait_events(1) == [ev(EventType.NODE_DATA_CHANGED, path)]
    stranger.ping()
    assert stranger.events == []


# --- watch lifetimes -------------------------------------------------------------------------


def test_set_watches2_readds_persistent_watches(raw: RawFactory, base: str) -> None:
    c = raw()
    x = create(c, f"{base}/x")
    rel = c.last_zxid
    session, passwd = c.session_id, c.passwd
    c.close()
    writer = raw()
    create(writer, f"{x}/missed")  # persistent watches fire nothing for the past
    back = raw(connect=False)
    assert back.connect(session_id=session, passwd=passwd, last_zxid=rel).sessionId == session
    reply = back.request(Op.SET_WATCHES2, SetWatches2(rel, [], [], [], [x], [x]))
    assert (reply.err, len(reply.body)) == (0, 16)
    back.ping()
    assert back.events == []
    create(writer, f"{x}/missed/deep")
    set_data(writer, x, b"1")
    assert back.wait_events(2) == [
        ev(EventType.NODE_CREATED, f"{x}/missed/deep"),
        ev(EventType.NODE_DATA_CHANGED, x),
    ]


def test_remove_persistent_watch(raw: RawFactory, base: str) -> None:
    w = raw()
    c = raw()
    p = create(c, f"{base}/p")
    add_watch(w, p, AddWatchMode.PERSISTENT_RECURSIVE)
    assert w.request(Op.CHECK_WATCHES, CheckWatchesRequest(p, WatcherType.ANY)).err == 0
    create(c, f"{p}/one")
    assert w.wait_events(1) == [ev(EventType.NODE_CREATED, f"{p}/one")]
    assert w.request(Op.REMOVE_WATCHES, RemoveWatchesRequest(p, WatcherType.ANY)).err == 0
    create(c, f"{p}/two")
    set_data(c, p, b"x")
    w.ping()
    assert len(w.events) == 1


def test_watches_belong_to_the_connection(raw: RawFactory, base: str) -> None:
    c = raw()
    p = create(c, f"{base}/w")
    assert c.request(Op.GET_DATA, GetDataRequest(p, True)).err == 0
    add_watch(c, p, AddWatchMode.PERSISTENT)
    session, passwd, last = c.session_id, c.passwd, c.last_zxid
    c.close()
    back = raw(connect=False)
    assert back.connect(session_id=session, passwd=passwd, last_zxid=last).sessionId == session
    writer = raw()
    set_data(writer, p, b"x")
    create(writer, f"{p}/kid")
    back.ping()
    assert back.events == []  # the old connection's watches went with it


def test_failed_reads_leave_no_watch(raw: RawFactory, base: str) -> None:
    c = raw()
    p = f"{base}/later"
    assert c.request(Op.GET_DATA, GetDataRequest(p, True)).err == Err.NO_NODE
    assert c.request(Op.GET_CHILDREN, GetChildrenRequest(p, True)).err == Err.NO_NODE
    assert c.request(Op.CHECK_WATCHES, CheckWatchesRequest(p, WatcherType.ANY)).err == (
        Err.NO_WATCHER
    )
    create(c, p)
    create(c, f"{p}/kid")
    assert c.events == []
