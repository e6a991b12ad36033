"""The simulated clients' conditional and compound requests, checked against the committed
history: cas (setData and delete with the version the client last read or wrote), multi
(check, create, setData and delete; some built to fail) and sync-then-read.

They go the production path, as the clients' other writes do: a REQUEST txn proposed
through the client's member (`ReplicaCore.propose`), applied by every member to its
`DataTree` (`roost.tree.ops`, multi's rollback included). `Committed` records the
namespace's states (data, version per path, `watches.ROOT` and `watches.NAMES`) along
zxids, as the first member to apply each zxid left them. Checked:

- when a request first applies (at zxid Z): its outcome is what ZooKeeper's rules give
  from the committed states before Z (`outcome`: NoNode, NodeExists, BadVersion, the new
  version; for a multi all ops or none, at Z, with the failing op's error, Ok before it
  and RuntimeInconsistency after it), and the tree after Z holds the states those rules
  leave (a failed multi changed nothing);
- its reply (from the member the client sent it through) says that outcome;
- sync, then getData: the member's barrier (`SimChecks.linearizable_read`, the check
  the cluster's own reads use: its tree holds every zxid applied anywhere, so every
  acknowledged write, before the sync was sent), and what the read returns is the
  committed state at the member's zxid.

Planted: `cas_ignores_version` (the member drops the expected version when it builds the
txn: a cas that should fail with BadVersion applies); `multi_partial_apply` (the tree's,
`roost.tree.context.KNOWN_BUGS`: a failed multi leaves its first op's change).
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from roost.tree import DataTree
from roost.tree.txn import Kind, Txn, TxnResult
from roost.wire.errors import Err
from roost.wire.multi import MultiRequest, MultiResponse
from roost.wire.opcodes import Op
from roost.wire.records import (
    ACL,
    CheckVersionRequest,
    CreateRequest,
    DeleteRequest,
    Id,
    Record,
    SetDataRequest,
    SetDataResponse,
)

from .checker import InvariantViolation
from .watches import NAMES, ROOT, SimConnection

if TYPE_CHECKING:
    from .node import SimNode
    from .world import SimWorld


class SimClientLike(Protocol):
    """What the helpers (this module, recipes.py) read of a simulated client
    (`clients.SimClient`)."""

    @property
    def idx(self) -> int: ...
    @property
    def sid(self) -> int: ...
    @property
    def conn(self) -> SimConnection | None: ...


#: the simulated client's type (`clients.SimClient`)
C = TypeVar("C", bound=SimClientLike)
C_contra = TypeVar("C_contra", bound=SimClientLike, contravariant=True)


class SessionsLike(Protocol[C_contra]):
    """What `ClientRequests` uses of the simulated clients' sessions
    (`clients.SimSessions`, checked against it where it builds its `ClientRequests`)."""

    @property
    def c(self) -> SimWorld: ...
    def replied(self, cl: C_contra, sid: int, op: int, err: int, sent: int) -> None: ...
    def _reply(self, cl: C_contra, conn: SimConnection, zxid: int, what: str,
               write: bool = False) -> None: ...
    def _lost(self, cl: C_contra, conn: SimConnection) -> None: ...

#: planted bugs of the member's request intake
REQUEST_BUGS = frozenset({"cas_ignores_version"})
#: a client's turn with nothing else to do (clients.py): the chances that it sends a cas,
#: a multi, a sync-then-read
CAS = 0.25
MULTI = 0.15
SYNC_READ = 0.15
#: a multi op is built to fail (a wrong version, a create of a node that exists)
FAIL_OP = 0.25
_OPEN = [ACL(31, Id("world", "anyone"))]
#: the paths whose states are recorded
TRACKED = (ROOT, *NAMES)
_TRACKED = frozenset(TRACKED)
_OK, _ERROR = int(Err.OK), int(Op.ERROR)

#: a znode's state: (data, version), None when absent
State = tuple[bytes, int] | None
#: a request's outcome: (err, new version) of a single op; ((type, err), ...) of a multi
Outcome = tuple[int, int] | tuple[tuple[int, int], ...]


def state_of(tree: DataTree, path: str) -> State:
    node = tree.get(path)
    return None if node is None else (node.data or b"", node.version)


class Committed:
    """The states of `TRACKED` along zxids (path -> [(zxid, state)])."""

    def __init__(self) -> None:
        self.by_path: dict[str, list[tuple[int, State]]] = {}
        #: the last zxid any member applied
        self.last = 0

    def now(self, path: str) -> State:
        changes = self.by_path.get(path)
        return changes[-1][1] if changes else None

    def at(self, path: str, zxid: int) -> State:
        changes = self.by_path.get(path, [])
        i = bisect.bisect_right(changes, zxid, key=lambda c: c[0])
        return changes[i - 1][1] if i else None

    def record(self, zxid: int, path: str, state: State) -> None:
        changes = self.by_path.setdefault(path, [])
        if changes and changes[-1][0] == zxid:
            changes[-1] = (zxid, state)
        else:
            changes.append((zxid, state))


def _version_ok(state: tuple[bytes, int], expected: int) -> bool:
    return expected == -1 or expected == state[1]


def step(states: dict[str, State], op: int, req: Record) -> int:
    """ZooKeeper's rules for one op on the namespace (its nodes have no children, no ACL
    but world:anyone): its error, or Ok with `states` changed."""
    path = getattr(req, "path", "")
    st = states.get(path)
    if op == Op.CREATE and isinstance(req, CreateRequest):
        if states.get(ROOT) is None:
            return int(Err.NO_NODE)
        if st is not None:
            return int(Err.NODE_EXISTS)
        states[path] = (req.data or b"", 0)
        return _OK
    if st is None:
        return int(Err.NO_NODE)
    version = getattr(req, "version", -1)
    if not _version_ok(st, version):
        return int(Err.BAD_VERSION)
    if op == Op.SET_DATA and isinstance(req, SetDataRequest):
        states[path] = (req.data or b"", st[1] + 1)
    elif op == Op.DELETE:
        states[path] = None
    return _OK


def outcome(states: dict[str, State], op: int, req: Record) -> Outcome:
    """The outcome ZooKeeper gives `req` on `states` (changed as it leaves them)."""
    if op != Op.MULTI:
        err = step(states, op, req)
        after = states.get(req.path) if isinstance(req, SetDataRequest) else None
        return err, after[1] if err == _OK and after is not None else -1
    assert isinstance(req, MultiRequest)
    trial = dict(states)
    n = len(req.ops)
    for i, (sub_op, sub) in enumerate(req.ops):
        err = step(trial, sub_op, sub)
        if err != _OK:  # none applies: Ok before the failing op, its error, then the rest
            return (((_ERROR, _OK),) * i + ((_ERROR, err),)
                    + ((_ERROR, int(Err.RUNTIME_INCONSISTENCY)),) * (n - i - 1))
    states.update(trial)
    return tuple((sub_op, _OK) for sub_op, _ in req.ops)


def reply_outcome(op: int, result: TxnResult) -> Outcome:
    """The outcome a reply says."""
    if op != Op.MULTI:
        rec = result.record
        return result.err, rec.stat.version if isinstance(rec, SetDataResponse) else -1
    assert isinstance(result.record, MultiResponse)
    return tuple((r.type, r.err) for r in result.record.results)


def _tracked(req: Record) -> bool:
    if isinstance(req, MultiRequest):
        return all(_tracked(sub) for _, sub in req.ops)
    return getattr(req, "path", "") in _TRACKED


def _describe(op: int, req: Record) -> str:
    if isinstance(req, MultiRequest):
        return "multi[" + ", ".join(_describe(o, r) for o, r in req.ops) + "]"
    version = getattr(req, "version", None)
    v = f" v{version}" if version is not None else ""
    return f"{Op(op).name} {getattr(req, 'path', '')}{v}"


@dataclass
class Sent:
    """A client's request in flight: what the client asked (the txn may differ under a
    planted bug)."""

    client: int
    op: int
    req: Record


@dataclass
class RequestStats:
    cas: int = 0  # conditional setData/delete answered
    bad_versions: int = 0  # of which BadVersion
    multis: int = 0  # multis answered
    failed_multis: int = 0  # of which none applied
    sync_reads: int = 0  # sync-then-reads served (each checked)


@dataclass
class ClientRequests(Generic[C]):
    """The clients' cas, multi and sync-then-read, and their checks (one per run)."""

    s: SessionsLike[C]
    rng: random.Random
    committed: Committed = field(default_factory=Committed)
    #: (origin, boot, seq) of a request in flight -> what its client asked
    sent: dict[tuple[int, int, int], Sent] = field(default_factory=dict)
    #: (origin, boot, seq) -> the outcome at its first apply (until its reply)
    outcomes: dict[tuple[int, int, int], Outcome] = field(default_factory=dict)
    #: client -> path -> the version it last read or wrote
    known: dict[int, dict[str, int]] = field(default_factory=dict)
    stats: RequestStats = field(default_factory=RequestStats)
    syncs: int = 0

    # ------------------------------------------------------------------ a member applies
    def applied(self, sn: SimNode, zxid: int, txn: Txn, result: TxnResult) -> None:
        """Any txn a member applied: the first member to apply `zxid` checks a client's
        request there against the committed states and records the new ones."""
        c = self.committed
        if zxid <= c.last:
            return
        c.last = zxid
        assert sn.replica is not None
        tree = sn.replica.tree
        sent = self.sent.pop((txn.origin, txn.boot, txn.seq), None) if txn.kind is (
            Kind.REQUEST) else None
        if sent is not None:
            states = {p: c.now(p) for p in TRACKED}
            expect = outcome(states, sent.op, sent.req)
            got = reply_outcome(sent.op, result)
            what = (f"client {sent.client}'s {_describe(sent.op, sent.req)}, applied at zxid "
                    f"{zxid} on node {sn.id}")
            if got != expect:
                raise InvariantViolation(
                    f"request: {what}, gave {got}; the committed states before it "
                    f"({self._show(zxid - 1)}) give {expect}")
            for p in TRACKED:
                if state_of(tree, p) != states[p]:
                    raise InvariantViolation(
                        f"request: {what} (outcome {got}) left {p} at {state_of(tree, p)}, "
                        f"where it must be {states[p]} (before: {self._show(zxid - 1)})")
            self.outcomes[(txn.origin, txn.boot, txn.seq)] = expect
        for ev in result.events:
            if ev.path in _TRACKED:
                c.record(zxid, ev.path, state_of(tree, ev.path))

    def _show(self, zxid: int) -> str:
        return ", ".join(f"{p}={self.committed.at(p, zxid)}" for p in TRACKED)

    # ------------------------------------------------------------------ a client's turn
    def act(self, cl: C, sn: SimNode) -> bool:
        """Maybe send a cas, a multi or a sync-then-read; whether it did."""
        assert sn.replica is not None
        if sn.replica.tree.get(ROOT) is None:
            return False
        r = self.rng.random()
        if r < CAS:
            self._cas(cl, sn, self.rng.choice(NAMES))
        elif r < CAS + MULTI:
            self._multi(cl, sn)
        elif r < CAS + MULTI + SYNC_READ:
            self._sync_read(cl, sn, self.rng.choice(NAMES))
        else:
            return False
        return True

    def _version(self, cl: C, tree: DataTree, path: str) -> int | None:
        """The version the client last saw of `path` (else it reads it at its member)."""
        v = self.known.get(cl.idx, {}).get(path)
        if v is None:
            node = tree.get(path)
            if node is None:
                return None
            v = node.version
        return v

    def _cas(self, cl: C, sn: SimNode, path: str) -> None:
        assert sn.replica is not None
        v = self._version(cl, sn.replica.tree, path)
        if v is None:
            return
        req: Record
        if self.rng.random() < 0.75:
            op, req = Op.SET_DATA, SetDataRequest(path, b"v%d" % (v + 1), v)
        else:
            op, req = Op.DELETE, DeleteRequest(path, v)
        self.propose(cl, sn, op, req)

    def _multi(self, cl: C, sn: SimNode) -> None:
        """2-4 ops planned on the member's tree (so that most could apply), one of them
        now and then built to fail."""
        assert sn.replica is not None
        tree = sn.replica.tree
        view = {p: state_of(tree, p) for p in TRACKED}
        ops: list[tuple[int, Record]] = []
        for _ in range(self.rng.randint(2, 4)):
            path = self.rng.choice(NAMES)
            st = view[path]
            fail = self.rng.random() < FAIL_OP
            sub: Record
            if st is None:
                sub_op = Op.CREATE if not fail else Op.CHECK
                sub = (CreateRequest(path, b"m", _OPEN, 0) if sub_op == Op.CREATE
                       else CheckVersionRequest(path, 0))
            else:
                v = st[1] + (1 if fail else 0)
                sub_op = self.rng.choice((Op.CHECK, Op.SET_DATA, Op.DELETE, Op.CREATE))
                if sub_op == Op.CHECK:
                    sub = CheckVersionRequest(path, v)
                elif sub_op == Op.SET_DATA:
                    sub = SetDataRequest(path, b"m", v)
                elif sub_op == Op.DELETE:
                    sub = DeleteRequest(path, v)
                else:  # a create of a node that exists: fails
                    sub = CreateRequest(path, b"m", _OPEN, 0)
            step(view, sub_op, sub)
            ops.append((int(sub_op), sub))
        self.propose(cl, sn, Op.MULTI, MultiRequest(tuple(ops)))

    def propose(self, cl: C, sn: SimNode, op: int, req: Record,
                then: Callable[[int, TxnResult], None] | None = None) -> None:
        """Send `req` through the member (the production path: a REQUEST txn); its reply,
        checked against its first apply, reaches the client in turn on its connection and
        goes to `then` too (a write the member loses aborts the connection: no reply)."""
        assert sn.core is not None and cl.conn is not None
        conn, s, c = cl.conn, self.s, self.s.c
        body = req
        if ("cas_ignores_version" in c.bugs and isinstance(req, SetDataRequest | DeleteRequest)
                and req.version != -1):
            body = (SetDataRequest(req.path, req.data, -1) if isinstance(req, SetDataRequest)
                    else DeleteRequest(req.path, -1))  # planted: the version is dropped
        txn = Txn(Kind.REQUEST, cl.sid, sn.clock.wall_ms(c.now), (), int(op), body.to_bytes(),
                  request=body)
        sid, sent, what = cl.sid, c.now, _describe(op, req)
        key = (0, 0, 0)  # (set once the member stamped the txn)
        answered: list[TxnResult] = []

        def on_reply(zxid: int, err: int) -> None:  # the client's side, in turn
            result = answered[0]
            self._answered(cl, op, req, reply_outcome(op, result))
            s.replied(cl, sid, op, err, sent)  # (a write renews nothing)
            s._reply(cl, conn, zxid, what, write=True)
            if then is not None:
                then(zxid, result)

        sim_req = conn.request(op, on_reply)
        slot = conn.reserve()

        def done(zxid: int, result: TxnResult) -> None:  # the member's side
            expect = self.outcomes.pop(key, None)
            self.sent.pop(key, None)
            if conn.closed:
                return  # lost with its connection
            if zxid <= 0:  # lost (no leader in time): the server aborts the connection
                s._lost(cl, conn)
                return
            got = reply_outcome(op, result)
            if expect is not None and got != expect:
                raise InvariantViolation(
                    f"request: client {cl.idx}'s {what} was answered {got} by node {sn.id} "
                    f"(zxid {zxid}); it applied as {expect}")
            answered.append(result)
            conn.complete(slot, sim_req, zxid, result.err)

        if c.trace is not None:
            c.log(f"client {cl.idx}: {what} through node {sn.id}")
        c.propose(sn, txn, done)
        key = (txn.origin, txn.boot, txn.seq)
        if _tracked(req):  # (the recipes' nodes are not: their check is theirs)
            self.sent[key] = Sent(cl.idx, op, req)
        c.process(sn)

    def _answered(self, cl: C, op: int, req: Record, got: Outcome) -> None:
        """The client learns versions from a reply (and forgets the ones it got wrong)."""
        st, known = self.stats, self.known.setdefault(cl.idx, {})
        if op == Op.MULTI:
            st.multis += 1
            assert isinstance(req, MultiRequest)
            first = got[0] if got else None
            if isinstance(first, tuple) and first[0] == _ERROR:
                st.failed_multis += 1
            for _, sub in req.ops:
                known.pop(getattr(sub, "path", ""), None)
            return
        path = getattr(req, "path", "")
        err, version = got
        assert isinstance(err, int) and isinstance(version, int)
        if getattr(req, "version", -1) != -1:
            st.cas += 1
            st.bad_versions += err == Err.BAD_VERSION
        if op == Op.SET_DATA and err == _OK:
            known[path] = version
        else:
            known.pop(path, None)

    def _sync_read(self, cl: C, sn: SimNode, path: str) -> None:
        """sync at the member, then getData there: linearizable (the cluster's check of
        its barrier), and the committed state at the member's zxid."""
        conn, c, s = cl.conn, self.s.c, self.s
        assert conn is not None
        inc = sn.incarnation
        self.syncs += 1
        sync = conn.request(int(Op.SYNC), lambda zxid, err: s._reply(cl, conn, zxid, "sync"))
        slot = conn.reserve()

        def synced() -> None:  # the barrier passed: the sync's reply takes its turn
            if not conn.closed and sn.replica is not None and sn.incarnation == inc:
                conn.complete(slot, sync, sn.replica.tree.last_zxid, 0)

        seen: list[State] = []

        def read() -> tuple[int, int]:  # the getData behind it, at its turn
            assert sn.replica is not None
            tree = sn.replica.tree
            zxid = tree.last_zxid
            got, want = state_of(tree, path), self.committed.at(path, zxid)
            if got != want:
                raise InvariantViolation(
                    f"sync-then-read: client {cl.idx} read {path} = {got} on node {sn.id} at "
                    f"zxid {zxid}; committed there: {want}")
            self.stats.sync_reads += 1
            seen.append(got)
            return zxid, 0

        def on_reply(zxid: int, err: int) -> None:
            if seen and seen[0] is not None:
                self.known.setdefault(cl.idx, {})[path] = seen[0][1]
            s._reply(cl, conn, zxid, f"sync+getData {path}")

        if c.trace is not None:
            c.log(f"client {cl.idx}: sync, getData {path} at node {sn.id}")
        c.linearizable_read(sn, f"c{self.syncs}".encode(), synced,
                            failed=lambda: s._lost(cl, conn))
        conn.reply_later(conn.request(int(Op.GET_DATA), on_reply), read)
