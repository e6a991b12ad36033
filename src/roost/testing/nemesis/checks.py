"""After the run: do all members hold the same data, with every acknowledged write, and
did sessions and ephemerals behave?"""

from __future__ import annotations

import logging
import time
from typing import Any

from roost.testing.ensemble import RoostEnsemble, wait_caught_up
from roost.testing.nemesis.workload import Workload

log = logging.getLogger("roost.nemesis")

#: path -> (data, czxid, mzxid, version, cversion, ephemeralOwner, sorted children)
Tree = dict[str, tuple[Any, ...]]


def _connect(hosts: str, timeout: float = 30.0) -> Any:
    from kazoo.client import KazooClient

    zk = KazooClient(hosts=hosts, timeout=10.0)
    zk.start(timeout=timeout)
    return zk


def read_tree(zk: Any, root: str, timeout: float = 30.0) -> Tree:
    """Every node under `root` as the client's member has it (no sync: its applied state)."""
    out: Tree = {}
    level = [root]
    while level:  # up to 100 nodes' requests pipelined at a time
        batch, level = level[:100], level[100:]
        pending = [(p, zk.get_async(p), zk.get_children_async(p)) for p in batch]
        for path, got, kids_of in pending:
            data, st = got.get(timeout=timeout)
            kids = tuple(sorted(kids_of.get(timeout=timeout)))
            out[path] = (bytes(data), st.czxid, st.mzxid, st.version, st.cversion,
                         st.ephemeralOwner, kids)
            level += [f"{path}/{k}" for k in kids]
    return out


def member_trees(ens: RoostEnsemble, root: str, timeout: float = 120.0) -> tuple[int, list[Tree]]:
    """Once no write is going on: wait until all members report one applied zxid, then read
    each member's tree (again if some write slipped in meanwhile, or a reader lost its
    connection or session). The readers connect first: opening a session is itself a
    transaction."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _read_trees(ens, root, deadline)
        except Exception as e:
            if time.monotonic() > deadline:
                raise
            log.warning("reading the members' trees again after %s: %s", type(e).__name__, e)


def _read_trees(ens: RoostEnsemble, root: str, deadline: float) -> tuple[int, list[Tree]]:
    readers = [_connect(ens.hosts_of(i)) for i in range(len(ens))]
    try:
        left = max(1.0, deadline - time.monotonic())
        zxid = wait_caught_up(ens, timeout=left)
        trees = [read_tree(zk, root) for zk in readers]
        if wait_caught_up(ens, timeout=left) != zxid:
            raise RuntimeError("a write slipped in while the trees were read")
        return zxid, trees
    finally:
        for zk in readers:
            zk.stop()
            zk.close()


def divergence(trees: list[Tree]) -> list[str]:
    """Paths whose state differs between members (member 0 is the reference)."""
    out = []
    for i, tree in enumerate(trees[1:], start=1):
        for path in sorted(set(tree) | set(trees[0])):
            if tree.get(path) != trees[0].get(path):
                out.append(f"member index {i} differs from member index 0 at {path}: "
                           f"{tree.get(path)} vs {trees[0].get(path)}")
    return out


def lost_appends(work: Workload, trees: list[Tree]) -> list[str]:
    """Acknowledged appends missing on some member."""
    out = []
    for w in work.workers:
        for path in w.acked_appends:
            missing = [i for i, t in enumerate(trees) if path not in t]
            if missing:
                out.append(f"acknowledged {path} missing on member index {missing}")
    return out


def ephemeral_anomalies(work: Workload, trees: list[Tree], closed: set[int]) -> list[str]:
    """A live session's ephemeral must be on every member, owned by it; the ephemeral of a
    closed or expired session must be gone from every member."""
    out = []
    for w in work.workers:
        assert w.client is not None
        gone = w.index in closed or w.client.lost.is_set()
        for i, tree in enumerate(trees):
            node = tree.get(w.ephemeral)
            if gone and node is not None:
                out.append(f"{w.ephemeral} of an ended session still on member index {i}")
            elif not gone and node is None:
                out.append(f"{w.ephemeral} of live session {w.ephemeral_session:#x} vanished "
                           f"from member index {i}")
            elif not gone and node is not None and node[5] != w.ephemeral_session:
                out.append(f"{w.ephemeral} on member index {i} owned by {node[5]:#x}, "
                           f"not {w.ephemeral_session:#x}")
    return out


def wait_connected(work: Workload, closed: set[int], timeout: float = 60.0) -> None:
    """Wait until every open client is connected again (so a session that expired during
    the faults has been told so)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(w.client.connected() for w in work.workers
               if w.client is not None and w.index not in closed):
            return
        time.sleep(0.05)
