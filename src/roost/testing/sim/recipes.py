"""The lock and leader-latch recipes' request patterns, as roost.recipes (and Curator, and
kazoo) issue them, and the check on their holders.

A contender creates an ephemeral sequential node under the recipe's parent, its name
prefixed with its client and session (the recipe's guid: after a create whose reply was
lost it looks for its own node among the children before creating again); it reads the
children at its member; the lowest sequence holds, every other contender sets an exists
watch on the node just before its own and reads the children again when that watch fires
(or its connection moved: the watch went with it). The lock's holder releases after a few
turns by deleting its node; the latch's leader keeps it until its session ends or it
closes the latch (a delete), now and then. Both are given up with the session (the
client's close, an expiry).

A holder believes it holds while its session's lease runs (docs/client.md, "The session
lease": `SimSessions.leases`, the production client's lease, renewed by answered pings
only): the recipes'
`is_held()` and `has_leadership()` turn false once the lease has passed. After the
session ended, the belief runs to the lease's end at most; after a release, to the
release. Checked whenever a belief starts or is extended (a grant, a lease renewal): no
other client believes it holds the same recipe at that moment. The documented bound is
the lease itself: the beliefs may not overlap at all.

Planted: `lock_ignores_predecessor` (a contender takes the lock, or leadership, when its
create is answered, without looking at the nodes before its own).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, Protocol

from roost.server.watches import WatchManager
from roost.tree.txn import TxnResult
from roost.wire.errors import Err
from roost.wire.opcodes import CreateMode, Op
from roost.wire.records import ACL, CreateRequest, CreateResponse, DeleteRequest, Id

from .checker import InvariantViolation
from .requests import C, ClientRequests
from .watches import ClientWatches, SimConnection

if TYPE_CHECKING:
    from .node import SimNode
    from .world import SimWorld


class RecipeSessions(Protocol[C]):
    """What the recipes use of the simulated clients' sessions (`clients.SimSessions`,
    checked against it where it builds its `Recipes`); `C` is its client type
    (`requests.SimClientLike`: what they read of a client)."""

    @property
    def c(self) -> SimWorld: ...
    @property
    def w(self) -> ClientWatches: ...
    @property
    def leases(self) -> dict[int, float]: ...
    @property
    def requests(self) -> ClientRequests[C]: ...
    def _reply(self, cl: C, conn: SimConnection, zxid: int, what: str,
               write: bool = False) -> None: ...

RECIPE_BUGS = frozenset({"lock_ignores_predecessor"})
#: a contender's turn (outside calm stretches): the chance that an idle one contends
CONTEND = 0.15
#: the turns the lock's holder keeps it; the chance per turn that the latch's leader closes
LOCK_TURNS = (1, 4)
LATCH_CLOSE = 0.1
_OPEN = [ACL(31, Id("world", "anyone"))]
_SEQ = 10  # the sequence suffix's digits


class _PredWatch:
    """An exists watch on the predecessor (the member's WatchManager calls `notify`)."""

    def __init__(self, contender: Contender, conn: SimConnection, seq: int) -> None:
        self.contender = contender
        self.conn = conn
        #: its hash: deterministic in any process (the member's watcher sets iterate by it)
        self.seq = seq

    def __hash__(self) -> int:
        return self.seq

    def notify(self, ev_type: int, path: str, acl: tuple[ACL, ...]) -> None:
        if self.contender.watch is self and not self.conn.closed:
            self.contender.recheck = True


@dataclass(eq=False)
class Contender:
    client: int
    #: the session its node belongs to (0: none); its node's full path ("": not known)
    sid: int = 0
    node: str = ""
    creating: bool = False
    releasing: bool = False
    holds: bool = False
    turns: int = 0
    watch: _PredWatch | None = None
    #: the member's watch table that holds it
    table: WatchManager | None = None
    #: the connection its create went out on (its reply is lost if that one closes)
    create_conn: SimConnection | None = None
    recheck: bool = False
    #: the connection its getChildren is in flight on (its reply decides)
    checking: SimConnection | None = None


@dataclass
class Tenure:
    client: int
    since: int
    #: the belief's end once the session ended (its lease then); 0 while it lives
    until: float = 0.0


@dataclass
class Recipe(Generic[C]):
    """One lock (or latch) under `parent`, its contenders and its holders' tenures."""

    s: RecipeSessions[C]
    name: str
    parent: str
    rng: random.Random
    latch: bool = False
    contenders: dict[int, Contender] = field(default_factory=dict)
    #: session -> its client's tenure (while it believes it holds, or may)
    tenures: dict[int, Tenure] = field(default_factory=dict)
    grants: int = 0
    watches: int = 0

    def _prefix(self, cl: C) -> str:
        return f"{self.parent}/{cl.idx}-{cl.sid:x}-{self.name}-"

    # ------------------------------------------------------------------ the client's side
    def turn(self, cl: C, sn: SimNode, calm: bool) -> None:
        """The contender's step on its client's turn (its session is open, `sn` up)."""
        ct = self.contenders.setdefault(cl.idx, Contender(cl.idx))
        if ct.sid != cl.sid:
            self._reset(ct)
            ct.sid = cl.sid
        if ct.creating:
            if ct.create_conn is None or ct.create_conn.closed:
                ct.creating = False  # its reply is lost: look for its node
                self._check(cl, sn, ct)
            return
        if ct.releasing:
            self._delete(cl, sn, ct)
        elif ct.holds:
            ct.turns += 1
            if (self.latch and self.rng.random() < LATCH_CLOSE) or (
                    not self.latch and ct.turns >= self.rng.randint(*LOCK_TURNS)):
                self.release(ct, self.s.c.now)
                self._delete(cl, sn, ct)
        elif ct.checking is not None:  # its getChildren is in flight, or lost: again
            if ct.checking is not cl.conn or ct.checking.closed:
                self._check(cl, sn, ct)
        elif ct.node:
            w = ct.watch
            if ct.recheck or w is None or w.conn.closed or w.conn is not cl.conn:
                self._check(cl, sn, ct)
        elif not calm and self.rng.random() < CONTEND:
            self._create(cl, sn, ct)

    def _reset(self, ct: Contender) -> None:
        ct.node, ct.creating, ct.releasing, ct.holds = "", False, False, False
        ct.turns, ct.recheck, ct.checking = 0, False, None
        self._unwatch(ct)
        ct.create_conn = None

    def _unwatch(self, ct: Contender) -> None:
        """The contender forgets its watch (the member drops it: as a connection's close
        does, else the member's table keeps the watcher)."""
        if ct.watch is not None and ct.table is not None:
            ct.table.drop(ct.watch)
        ct.watch, ct.table = None, None

    def _create(self, cl: C, sn: SimNode, ct: Contender) -> None:
        assert sn.replica is not None
        reqs = self.s.requests
        if sn.replica.tree.get(self.parent) is None:  # the recipe makes its parent first
            reqs.propose(cl, sn, Op.CREATE, CreateRequest(self.parent, b"", _OPEN, 0))
            return
        ct.creating, ct.create_conn = True, cl.conn
        req = CreateRequest(self._prefix(cl), b"", _OPEN, int(CreateMode.EPHEMERAL_SEQUENTIAL))

        def created(zxid: int, result: TxnResult) -> None:
            if not ct.creating or ct.sid != cl.sid:
                return
            ct.creating = False
            if result.err == Err.OK and isinstance(result.record, CreateResponse):
                ct.node = result.record.path
                if "lock_ignores_predecessor" in self.s.c.bugs:
                    self._grant(cl, ct)  # planted: no look at the others
                    return
            self._check(cl, sn, ct)  # (after a failure: its node, if the create applied)

        reqs.propose(cl, sn, Op.CREATE, req, created)

    def _check(self, cl: C, sn: SimNode, ct: Contender) -> None:
        """getChildren at the member; on its reply: hold if lowest, else exists(watch) on
        the node before its own (looking again if that one is gone by then)."""
        ct.recheck = False
        self._unwatch(ct)
        conn = cl.conn
        if sn.replica is None or sn.watches is None or conn is None or conn.closed:
            return
        ct.checking = conn
        sid = cl.sid
        seen: list[list[str]] = []

        def children() -> tuple[int, int]:  # at the member, in turn
            assert sn.replica is not None
            tree = sn.replica.tree
            parent = tree.get(self.parent)
            seen.append(sorted(tree.children(parent), key=lambda n: n[-_SEQ:])
                        if parent else [])
            return tree.last_zxid, 0

        def on_children(zxid: int, err: int) -> None:
            self.s._reply(cl, conn, zxid, f"getChildren {self.parent}")
            if ct.checking is not conn or ct.sid != sid:
                return
            ct.checking = None
            kids = seen[0]
            prefix = self._prefix(cl).rsplit("/", 1)[1]
            mine = [k for k in kids if k.startswith(prefix)]
            if not mine:  # gone (or its lost create never applied): contend again later
                self._reset(ct)
                return
            ct.node = f"{self.parent}/{mine[0]}"
            i = kids.index(mine[0])
            if i == 0:
                self._grant(cl, ct)
                return
            self._watch_predecessor(cl, sn, ct, conn, f"{self.parent}/{kids[i - 1]}")

        conn.reply_later(conn.request(int(Op.GET_CHILDREN), on_children), children)

    def _watch_predecessor(self, cl: C, sn: SimNode, ct: Contender,
                           conn: SimConnection, pred: str) -> None:
        """exists(pred, watch): the member sets the watch at its turn; a predecessor gone
        by then means looking again."""
        table = sn.watches
        if table is None or conn.closed:
            return
        self.s.w.made += 1  # (the connections' count: a hash no connection has)
        watch = ct.watch = _PredWatch(ct, conn, self.s.w.made)
        ct.table = table
        self.watches += 1
        there: list[bool] = []

        def exists() -> tuple[int, int]:
            assert sn.replica is not None
            tree = sn.replica.tree
            if ct.watch is watch:
                table.add_data(pred, watch)
            there.append(tree.get(pred) is not None)
            return tree.last_zxid, 0

        def on_exists(zxid: int, err: int) -> None:
            self.s._reply(cl, conn, zxid, f"exists {pred}")
            if ct.watch is watch and not there[0]:
                ct.recheck = True  # gone already: look again at the next turn

        conn.reply_later(conn.request(int(Op.EXISTS), on_exists), exists)

    def _delete(self, cl: C, sn: SimNode, ct: Contender) -> None:
        def deleted(zxid: int, result: TxnResult) -> None:
            if result.err in (Err.OK, Err.NO_NODE) and ct.sid == cl.sid:
                self._reset(ct)

        self.s.requests.propose(cl, sn, Op.DELETE, DeleteRequest(ct.node, -1), deleted)

    # ------------------------------------------------------------------ the beliefs
    def _grant(self, cl: C, ct: Contender) -> None:
        c = self.s.c
        ct.holds, ct.turns = True, 0
        self._unwatch(ct)
        self.grants += 1
        self.tenures[cl.sid] = Tenure(cl.idx, c.now)
        c.log(f"client {cl.idx}: holds {self.name} ({ct.node})")
        self.check(cl.sid)

    def release(self, ct: Contender, now: int) -> None:
        """The holder stops believing (it then deletes its node)."""
        ct.holds, ct.releasing = False, True
        self.tenures.pop(ct.sid, None)

    def session_ended(self, cl: C, closed: bool) -> None:
        """The client's session ended: closed by the client (its belief ends now), or
        expired (it believes until its lease runs out)."""
        ct = self.contenders.get(cl.idx)
        if ct is not None:
            self._reset(ct)
            ct.sid = 0
        t = self.tenures.get(cl.sid)
        if t is None:
            return
        if closed:
            del self.tenures[cl.sid]
        else:
            t.until = self.s.leases.get(cl.sid, 0.0)

    def _end(self, sid: int, t: Tenure) -> float:
        return t.until or self.s.leases.get(sid, 0.0)

    def check(self, sid: int) -> None:
        """Session `sid`'s client's belief started or was extended: nobody else's
        client believes now."""
        t = self.tenures.get(sid)
        now = self.s.c.now
        if t is None or self._end(sid, t) <= now:
            return
        for other, o in list(self.tenures.items()):
            if other == sid:
                continue
            if o.until and o.until <= now:
                del self.tenures[other]  # its belief is over for good
                continue
            end = self._end(other, o)
            if end > now and o.client != t.client:
                raise InvariantViolation(
                    f"{self.name}: client {t.client} (session {sid:#x}) holds it since "
                    f"{t.since} ms while client {o.client} (session {other:#x}, since "
                    f"{o.since} ms) believes it holds it to {end:.1f} ms (its lease)")


class Recipes(Generic[C]):
    """The lock and the latch (one per run)."""

    def __init__(self, s: RecipeSessions[C], seed: int) -> None:
        rng = random.Random(seed + 0x10C4)
        self.all = (Recipe(s, "lock", "/l", rng), Recipe(s, "latch", "/e", rng, latch=True))

    def turn(self, cl: C, sn: SimNode, calm: bool) -> None:
        for r in self.all:
            if sn.core is None or cl.conn is None or cl.conn.closed or not cl.sid:
                return  # (a proposal stopped the member: its disk failed)
            r.turn(cl, sn, calm)

    def renewed(self, sid: int) -> None:
        for r in self.all:
            if sid in r.tenures:
                r.check(sid)

    def session_ended(self, cl: C, closed: bool) -> None:
        for r in self.all:
            r.session_ended(cl, closed)
