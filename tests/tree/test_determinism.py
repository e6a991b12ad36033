"""Replicas stay identical: the same txns give the same bytes, also across a snapshot."""

from __future__ import annotations

import random

from roost.tree import DataTree, TxnContext, WatchEvent
from roost.wire.multi import MultiRequest
from roost.wire.opcodes import Op
from roost.wire.records import (
    ACL,
    CreateRequest,
    CreateTTLRequest,
    DeleteRequest,
    Id,
    Record,
    SetACLRequest,
    SetDataRequest,
)

from .helpers import OPEN

ACLS = [OPEN, [ACL(31, Id("ip", "127.0.0.0/8"))], [ACL(15, Id("world", "anyone"))]]
AUTH = (Id("ip", "127.0.0.1"),)
SIDS = [11, 12, 13]


def random_request(rng: random.Random, paths: list[str]) -> tuple[int, Record]:
    parent = rng.choice(paths)
    child = (parent if parent != "/" else "") + "/" + rng.choice("abcdef")
    target = rng.choice(paths)
    kind = rng.randrange(7)
    if kind == 0:
        flags = rng.choice([0, 1, 2, 3])
        return Op.CREATE, CreateRequest(child, rng.choice([None, b"", b"v"]), rng.choice(ACLS),
                                        flags)
    if kind == 1:
        return Op.CREATE_CONTAINER, CreateRequest(child, b"", OPEN, 4)
    if kind == 2:
        return Op.CREATE_TTL, CreateTTLRequest(child, b"", OPEN, 5, rng.randrange(1, 5000))
    if kind == 3:
        return Op.DELETE, DeleteRequest(target, rng.choice([-1, 0, 1]))
    if kind == 4:
        return Op.SET_DATA, SetDataRequest(target, bytes(rng.randrange(4)), -1)
    if kind == 5:
        return Op.SET_ACL, SetACLRequest(target, rng.choice(ACLS), -1)
    ops = tuple(random_request(rng, paths) for _ in range(rng.randrange(1, 4)))
    return Op.MULTI, MultiRequest(tuple(o for o in ops if o[0] not in (Op.SET_ACL, Op.MULTI)))


def step(trees: list[DataTree], rng: random.Random, zxid: int) -> list[list[WatchEvent]]:
    """One random txn (write, session, or reap) applied to every tree."""
    now = zxid * 100
    roll = rng.random()
    sid = rng.choice(SIDS)
    ctx = TxnContext(zxid, now, sid, AUTH)
    paths = sorted(trees[0].nodes)
    out: list[list[WatchEvent]] = []
    if roll < 0.05:
        for t in trees:
            t.create_session(ctx, sid, 4000, bytes([sid]) * 16)
            out.append([])
    elif roll < 0.08:
        out = [t.close_session(ctx, sid) for t in trees]
    elif roll < 0.12:
        candidates = trees[0].reap_candidates(now)
        path = candidates[0] if candidates else rng.choice(paths)
        out = [t.reap(ctx, path) for t in trees]
    else:
        op, req = random_request(rng, paths)
        results = [t.apply(ctx, op, req) for t in trees]
        assert all(r == results[0] for r in results)
        out = [r[2] for r in results]
    return out


def test_replicas_and_restored_snapshots_agree() -> None:
    rng = random.Random(20261122)
    trees = [DataTree(), DataTree()]
    for zxid in range(1, 1001):
        events = step(trees, rng, zxid)
        assert all(e == events[0] for e in events)
        if zxid % 200 == 0:
            # a third replica catches up from a snapshot and must stay in step
            trees = [*trees[:2], DataTree.from_bytes(trees[0].to_bytes())]
        if zxid % 100 == 0:
            assert len({t.to_bytes() for t in trees}) == 1
            assert len({t.digest() for t in trees}) == 1
    assert trees[0].node_count() > 10
    assert trees[0].last_zxid == 1000
