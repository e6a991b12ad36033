"""The official ZooKeeper Java client (Debian's 3.8 jars) against roost and ZooKeeper.

The scenarios live in java/*.java; each prints one line per observation, in a form that
does not depend on zxids, clocks or session ids ("~" is the scenario's base path,
"session#N" the N-th session it opened, Stat as v/cv/av/len/kids/owner). Each test
compares one scenario's lines with what ZooKeeper 3.8 does.
"""

from __future__ import annotations

import base64
import hashlib

import pytest

from .conftest import Transcripts

pytestmark = pytest.mark.compat

STAT0 = "v=0 cv=0 av=0 len=0 kids=0 owner=0"


def digest_id(user: str, password: str) -> str:
    """The id ZooKeeper's digest scheme stores for user:password."""
    raw = hashlib.sha1(f"{user}:{password}".encode()).digest()
    return f"{user}:{base64.b64encode(raw).decode()}"


def test_crud_versions_and_stat(java_transcripts: Transcripts) -> None:
    assert java_transcripts["crud"] == [
        "create: ok ~/a",
        "create2: ok v=0 cv=0 av=0 len=4 kids=0 owner=0",
        "create2 czxid==mzxid==pzxid: true",
        "create2 ctime==mtime: true",
        "parent: v=0 cv=1 av=0 len=5 kids=1 owner=0",
        "parent pzxid==child czxid: true",
        "parent mzxid<child czxid: true",
        "get: ok 'beta'",
        "get stat equals create2 stat: true",
        "set v0: v=1 cv=0 av=0 len=5 kids=0 owner=0",
        "set mzxid>czxid: true",
        "set mtime>=ctime: true",
        "set pzxid unchanged: true",
        "set stale version: err BADVERSION",
        "set same data any version: ok v=2 cv=0 av=0 len=5 kids=0 owner=0",
        "get after sets: ok 'gamma'",
        "create existing: err NODEEXISTS",
        "create under missing parent: err NONODE",
        "get missing: err NONODE",
        "exists missing: ok null",
        "set missing: err NONODE",
        "children missing: err NONODE",
        "acl missing: err NONODE",
        "delete missing: err NONODE",
        "delete non-empty: err NOTEMPTY",
        "create null data: ok ~/a/null",
        "get null data: ok null",
        f"stat null data: ok {STAT0}",
        "create empty data: ok ~/a/empty",
        "get empty data: ok ''",
        "binary round trip: true",
        "500 kB round trip: true",
        "create unicode name: ok ~/a/\u00fcn\u00ef-\u2603",
        "children: ok [b, big, bin, empty, null, \u00fcn\u00ef-\u2603]",
        "children stat: v=0 cv=6 av=0 len=5 kids=6 owner=0",
        "acl: ok [31 world:anyone]",
        "set acl: ok v=0 cv=0 av=1 len=0 kids=0 owner=0",
        # the node is now read-only, so even the (stale) setACL lacks ADMIN
        "set acl stale version: err NOAUTH",
        "acl after set: ok [1 world:anyone]",
        "set data on read-only: err NOAUTH",
        "read read-only: ok null",
        "delete stale version: err BADVERSION",
        "delete right version: ok deleted",
        "parent after delete: ok v=0 cv=7 av=0 len=5 kids=5 owner=0",
    ]


def test_sequential_and_ephemeral(java_transcripts: Transcripts) -> None:
    assert java_transcripts["seq_eph"] == [
        "seq 1: ok ~/s-0000000000",
        "seq 2: ok ~/s-0000000001",
        "ephemeral: ok v=0 cv=0 av=0 len=3 kids=0 owner=session#0",
        "ephemeral seq: ok ~/es-0000000003",
        "child of ephemeral: err NOCHILDRENFOREPHEMERALS",
        "delete seq 1: ok deleted",
        # the counter is the parent's cversion, which the delete bumped too
        "seq after delete: ok ~/s-0000000004",
        "parent for bare seq: ok ~/e2",
        "seq with trailing slash: ok ~/e2/0000000000",
        "other sees: ok [e, e2, es-0000000003, s-0000000001, s-0000000004]",
        "other sees ephemeral: ok v=0 cv=0 av=0 len=3 kids=0 owner=session#0",
        "after close: ok [e2, s-0000000001, s-0000000004]",
        "ephemeral after close: ok null",
    ]


def test_one_shot_watches(java_transcripts: Transcripts) -> None:
    assert java_transcripts["watches"] == [
        "data watch, two sets: [data NodeDataChanged ~/node]",
        "exists watch on missing: ok null",
        "create under watches: [exists NodeCreated ~/fresh, child NodeChildrenChanged ~]",
        "failed set: err BADVERSION",
        "after failed set: []",
        "after set: [data NodeDataChanged ~/fresh]",
        "delete with watches: [child NodeDeleted ~/node, data NodeDeleted ~/node, "
        "exists NodeDeleted ~/node, parent NodeChildrenChanged ~]",
        "default watcher: [default NodeDataChanged ~/fresh]",
        "child watch ignores data change: []",
        "child watch ignores grandchild: []",
        "delete child: [child NodeChildrenChanged ~]",
    ]


def test_multi(java_transcripts: Transcripts) -> None:
    assert java_transcripts["multi"] == [
        "multi: [create ~/a, create ~/b, setData v=1 cv=0 av=0 len=1 kids=0 owner=0, check, "
        "delete, create ~/s-0000000002]",
        "a after multi: ok v=1 cv=0 av=0 len=1 kids=0 owner=0",
        "b after multi: ok null",
        "failing multi missing node: err NONODE path null",
        "failing multi missing node results: [error OK, error NONODE, error RUNTIMEINCONSISTENCY]",
        "c after failed multi: ok null",
        "failing multi check version: err BADVERSION path null",
        "failing multi check version results: [error BADVERSION, error RUNTIMEINCONSISTENCY]",
        "failing multi create twice: err NODEEXISTS path null",
        "failing multi create twice results: [error OK, error NODEEXISTS]",
        "e after failed multi: ok null",
        "multi building on itself: [create ~/tree, create ~/tree/leaf, delete, "
        "create ~/tree/q-0000000001, create ~/ttl, create ~/box]",
        # clients see ephemeralOwner 0 for TTL nodes and containers
        f"ttl made in multi: ok {STAT0}",
        f"container made in multi: ok {STAT0}",
        "transaction: ok [check, setData v=2 cv=0 av=0 len=1 kids=0 owner=0]",
        "read multi: [getData '3' v=2 cv=0 av=0 len=1 kids=0 owner=0, "
        "getChildren [a, box, s-0000000002, tree, ttl], error NONODE]",
    ]


def test_chroot(java_transcripts: Transcripts) -> None:
    assert java_transcripts["chroot"] == [
        "create: ok /a",
        "create seq: ok /s-0000000001",
        "unchrooted view: ok '1'",
        "children of /: ok [a, s-0000000001]",
        "stat of /: ok v=0 cv=2 av=0 len=0 kids=2 owner=0",
        "events: [exists NodeCreated /w, child NodeChildrenChanged /]",
        # the Java 3.8 client leaves the chroot on multi results and getEphemerals paths,
        # and sends the getEphemerals prefix without it (so "/e" matches nothing)
        "multi: ok [create ~/m, create ~/m/s-0000000000]",
        "ephemeral: ok /e",
        "getEphemerals /: ok [~/e]",
        "getEphemerals /e: ok []",
        "all children number /: ok 6",
        "sync: ok rc OK path /a",
    ]


def test_events_need_read_permission(java_transcripts: Transcripts) -> None:
    # a triggered watch whose connection may not READ the node is used up without an event
    assert java_transcripts["watch_acl"] == [
        "lock the node: ok v=0 cv=1 av=1 len=4 kids=1 owner=0",
        "after setACL: []",
        "changes the watcher may not read: []",
        "were the watches used up: []",
        "after delete: []",
    ]


def test_persistent_and_recursive_watches(java_transcripts: Transcripts) -> None:
    assert java_transcripts["addwatch"] == [
        "persistent: [persistent NodeDataChanged ~/p, persistent NodeDataChanged ~/p, "
        "persistent NodeChildrenChanged ~/p, persistent NodeChildrenChanged ~/p]",
        "recursive: [recursive NodeCreated ~/r/a, recursive NodeCreated ~/r/a/b, "
        "recursive NodeDataChanged ~/r/a/b, recursive NodeDeleted ~/r/a/b, "
        "recursive NodeDataChanged ~/r, recursive NodeDeleted ~/r/a]",
        "on a missing path: [later NodeCreated ~/later, later NodeDataChanged ~/later, "
        "later NodeDeleted ~/later, later NodeCreated ~/later]",
        "default watcher: [default NodeCreated ~/d, default NodeCreated ~/d/e]",
        "remove persistent: ok removed",
        "after remove persistent: [persistent PersistentWatchRemoved ~/p]",
        "remove all on recursive: ok removed",
        "after remove all: [recursive PersistentWatchRemoved ~/r]",
        "one-shot and recursive on one path: "
        "[oneshot NodeDataChanged ~/both, recursive NodeDataChanged ~/both]",
    ]


def test_remove_watches(java_transcripts: Transcripts) -> None:
    assert java_transcripts["removewatches"] == [
        "remove data watch: ok removed",
        "after remove: [data DataWatchRemoved ~/n]",
        "after changes: [child NodeChildrenChanged ~/n]",
        "remove data watch again: err NOWATCHER",
        "remove fired child watch: err NOWATCHER",
        # removing one of two watchers is only a checkWatches: the server keeps the watch
        "remove one of two: ok removed",
        "the other still fires: [w1 DataWatchRemoved ~/n2, w2 NodeDataChanged ~/n2]",
        "remove all: ok removed",
        "after remove all: [c2 ChildWatchRemoved ~/n, d2 DataWatchRemoved ~/n, "
        "e2 DataWatchRemoved ~/n]",
        "after changes: []",
        "remove all again: err NOWATCHER",
        "remove all children watches: ok removed",
        "after remove children: [c3 ChildWatchRemoved ~/n]",
        "data watch kept: [d3 NodeDataChanged ~/n]",
        "remove on missing path: err NOWATCHER",
    ]


def test_ttl_and_container_nodes(java_transcripts: Transcripts) -> None:
    assert java_transcripts["ttl_container"] == [
        "ttl create: ok v=0 cv=0 av=0 len=1 kids=0 owner=0",
        "ttl stat: ok v=0 cv=0 av=0 len=1 kids=0 owner=0",
        "ttl sequential: ok ~/ttls-0000000002",
        f"container create: ok {STAT0}",
        "container with child: ok v=0 cv=1 av=0 len=0 kids=1 owner=0",
        "not reaped: []",
        "ttl node with a child: ok true",
        "never-used container: ok true",
        "children left: ok [keep, unused]",
    ]


def test_get_ephemerals_and_all_children_number(java_transcripts: Transcripts) -> None:
    assert java_transcripts["ephemerals"] == [
        "getEphemerals base: ok [~/e2, ~/s-0000000002, ~/x/e1]",
        "getEphemerals x: ok [~/x/e1]",
        # a plain string prefix, not a path prefix
        "getEphemerals string prefix: ok [~/e2]",
        "getEphemerals no prefix: ok [~/e2, ~/s-0000000002, ~/x/e1]",
        "getEphemerals /: ok [~/e2, ~/s-0000000002, ~/x/e1]",
        "getEphemerals other session: ok [~/other]",
        "getEphemerals nothing: ok []",
        "all children number base: ok 5",
        "all children number x: ok 1",
        "all children number leaf: ok 0",
        "all children number missing: err NONODE",
    ]


def test_who_am_i(java_transcripts: Transcripts) -> None:
    assert java_transcripts["whoami"] == [
        "anonymous: ok [ip:127.0.0.1]",
        "digest: ok [digest:alice, ip:127.0.0.1]",
        "two digests: ok [digest:alice, digest:bob, ip:127.0.0.1]",
        "super: ok [digest:super, ip:127.0.0.1, super:]",
    ]


def test_digest_auth_and_acls(java_transcripts: Transcripts) -> None:
    assert java_transcripts["auth_acl"] == [
        "create creator-all: ok ~/priv",
        f"acl of creator-all: ok [31 digest:{digest_id('alice', 'secret')}]",
        "anon get: err NOAUTH",
        "anon set: err NOAUTH",
        "anon children: err NOAUTH",
        "anon exists: ok v=0 cv=0 av=0 len=1 kids=0 owner=0",
        "anon get acl: err NOAUTH",
        "anon create child: err NOAUTH",
        "wrong password get: err NOAUTH",
        "second alice session get: ok 'p'",
        "super get: ok 'p'",
        "creator-all without auth: err INVALIDACL",
        "empty acl: err INVALIDACL",
        "unknown scheme acl: err INVALIDACL",
        "bad ip acl: err INVALIDACL",
        "create read-only: ok ~/ro",
        "nobody reads read-only: ok 'r'",
        "nobody writes read-only: err NOAUTH",
        "alice sets acl on read-only: err NOAUTH",
        "super sets acl on read-only: ok v=0 cv=0 av=1 len=1 kids=0 owner=0",
        "super sets acl stale version: err BADVERSION",
        "nobody writes after: ok v=1 cv=0 av=1 len=1 kids=0 owner=0",
        "ip 127.0.0.1 read: ok 'l'",
        "ip 127.0.0.0/8 read: ok 'n'",
        "ip 10.0.0.0/8 read: err NOAUTH",
        "bob reads: ok 'b'",
        "bob writes: err NOAUTH",
        "alice reads bob's: err NOAUTH",
        "unknown auth scheme: AuthFailed",
        "request after auth failure: err AUTHFAILED",
        "anon delete (parent is open): ok deleted",
    ]


def test_sync(java_transcripts: Transcripts) -> None:
    assert java_transcripts["sync"] == [
        "sync existing: ok rc OK path ~/s",
        "sync missing: ok rc OK path ~/missing",
        "sync root: ok rc OK path /",
        "read after sync: ok '2'",
        "pipelined callbacks: [setData, sync, getData '3', sync missing]",
    ]


def test_system_nodes(java_transcripts: Transcripts) -> None:
    assert java_transcripts["system"] == [
        "children of /zookeeper: ok [config, quota]",
        "config: ok ''",
        "acl of /: ok [31 world:anyone]",
        "acl of /zookeeper/config: ok [1 world:anyone]",
        "set /zookeeper/config: err NOAUTH",
        "delete /zookeeper: err BADARGUMENTS",
        "delete /: err BADARGUMENTS",
        "create /: err NODEEXISTS",
        "exists /zookeeper/quota: ok true",
    ]


def test_session_reattach_and_timeouts(java_transcripts: Transcripts) -> None:
    assert java_transcripts["sessions"] == [
        "wrong password: Expired CLOSED",
        "original connection: dropped, then resumed",
        "ephemeral kept: ok v=0 cv=0 av=0 len=0 kids=0 owner=session#0",
        "unknown session: Expired CLOSED",
        "session timeout granted: 10000",
        # clamped to 2 ticks (tickTime 2000)
        "session timeout 1000 granted: 4000",
        "canBeReadOnly client: SyncConnected",
        "canBeReadOnly client writes: ok ~/rw",
    ]


def test_frame_size_limit(java_transcripts: Transcripts) -> None:
    assert java_transcripts["limits"] == [
        "create 1000000 bytes: ok ~/big",
        "read it back: ok true",
        "set 1100000 bytes: err CONNECTIONLOSS",
        "after reconnect: ok v=0 cv=0 av=0 len=1000000 kids=0 owner=0",
        "ephemeral survives: ok [~/eph]",
    ]


def test_every_bulk_scenario_passed(java_transcripts: Transcripts) -> None:
    assert java_transcripts.returncode == 0, java_transcripts.stderr[-6000:]
