"""Pure parts of the HTTP API: the KV envelope, key paths, durations, session settings."""

from __future__ import annotations

import random

import pytest

from roost.http.durations import format_seconds, lock_delay_seconds, parse_seconds
from roost.http.envelope import HEADER_SIZE, MAGIC, NO_SESSION, Entry, decode, encode
from roost.http.keys import BadKey, key_path, list_prefix, prefix_index
from roost.http.sessions import parse_settings, session_uuid, sid_of
from roost.tree import DataTree, TxnContext
from roost.wire.opcodes import Op
from roost.wire.records import ACL, CreateRequest, Id


def test_envelope_round_trip_keeps_every_field() -> None:
    rng = random.Random(7)
    for _ in range(200):
        e = Entry(
            value=rng.randbytes(rng.randrange(0, 40)),
            flags=rng.randrange(0, 1 << 64),
            lock_index=rng.randrange(0, 1 << 64),
            session=rng.randbytes(16),
            delete_behavior=rng.random() < 0.5,
            folder=rng.random() < 0.5,
            lock_delay_ms=rng.randrange(0, 60_000),
            delay_until_ms=rng.randrange(0, 1 << 62),
        )
        data = encode(e)
        assert data.startswith(MAGIC) and len(data) == HEADER_SIZE + len(e.value)
        assert decode(data) == e


def test_plain_znode_data_reads_as_a_value_and_empty_as_no_key() -> None:
    assert decode(b"") is None
    assert decode(None) is None
    plain = decode(b"written by kazoo")
    assert plain is not None
    assert plain.value == b"written by kazoo" and plain.flags == 0 and not plain.enveloped
    assert plain.session == NO_SESSION


def test_key_paths() -> None:
    assert key_path("/kv", "a/b/c") == ("/kv/a/b/c", False)
    assert key_path("/kv", "folder/") == ("/kv/folder", True)
    for bad in ("", "/", "a//b", "a/./b", "../x", "a/\x00"):
        with pytest.raises(BadKey):
            key_path("/kv", bad)


def _tree_with(keys: dict[str, bytes]) -> DataTree:
    tree = DataTree()
    zxid = 0
    acl = [ACL(31, Id("world", "anyone"))]
    for path, data in [("/kv", b"")] + [(f"/kv/{k}", v) for k, v in keys.items()]:
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            p = "/" + "/".join(parts[:i])
            if tree.get(p) is None:
                zxid += 1
                payload = data if p == path else b""
                err, _r, _e = tree.apply(TxnContext(zxid, 0, 0, ()), Op.CREATE,
                                         CreateRequest(p, payload, acl, 0))
                assert err == 0
    return tree


def test_list_prefix_is_a_string_prefix_and_skips_directories() -> None:
    tree = _tree_with({"app/a": encode(Entry(b"1")), "app/b/c": encode(Entry(b"2")),
                       "apple": encode(Entry(b"3")), "other": encode(Entry(b"4"))})
    keys = [f.key for f in list_prefix(tree, "/kv", "app", lambda e: True)]
    assert keys == ["app/a", "app/b/c", "apple"]  # "app" and "app/b" are directories
    assert [f.key for f in list_prefix(tree, "/kv", "app/", lambda e: True)] == [
        "app/a", "app/b/c"]
    assert [f.key for f in list_prefix(tree, "/kv", "", lambda e: True)] == [
        "app/a", "app/b/c", "apple", "other"]
    assert list_prefix(tree, "/kv", "nothing/", lambda e: True) == []


def test_prefix_index_moves_with_changes_below_the_prefix_only() -> None:
    tree = _tree_with({"p/x": encode(Entry(b"1")), "q/y": encode(Entry(b"2"))})
    before = prefix_index(tree, "/kv", "p/")
    zxid = tree.last_zxid + 1
    tree.apply(TxnContext(zxid, 0, 0, ()), Op.CREATE,
               CreateRequest("/kv/q/z", b"", [ACL(31, Id("world", "anyone"))], 0))
    assert prefix_index(tree, "/kv", "p/") == before
    tree.apply(TxnContext(zxid + 1, 0, 0, ()), Op.CREATE,
               CreateRequest("/kv/p/w", b"", [ACL(31, Id("world", "anyone"))], 0))
    assert prefix_index(tree, "/kv", "p/") == zxid + 1


def test_durations() -> None:
    assert parse_seconds("15s") == 15.0
    assert parse_seconds("1m30s") == 90.0
    assert parse_seconds("250ms") == 0.25
    assert parse_seconds("10") == 10.0
    for bad in ("", "s", "10x", "1s2"):
        with pytest.raises(ValueError):
            parse_seconds(bad)
    assert lock_delay_seconds(5) == 5.0  # small numbers are seconds, as Consul
    assert lock_delay_seconds(2_000_000_000) == 2.0  # else nanoseconds
    assert lock_delay_seconds("500ms") == 0.5
    assert format_seconds(10.0) == "10s"


def test_session_settings_validation() -> None:
    s = parse_settings(b'{"name": "svc", "ttl": "15s", "behavior": "delete", '
                       b'"lockdelay": "2s"}', "roost-1")
    assert (s.name, s.ttl_s, s.behavior, s.lock_delay_s, s.node) == (
        "svc", 15.0, "delete", 2.0, "roost-1")
    default = parse_settings(b"", "n")
    assert (default.ttl_s, default.behavior, default.lock_delay_s) == (None, "release", 15.0)
    for bad in (b'{"TTL": "5s"}', b'{"TTL": "90000s"}', b'{"Behavior": "keep"}',
                b'{"LockDelay": "61s"}', b"[1]"):
        with pytest.raises(ValueError):
            parse_settings(bad, "n")


def test_session_uuid_carries_the_roost_session_id() -> None:
    for sid in (1, -5, 0x7FFF_FFFF_FFFF_FFFF, -(1 << 63) + 1):
        assert sid_of(session_uuid(sid, bytes(range(16)))) == sid


def test_related_regions() -> None:
    from roost.http.changes import related

    assert related("/kv/a/b", "/kv/a/b")
    assert related("/kv/a/b", "/kv/a")  # an ancestor was created or deleted
    assert related("/kv/a", "/kv/a/b/c")  # below a prefix scan's directory
    assert not related("/kv/a", "/kv/ab")
    assert not related("/kv/a/b", "/kv/a/c")
    assert related("/", "/anything")


def test_changes_wake_only_related_waiters() -> None:
    import asyncio

    from roost.http.changes import Changes

    async def scenario() -> tuple[int, bool]:
        changes = Changes()
        ready = [False]
        checks = [0]

        def done() -> bool:
            checks[0] += 1
            return ready[0]

        waiter = asyncio.get_running_loop().create_task(changes.wait("/kv/x", done, 30))
        for _ in range(5):
            await asyncio.sleep(0)
        changes.notify(3, "/kv/y", ())  # unrelated: no re-check
        for _ in range(5):
            await asyncio.sleep(0)
        after_unrelated = checks[0]
        ready[0] = True
        changes.notify(3, "/kv/x", ())
        result = await asyncio.wait_for(waiter, 5)
        return after_unrelated, result

    after_unrelated, result = asyncio.run(scenario())
    assert after_unrelated == 1 and result is True


def test_changes_wait_on_several_regions() -> None:
    import asyncio

    from roost.http.changes import Changes

    async def scenario() -> tuple[int, int, bool, int]:
        changes = Changes()
        ready = [False]
        checks = [0]

        def done() -> bool:
            checks[0] += 1
            return ready[0]

        regions = ("/consul/nodes", "/services")
        waiter = asyncio.get_running_loop().create_task(changes.wait(regions, done, 30))
        for _ in range(5):
            await asyncio.sleep(0)
        changes.notify(3, "/kv/y", ())  # unrelated: no re-check
        for _ in range(5):
            await asyncio.sleep(0)
        after_unrelated = checks[0]
        changes.notify(4, "/consul/nodes/a", ())  # related, not done yet: re-check
        for _ in range(5):
            await asyncio.sleep(0)
        after_related = checks[0]
        ready[0] = True
        changes.notify(4, "/services/web/i1", ())
        result = await asyncio.wait_for(waiter, 5)
        return after_unrelated, after_related, result, len(changes._multi)

    after_unrelated, after_related, result, left = asyncio.run(scenario())
    assert (after_unrelated, after_related, result, left) == (1, 2, True, 0)
