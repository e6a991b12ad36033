"""The tree against a plain dict model, driven by hypothesis (rule-based, seeded profile).

The model keeps its own visible cversion (+1 per child added or removed) and its own
creation counter for sequence numbers, so it checks the tree's "2 * stored - children"
arithmetic rather than repeating it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from roost.tree import DataTree, TxnContext
from roost.wire.errors import Err
from roost.wire.multi import MultiRequest, MultiResponse
from roost.wire.opcodes import Op
from roost.wire.records import (
    CheckVersionRequest,
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    Record,
    SetDataRequest,
    Stat,
)

from .helpers import OPEN

SESSION = 0x5E55
NAMES = ["a", "b", "c"]
POOL = ["/", "/zookeeper"] + [f"/{x}" for x in NAMES] + [f"/{x}/{y}" for x in NAMES for y in NAMES]
DATA = st.sampled_from([None, b"", b"x", b"hello world"])
VERSION = st.sampled_from(["any", "right", "wrong"])
SYSTEM = {"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"}


@dataclass
class MNode:
    data: bytes | None = b""
    version: int = 0
    aversion: int = 0
    czxid: int = 0
    mzxid: int = 0
    pzxid: int = 0
    ctime: int = 0
    mtime: int = 0
    cversion: int = 0  # as clients see it
    creations: int = 0  # sequence counter
    owner: int = 0
    writable: bool = True  # /zookeeper/config is world:anyone READ only
    children: set[str] = field(default_factory=set)

    def stat(self) -> Stat:
        return Stat(self.czxid, self.mzxid, self.ctime, self.mtime, self.version, self.cversion,
                    self.aversion, self.owner, len(self.data or b""), len(self.children),
                    self.pzxid)


def fresh_model() -> dict[str, MNode]:
    return {
        "/": MNode(children={"zookeeper"}, cversion=-1),
        "/zookeeper": MNode(children={"quota", "config"}, cversion=-2),
        "/zookeeper/quota": MNode(),
        "/zookeeper/config": MNode(aversion=-1, writable=False),
    }


def parent_of(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


def pick_version(choice: str, current: int) -> int:
    return {"any": -1, "right": current, "wrong": current + 3}[choice]


class Model:
    """Applies ops to the dict model; returns (err, created path or None)."""

    def __init__(self) -> None:
        self.nodes = fresh_model()
        self.sessions: set[int] = set()

    def create(self, path: str, data: bytes | None, seq: bool, eph: bool, zxid: int,
               sid: int) -> tuple[int, str | None]:
        if eph and sid not in self.sessions:
            return Err.SESSION_EXPIRED, None
        parent = self.nodes.get(parent_of(path))
        if parent is None:
            return Err.NO_NODE, None
        if not parent.writable:
            return Err.NO_AUTH, None
        if seq:
            path += f"{parent.creations:010d}"
        if path.endswith("/") and path != "/":
            return Err.BAD_ARGUMENTS, None
        if path in self.nodes:
            return Err.NODE_EXISTS, None
        if parent.owner:
            return Err.NO_CHILDREN_FOR_EPHEMERALS, None
        t = zxid * 1000
        self.nodes[path] = MNode(data, czxid=zxid, mzxid=zxid, pzxid=zxid, ctime=t, mtime=t,
                                 owner=sid if eph else 0)
        parent.children.add(path.rsplit("/", 1)[1])
        parent.cversion += 1
        parent.creations += 1
        parent.pzxid = zxid
        return Err.OK, path

    def delete(self, path: str, version: int, zxid: int) -> int:
        if path in SYSTEM:
            return Err.BAD_ARGUMENTS
        parent = self.nodes.get(parent_of(path))
        node = self.nodes.get(path)
        if parent is None or node is None:
            return Err.NO_NODE
        if version not in (-1, node.version):
            return Err.BAD_VERSION
        if node.children:
            return Err.NOT_EMPTY
        del self.nodes[path]
        parent.children.remove(path.rsplit("/", 1)[1])
        parent.cversion += 1
        parent.pzxid = max(parent.pzxid, zxid)
        return Err.OK

    def set_data(self, path: str, data: bytes | None, version: int, zxid: int) -> int:
        node = self.nodes.get(path)
        if node is None:
            return Err.NO_NODE
        if not node.writable:
            return Err.NO_AUTH
        if version not in (-1, node.version):
            return Err.BAD_VERSION
        node.data, node.version, node.mzxid, node.mtime = data, node.version + 1, zxid, zxid * 1000
        return Err.OK

    def check(self, path: str, version: int) -> int:
        node = self.nodes.get(path)
        if node is None:
            return Err.NO_NODE
        return Err.OK if version in (-1, node.version) else Err.BAD_VERSION


def as_request(kind: str, path: str, data: bytes | None, flag: int, version: int
               ) -> tuple[int, Record]:
    if kind == "create":
        return Op.CREATE, CreateRequest(path, data, OPEN, flag)
    if kind == "delete":
        return Op.DELETE, DeleteRequest(path, version)
    if kind == "set":
        return Op.SET_DATA, SetDataRequest(path, data, version)
    return Op.CHECK, CheckVersionRequest(path, version)


def run_model_op(model: Model, kind: str, path: str, data: bytes | None, flag: int,
                 version: int, zxid: int, sid: int) -> tuple[int, str | None]:
    if kind == "create":
        return model.create(path, data, bool(flag & 2), bool(flag & 1), zxid, sid)
    if kind == "delete":
        return model.delete(path, version, zxid), None
    if kind == "set":
        return model.set_data(path, data, version, zxid), None
    return model.check(path, version), None


class TreeVsModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tree = DataTree()
        self.model = Model()
        self.zxid = 0

    def ctx(self, sid: int = 0) -> TxnContext:
        self.zxid += 1
        return TxnContext(self.zxid, self.zxid * 1000, sid, ())

    def target(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(sorted(set(POOL) | set(self.model.nodes))))

    def version_for(self, path: str, choice: str) -> int:
        node = self.model.nodes.get(path)
        return pick_version(choice, node.version if node else 0)

    @rule(data=st.data(), name=st.sampled_from([*NAMES, "s-", ""]), flag=st.integers(0, 3),
          payload=DATA)
    def create(self, data: st.DataObject, name: str, flag: int, payload: bytes | None) -> None:
        parent = self.target(data)
        path = ("" if parent == "/" else parent) + "/" + name
        sid = SESSION if flag & 1 else 0
        ctx = self.ctx(sid)
        want, made = self.model.create(path, payload, bool(flag & 2), bool(flag & 1), ctx.zxid,
                                       sid)
        err, rec, _ = self.tree.apply(ctx, Op.CREATE, CreateRequest(path, payload, OPEN, flag))
        assert err == want, (path, flag)
        if made is not None:
            assert rec == CreateResponse(made)

    @rule(data=st.data(), choice=VERSION)
    def delete(self, data: st.DataObject, choice: str) -> None:
        path = self.target(data)
        version = self.version_for(path, choice)
        ctx = self.ctx()
        want = self.model.delete(path, version, ctx.zxid)
        err, _, events = self.tree.apply(ctx, Op.DELETE, DeleteRequest(path, version))
        assert err == want
        assert (len(events) == 2) == (err == Err.OK)

    @rule(data=st.data(), choice=VERSION, payload=DATA)
    def set_data(self, data: st.DataObject, choice: str, payload: bytes | None) -> None:
        path = self.target(data)
        version = self.version_for(path, choice)
        ctx = self.ctx()
        want = self.model.set_data(path, payload, version, ctx.zxid)
        err, _, _ = self.tree.apply(ctx, Op.SET_DATA, SetDataRequest(path, payload, version))
        assert err == want

    @rule(data=st.data(), n=st.integers(1, 6))
    def multi(self, data: st.DataObject, n: int) -> None:
        ctx = self.ctx(SESSION)
        trial = copy.deepcopy(self.model)
        ops, want = [], []
        for _ in range(n):
            kind = data.draw(st.sampled_from(["create", "create", "delete", "set", "check"]))
            # mostly existing nodes of the trial state, so that several ops succeed
            path = data.draw(st.sampled_from(sorted(trial.nodes) + POOL[2:5]))
            if kind == "create":
                path = ("" if path == "/" else path) + "/" + data.draw(st.sampled_from(NAMES))
            flag = data.draw(st.integers(0, 3)) if kind == "create" else 0
            choice = data.draw(VERSION)
            node = trial.nodes.get(path)
            version = pick_version(choice, node.version if node else 0)
            payload = data.draw(DATA)
            ops.append(as_request(kind, path, payload, flag, version))
            want.append(run_model_op(trial, kind, path, payload, flag, version, ctx.zxid,
                                     SESSION)[0])
            if want[-1] != Err.OK:
                break
        err, rec, _ = self.tree.apply(ctx, Op.MULTI, MultiRequest(tuple(ops)))
        assert err == Err.OK and isinstance(rec, MultiResponse)
        got = [r.err for r in rec.results]
        if want[-1] == Err.OK:
            assert got == [0] * len(ops)
            self.model = trial
        else:
            assert got == [0] * (len(ops) - 1) + [want[-1]]
            assert all(r.type == Op.ERROR for r in rec.results)

    @rule()
    def open_session(self) -> None:
        self.tree.create_session(self.ctx(), SESSION, 5000, b"pw")
        self.model.sessions.add(SESSION)

    @rule()
    def close_session(self) -> None:
        ctx = self.ctx()
        self.tree.close_session(ctx, SESSION)
        for path in sorted(p for p, n in self.model.nodes.items() if n.owner == SESSION):
            assert self.model.delete(path, -1, ctx.zxid) == Err.OK
        self.model.sessions.discard(SESSION)

    @rule()
    def snapshot_round_trip(self) -> None:
        before = self.tree.digest()
        self.tree = DataTree.from_bytes(self.tree.to_bytes())
        assert self.tree.digest() == before

    @invariant()
    def same_state(self) -> None:
        assert set(self.tree.nodes) == set(self.model.nodes)
        for path, mnode in self.model.nodes.items():
            node = self.tree.get(path)
            assert node is not None
            assert self.tree.stat(node) == mnode.stat(), path
            assert node.data == mnode.data
            assert set(self.tree.children(node)) == mnode.children
        assert self.tree.last_zxid == self.zxid
        owned = sorted(p for p, n in self.model.nodes.items() if n.owner)
        assert self.tree.ephemerals(SESSION, None) == owned
        assert self.tree.ephemeral_count() == len(owned)


TreeVsModel.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_tree_matches_model = TreeVsModel.TestCase
