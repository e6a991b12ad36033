"""End to end: concurrent kazoo clients record a History against a real server (roost,
and Apache ZooKeeper for comparison), and the history checks out under the znode and
children models. With one server, plain reads are linearizable too."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError

from roost.testing.history import History
from roost.testing.linearizability import ChildrenModel, ZnodeModel, assert_linearizable
from roost.testing.server import RoostServer
from roost.testing.zookeeper import ZooKeeperServer

CLIENTS = 4
OPS_PER_CLIENT = 30
ERRORS = {NoNodeError: "nonode", NodeExistsError: "nodeexists", BadVersionError: "badversion"}


@pytest.fixture(scope="module", params=["roost", "zookeeper"])
def hosts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[str]:
    """One server per backend for this module (the tests use different paths)."""
    if request.param == "roost":
        with RoostServer(data_dir=tmp_path_factory.mktemp("roost")) as srv:
            yield srv.hosts
    else:
        with ZooKeeperServer() as zk:
            yield zk.hosts


def _record(history: History, pid: int, f: str, args: Any, call: Callable[[], Any]) -> Any:
    handle = history.invoke(pid, f, args)
    try:
        result = call()
    except tuple(ERRORS) as exc:
        result = ERRORS[type(exc)]
    except Exception:
        history.info(handle)  # connection trouble: the outcome is unknown
        return None
    history.ok(handle, result)
    return result


def _znode_call(zk: KazooClient, f: str, args: Any) -> Any:
    path = args[0]
    if f == "get":
        value, stat = zk.get(path)
        return (value, stat.version)
    if f == "set":
        return zk.set(path, args[1], version=args[2]).version
    if f == "create":
        zk.create(path, args[1])
        return "ok"
    zk.delete(path, version=args[1])
    return "ok"


def _znode_client(zk: KazooClient, history: History, pid: int, rng: random.Random) -> None:
    path, version = "/lin/reg", -1
    for i in range(OPS_PER_CLIENT):
        kind = rng.choice(["get", "get", "set", "set", "create", "delete"])
        args: tuple[Any, ...] = {
            "get": (path,),
            "set": (path, f"{pid}.{i}".encode(), rng.choice([-1, version])),
            "create": (path, f"{pid}.{i}".encode()),
            "delete": (path, rng.choice([-1, version])),
        }[kind]
        result = _record(history, pid, kind, args, partial(_znode_call, zk, kind, args))
        if kind == "get" and isinstance(result, tuple):
            version = result[1]  # a plausible version for later conditional writes


def _children_call(zk: KazooClient, f: str, args: Any) -> Any:
    parent = args[0]
    if f == "create":
        return zk.create(f"{parent}/{args[1]}", b"", sequence=True).rsplit("/", 1)[1]
    if f == "list":
        return zk.get_children(parent)
    zk.delete(f"{parent}/{args[1]}")
    return "ok"


def _children_client(zk: KazooClient, history: History, pid: int, rng: random.Random) -> None:
    parent = "/lin/q"
    mine: list[str] = []
    for _ in range(OPS_PER_CLIENT):
        kind = rng.choice(["create", "create", "list", "delete"])
        if kind == "delete" and not mine:
            kind = "list"
        args: tuple[Any, ...] = {
            "create": (parent, "n-", True, None),
            "list": (parent,),
            "delete": (parent, mine.pop(rng.randrange(len(mine))) if kind == "delete" else ""),
        }[kind]
        result = _record(history, pid, kind, args, partial(_children_call, zk, kind, args))
        if kind == "create" and isinstance(result, str) and result.startswith("n-"):
            mine.append(result)


def _run(hosts: str, worker: Callable[..., None], seed: int) -> History:
    history = History()
    clients = [KazooClient(hosts=hosts, timeout=10.0) for _ in range(CLIENTS)]
    for zk in clients:
        zk.start(timeout=15)
    clients[0].ensure_path("/lin/q")
    errors: list[BaseException] = []

    def run(pid: int) -> None:
        try:
            worker(clients[pid], history, pid, random.Random(seed * 100 + pid))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(p,)) for p in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for zk in clients:
        zk.stop()
        zk.close()
    assert not errors, errors
    assert history.pending == 0
    return history


def test_znode_history_from_a_live_server(hosts: str, tmp_path: Path) -> None:
    history = _run(hosts, _znode_client, seed=1)
    ops = history.operations()
    assert len(ops) == CLIENTS * OPS_PER_CLIENT
    assert {op.result for op in ops if op.f == "set"} - {"nonode", "badversion"}  # some won
    result = assert_linearizable(history, ZnodeModel(), timeout=60,
                                 timeline=tmp_path / "znode.html")
    assert len(result.linearization) == len(ops)


def test_sequential_children_from_a_live_server(hosts: str, tmp_path: Path) -> None:
    history = _run(hosts, _children_client, seed=2)
    ops = history.operations()
    assert sum(op.f == "create" for op in ops) > CLIENTS
    assert_linearizable(history, ChildrenModel(), timeout=60,
                        timeline=tmp_path / "children.html")
