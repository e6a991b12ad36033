"""Client write txns against the tree's state (`roost.tree.state.TreeState`), with
ZooKeeper 3.8's checks in ZooKeeper's order.

Every function returns ``(err, response record or None)``, appends watch events to the
caller's list and, when given an undo list, registers how to revert each change. A
non-zero err means nothing was changed. The first failing check wins, in this order:

* create: flags; TTL enabled/valid; session (ephemerals); '/' and no NUL in the path;
  ACL; parent exists; CREATE on parent; suffix + full path validation; node exists;
  parent ephemeral; data size.
* delete: path shape / system node; parent exists; DELETE on parent; node exists;
  version; children.
* setData: path; node; WRITE; data size; version.
* setACL: path; ACL; node; ADMIN; aversion.
* check: path; node; READ; version.

Inside a multi, creates are re-typed by their flags as ZooKeeper 3.8.4 does: container
flags make a createContainer, TTL flags a createTTL, createTTL with other flags a plain
create; a create op sent as type 1 answers type 1, every other create answers 15.
Invalid create flags (except in createTTL) refuse the whole multi with MarshallingError.
"""

from __future__ import annotations

from collections.abc import Callable

from roost.tree.acl import check_acl, fixup_acl
from roost.tree.context import MAX_TTL_MS, TxnContext, WatchEvent
from roost.tree.node import Kind, Node
from roost.tree.paths import SYSTEM_PATHS, is_valid_path, split_path
from roost.tree.state import TreeState
from roost.wire.errors import Err
from roost.wire.multi import MultiRequest, MultiResponse, OpResult
from roost.wire.opcodes import CREATE_MODES, CreateMode, EventType, Op, Perm
from roost.wire.records import (
    CheckVersionRequest,
    Create2Response,
    CreateRequest,
    CreateResponse,
    CreateTTLRequest,
    DeleteRequest,
    Record,
    SetACLRequest,
    SetACLResponse,
    SetDataRequest,
    SetDataResponse,
)

Undo = list[Callable[[], None]]
Events = list[WatchEvent]
Outcome = tuple[int, Record | None]
OpFunc = Callable[[TreeState, TxnContext, int, Record, Events, "Undo | None"], Outcome]

_NO_RESULT: Outcome = (Err.OK, None)
# plain ints: IntFlag arithmetic is slow on the hot path
_READ, _WRITE, _CREATE = int(Perm.READ), int(Perm.WRITE), int(Perm.CREATE)
_DELETE, _ADMIN = int(Perm.DELETE), int(Perm.ADMIN)
# Plain ints for what every create and setData looks at: reading an enum's member as a
# class attribute costs ~0.13 us each in CPython 3.11, several times per create.
_OP_CREATE, _OP_CREATE_TTL, _OP_MULTI = int(Op.CREATE), int(Op.CREATE_TTL), int(Op.MULTI)
_EV_CREATED, _EV_CHILDREN = int(EventType.NODE_CREATED), int(EventType.NODE_CHILDREN_CHANGED)
_EV_DATA = int(EventType.NODE_DATA_CHANGED)
_KIND_EPHEMERAL = int(Kind.EPHEMERAL)
#: the create flags that need no TTL (persistent, ephemeral, sequential, container) and
#: those of them that are ephemeral / sequential
_PLAIN_FLAGS = frozenset({0, 1, 2, 3, 4})
_EPHEMERAL_FLAGS = frozenset({1, 3})
_SEQUENTIAL_FLAGS = frozenset({2, 3})


def _version_ok(current: int, expected: int) -> bool:
    return expected == -1 or expected == current


def _create_mode(
    op: int, req: CreateRequest | CreateTTLRequest, ttl_on: bool
) -> tuple[CreateMode | None, int]:
    """(the create mode, 0) or (None, an error code) (checks 1-2: flags, TTL enabled and
    valid). Not one `int | CreateMode`: that type is just `int` to mypy (CreateMode is an
    int), so compiled code would return the mode as a plain int."""
    mode = CREATE_MODES.get(req.flags)
    if mode is None:
        return None, Err.BAD_ARGUMENTS
    if mode.ttl and not ttl_on:
        return None, Err.UNIMPLEMENTED
    ttl = req.ttl if isinstance(req, CreateTTLRequest) else -1
    if mode.ttl:
        if not 0 < ttl <= MAX_TTL_MS:
            return None, Err.BAD_ARGUMENTS
    elif ttl >= 0 or op == Op.CREATE_TTL:
        return None, Err.BAD_ARGUMENTS
    return mode, 0


def _node_kind(op: int, mode: CreateMode, ctx: TxnContext, ttl: int) -> tuple[int, int]:
    """(kind, owner) of a new node; the opcode decides containers and TTL nodes."""
    if op == Op.CREATE_CONTAINER:
        return Kind.CONTAINER, 0
    if op == Op.CREATE_TTL:
        return Kind.TTL, ttl
    if mode.ephemeral:
        return Kind.EPHEMERAL, ctx.session_id
    return Kind.PERSISTENT, 0


def create(
    tree: TreeState, ctx: TxnContext, op: int, req: Record, events: Events, undo: Undo | None
) -> Outcome:
    if type(req) is CreateRequest and req.flags in _PLAIN_FLAGS and op != _OP_CREATE_TTL:
        # the usual create (no TTL): what _create_mode decides, without its calls
        flags = req.flags
        ephemeral, sequential = flags in _EPHEMERAL_FLAGS, flags in _SEQUENTIAL_FLAGS
    else:
        if not isinstance(req, CreateRequest | CreateTTLRequest):
            return Err.MARSHALLING_ERROR, None
        mode, err = _create_mode(op, req, tree.config.ttl_enabled)
        if mode is None:
            return err, None
        flags = int(mode)
        ephemeral, sequential = mode.ephemeral, mode.sequential
    if ephemeral and ctx.session_id not in tree.sessions:
        return Err.SESSION_EXPIRED, None
    path = req.path
    split = split_path(path)
    if split is None or "\0" in path:
        return Err.BAD_ARGUMENTS, None
    acl = fixup_acl(req.acl, ctx.auth)
    if acl is None:
        return Err.INVALID_ACL, None
    parent_path = split[0]
    parent = tree.nodes.get(parent_path)
    if parent is None:
        return Err.NO_NODE, None
    if not check_acl(parent.acl, _CREATE, ctx.auth):
        return Err.NO_AUTH, None
    if sequential:
        path = f"{path}{parent.cversion:010d}"
        split = (parent_path, split[1] + path[len(req.path) :])
    if not is_valid_path(path):
        return Err.BAD_ARGUMENTS, None
    if path in tree.nodes:
        return Err.NODE_EXISTS, None
    if parent.kind == _KIND_EPHEMERAL:
        return Err.NO_CHILDREN_FOR_EPHEMERALS, None
    data = req.data
    if data is not None and len(data) > tree.config.max_data_bytes:
        return Err.BAD_ARGUMENTS, None
    kind: int
    if op == _OP_CREATE and not ephemeral:
        kind, owner = 0, 0  # Kind.PERSISTENT
    else:
        ttl = req.ttl if isinstance(req, CreateTTLRequest) else 0
        kind, owner = _node_kind(op, CREATE_MODES[flags], ctx, ttl)
    zxid = ctx.zxid
    node = Node(data, acl, zxid, ctx.time_ms, kind, owner)
    tree.link(path, node, zxid, undo, split)
    events.append(WatchEvent(_EV_CREATED, path, node.acl))
    events.append(WatchEvent(_EV_CHILDREN, parent_path, parent.acl))
    if op == _OP_CREATE:
        return 0, CreateResponse(path)
    return 0, Create2Response(path, node.stat())


def delete(
    tree: TreeState, ctx: TxnContext, op: int, req: Record, events: Events, undo: Undo | None
) -> Outcome:
    if not isinstance(req, DeleteRequest):
        return Err.MARSHALLING_ERROR, None
    path = req.path
    split = split_path(path)
    if split is None or "\0" in path or path in SYSTEM_PATHS:
        return Err.BAD_ARGUMENTS, None
    parent = tree.nodes.get(split[0])
    if parent is None:
        return Err.NO_NODE, None
    if not check_acl(parent.acl, _DELETE, ctx.auth):
        return Err.NO_AUTH, None
    node = tree.nodes.get(path)
    if node is None:
        return Err.NO_NODE, None
    if not _version_ok(node.version, req.version):
        return Err.BAD_VERSION, None
    if node.children:
        return Err.NOT_EMPTY, None
    tree.delete_with_events(path, ctx.zxid, events, undo)
    return _NO_RESULT


def set_data(
    tree: TreeState, ctx: TxnContext, op: int, req: Record, events: Events, undo: Undo | None
) -> Outcome:
    if not isinstance(req, SetDataRequest):
        return Err.MARSHALLING_ERROR, None
    if not is_valid_path(req.path):
        return Err.BAD_ARGUMENTS, None
    node = tree.nodes.get(req.path)
    if node is None:
        return Err.NO_NODE, None
    if not check_acl(node.acl, _WRITE, ctx.auth):
        return Err.NO_AUTH, None
    if req.data is not None and len(req.data) > tree.config.max_data_bytes:
        return Err.BAD_ARGUMENTS, None
    if not _version_ok(node.version, req.version):
        return Err.BAD_VERSION, None
    tree.set_node_data(node, req.data, ctx.zxid, ctx.time_ms, undo)
    events.append(WatchEvent(_EV_DATA, req.path, node.acl))
    return 0, SetDataResponse(node.stat())


def set_acl(
    tree: TreeState, ctx: TxnContext, op: int, req: Record, events: Events, undo: Undo | None
) -> Outcome:
    if not isinstance(req, SetACLRequest):
        return Err.MARSHALLING_ERROR, None
    if not is_valid_path(req.path):
        return Err.BAD_ARGUMENTS, None
    acl = fixup_acl(req.acl, ctx.auth)
    if acl is None:
        return Err.INVALID_ACL, None
    node = tree.nodes.get(req.path)
    if node is None:
        return Err.NO_NODE, None
    if not check_acl(node.acl, _ADMIN, ctx.auth):
        return Err.NO_AUTH, None
    if not _version_ok(node.aversion, req.version):
        return Err.BAD_VERSION, None
    tree.set_node_acl(node, acl, undo)
    return Err.OK, SetACLResponse(node.stat())


def check(
    tree: TreeState, ctx: TxnContext, op: int, req: Record, events: Events, undo: Undo | None
) -> Outcome:
    if not isinstance(req, CheckVersionRequest):
        return Err.MARSHALLING_ERROR, None
    if not is_valid_path(req.path):
        return Err.BAD_ARGUMENTS, None
    node = tree.nodes.get(req.path)
    if node is None:
        return Err.NO_NODE, None
    if not check_acl(node.acl, _READ, ctx.auth):
        return Err.NO_AUTH, None
    if not _version_ok(node.version, req.version):
        return Err.BAD_VERSION, None
    return _NO_RESULT


#: ops allowed inside a multi, and their handlers
MULTI_OPS: dict[int, OpFunc] = {
    Op.CREATE: create,
    Op.CREATE2: create,
    Op.CREATE_CONTAINER: create,
    Op.CREATE_TTL: create,
    Op.DELETE: delete,
    Op.SET_DATA: set_data,
    Op.CHECK: check,
}
#: every op apply() accepts besides MULTI
SINGLE_OPS: dict[int, OpFunc] = {**MULTI_OPS, Op.SET_ACL: set_acl}


def _success_result(op: int, rec: Record | None) -> OpResult:
    if op in (Op.CREATE2, Op.CREATE_CONTAINER, Op.CREATE_TTL):
        return OpResult(Op.CREATE2, Err.OK, rec)
    return OpResult(op, Err.OK, rec)


def _multi_create_op(op: int, req: Record) -> tuple[int, Record] | None:
    """How ZooKeeper 3.8.4 re-types a create inside a multi: the flags pick container/TTL
    (MultiOperationRecord / Op.create). None: invalid flags, the whole multi is refused."""
    if isinstance(req, CreateTTLRequest):
        flags = req.flags
        if flags in (CreateMode.PERSISTENT_WITH_TTL, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL):
            return Op.CREATE_TTL, req
        plain = CreateRequest(req.path, req.data, req.acl, flags)  # the ttl is dropped
        return (Op.CREATE_CONTAINER if flags == CreateMode.CONTAINER else Op.CREATE), plain
    if not isinstance(req, CreateRequest):
        return None
    try:
        mode = CreateMode(req.flags)
    except ValueError:
        return None
    if mode.ttl:  # no ttl field: fails the TTL checks like ZooKeeper (ttl -1)
        return Op.CREATE_TTL, CreateTTLRequest(req.path, req.data, req.acl, req.flags, -1)
    return (Op.CREATE_CONTAINER if mode == CreateMode.CONTAINER else op), req


def _multi_ops(req: Record) -> list[tuple[int, Record]] | None:
    if not isinstance(req, MultiRequest):
        return None
    ops: list[tuple[int, Record]] = []
    for op, sub in req.ops:
        if op not in MULTI_OPS:
            return None
        if op in (Op.CREATE, Op.CREATE2, Op.CREATE_CONTAINER, Op.CREATE_TTL):
            typed = _multi_create_op(op, sub)
            if typed is None:
                return None
            ops.append(typed)
        else:
            ops.append((op, sub))
    return ops


def multi(
    tree: TreeState, ctx: TxnContext, op: int, req: Record, events: Events, undo: Undo | None
) -> Outcome:
    """All ops or none. On failure: Ok (rolled back) before the failing op, its error,
    then RuntimeInconsistency; the reply itself is still Ok."""
    ops = _multi_ops(req)
    if ops is None:
        return Err.MARSHALLING_ERROR, None
    changes: Undo = []
    pending: list[WatchEvent] = []
    results: list[OpResult] = []
    for i, (sub_op, sub_req) in enumerate(ops):
        err, rec = MULTI_OPS[sub_op](tree, ctx, sub_op, sub_req, pending, changes)
        if err != Err.OK:
            if tree.config._bugs and "multi_partial_apply" in tree.config._bugs:
                changes = changes[1:]  # planted: the first op's change stays
            for revert in reversed(changes):
                revert()
            after = len(ops) - i - 1
            failed = [OpResult(Op.ERROR, Err.OK)] * i + [OpResult.error(err)]
            failed += [OpResult.error(Err.RUNTIME_INCONSISTENCY)] * after
            return Err.OK, MultiResponse(tuple(failed))
        results.append(_success_result(sub_op, rec))
    events.extend(pending)
    if undo is not None:
        undo.extend(changes)
    return Err.OK, MultiResponse(tuple(results))


def apply_op(
    tree: TreeState, ctx: TxnContext, op: int, req: Record
) -> tuple[int, Record | None, list[WatchEvent]]:
    """Dispatch one write; unknown opcodes give Unimplemented and change nothing."""
    func = SINGLE_OPS.get(op) or (multi if op == _OP_MULTI else None)
    if func is None:
        return Err.UNIMPLEMENTED, None, []
    events: list[WatchEvent] = []
    err, rec = func(tree, ctx, op, req, events, None)
    return err, rec, events
