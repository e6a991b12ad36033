"""`/v1/txn`: Consul's transactions with the KV verbs, applied as one ZooKeeper multi.

The verbs are planned in order against the member's tree (after a read barrier) with an
overlay of what earlier verbs of the same transaction changed. A verb whose condition
fails rolls the whole transaction back (409 with Consul's `Errors`) before anything is
written. Otherwise every write becomes one op of a single multi, each naming the znode
version it was planned against (every key a verb read gets a version check, and a key a
verb found missing is created and deleted again in the multi), so the multi either
applies as planned, all at one zxid, or fails as a whole because something changed
meanwhile; then the plan is made again from the new state. Only the multi's writes count:
a transaction with no writes is answered from the plan, and the guards are left out.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from roost.http.common import Auth, consistent, error, identities, reply
from roost.http.envelope import NO_SESSION, Entry, decode, encode
from roost.http.keys import BadKey, key_path, list_prefix, path_key, scan_root
from roost.http.sessions import BadSession, parse_id
from roost.tree.state import OPEN_ACL
from roost.wire.errors import Err
from roost.wire.multi import MultiRequest, MultiResponse
from roost.wire.opcodes import Op
from roost.wire.records import (
    CheckVersionRequest,
    CreateRequest,
    DeleteRequest,
    Record,
    SetDataRequest,
)

if TYPE_CHECKING:
    from roost.http.kv import KvApi

#: Consul's limit on operations in one transaction
MAX_OPS = 128
#: plans made again after the state changed under a multi
MAX_ATTEMPTS = 20
WRITE_VERBS = frozenset({"set", "cas", "lock", "unlock", "delete", "delete-tree", "delete-cas"})
READ_VERBS = frozenset(
    {"get", "get-or-empty", "get-tree", "check-index", "check-session", "check-not-exists"}
)


class Rollback(Exception):
    """A verb's condition failed: the transaction is rolled back."""


@dataclass(frozen=True, slots=True)
class KvOp:
    verb: str
    key: str
    value: bytes = b""
    flags: int = 0
    index: int = 0
    session: str = ""


def parse_ops(body: bytes) -> list[KvOp]:
    """The request body: a JSON list of {"KV": {...}} (ValueError with Consul's wording)."""
    try:
        raw: Any = json.loads(body or b"null")
    except ValueError as e:
        raise ValueError(f"Failed to parse body: {e}") from None
    if not isinstance(raw, list):
        raise ValueError("Failed to parse body: expected a JSON list of operations")
    if len(raw) > MAX_OPS:
        raise OverflowError(f"Transaction contains too many operations ({len(raw)} > {MAX_OPS})")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or len(item) != 1:
            raise ValueError(f"operation {i}: expected one of KV, Node, Service or Check")
        (kind, spec), = item.items()
        if str(kind).lower() != "kv":
            raise ValueError(f"operation {i}: roost's /v1/txn takes KV operations only "
                             f"(use /v1/catalog for {kind})")
        if not isinstance(spec, dict):
            raise ValueError(f"operation {i}: KV must be an object")
        d = {str(k).lower(): v for k, v in spec.items()}
        verb = str(d.get("verb") or "")
        if verb not in WRITE_VERBS | READ_VERBS:
            raise ValueError(f"operation {i}: unknown KV verb {verb!r}")
        try:
            value = base64.b64decode(d.get("value") or "", validate=True)
            flags, index = int(d.get("flags") or 0), int(d.get("index") or 0)
        except (binascii.Error, TypeError, ValueError):
            raise ValueError(f"operation {i}: bad Value, Flags or Index") from None
        if not 0 <= flags < 1 << 64 or not 0 <= index < 1 << 64:
            raise ValueError(f"operation {i}: Flags and Index must be unsigned 64-bit")
        out.append(KvOp(verb, str(d.get("key") or ""), value, flags, index,
                        str(d.get("session") or "")))
    return out


@dataclass(slots=True)
class Slot:
    """One znode as the transaction sees it so far (None indexes: written by it)."""

    exists: bool
    data: bytes | None
    version: int
    czxid: int | None
    mzxid: int | None


@dataclass(slots=True)
class Plan:
    writes: list[tuple[int, Record]] = field(default_factory=list)
    #: per result: the KV JSON with CreateIndex/ModifyIndex None where the txn's zxid goes
    results: list[dict[str, object]] = field(default_factory=list)
    has_writes: bool = False


class Planner:
    def __init__(self, kv: KvApi, auth: Auth) -> None:
        self.kv = kv
        self.auth = auth
        self.tree = kv.server.tree
        self.root = kv.root
        self.slots: dict[str, Slot] = {}
        self.plan = Plan()

    # --- the overlay ----------------------------------------------------------------------
    def slot(self, path: str) -> Slot:
        s = self.slots.get(path)
        if s is None:
            n = self.tree.get(path)
            s = (Slot(True, n.data, n.version, n.czxid, n.mzxid) if n is not None
                 else Slot(False, None, -1, None, None))
            self.slots[path] = s
        return s

    def children(self, path: str) -> set[str]:
        n = self.tree.get(path)
        names = set(n.children or {}) if n is not None else set()
        for p, s in self.slots.items():
            parent, _, name = p.rpartition("/")
            if parent == path:
                (names.add if s.exists else names.discard)(name)
        return names

    def entry(self, key: str, folder_must_match: bool = True) -> tuple[str, bool, Entry | None]:
        """(path, folder, the key's live entry or None)."""
        try:
            path, folder = key_path(self.root, key)
        except BadKey as bad:
            raise Rollback(str(bad)) from None
        e = decode(self.slot(path).data)
        if e is None or not self.kv.visible(e) or (folder_must_match and e.folder != folder):
            return path, folder, None
        return path, folder, e

    def check_read(self, path: str) -> None:
        """Make the multi fail if the znode changed since the plan read it."""
        s = self.slot(path)
        if s.exists:
            self.plan.writes.append((Op.CHECK, CheckVersionRequest(path, s.version)))

    def check_absent(self, path: str) -> None:
        """Make the multi fail if the znode was created since the plan found it missing:
        create it (and missing parents) and delete them again in the same multi. This
        leaves nothing behind but bumps the parent's child version."""
        if self.slot(path).exists:
            self.check_read(path)
            return
        parts = path.strip("/").split("/")
        made: list[str] = []
        cur = ""
        for part in parts:
            cur += "/" + part
            if not self.slot(cur).exists:
                self.plan.writes.append((Op.CREATE, CreateRequest(cur, b"", list(OPEN_ACL), 0)))
                made.append(cur)
        for p in reversed(made):
            self.plan.writes.append((Op.DELETE, DeleteRequest(p, 0)))

    def readable(self, path: str) -> bool:
        n = self.tree.get(path)
        return n is None or self.kv._readable(n, self.auth)

    def result(self, key: str, path: str, e: Entry, with_value: bool) -> None:
        """Add a KV result (a key the token may not read is left out, as in Consul)."""
        if not self.readable(path):
            return
        s = self.slot(path)
        shown = self.kv._shown(e)
        out: dict[str, object] = {
            "LockIndex": shown.lock_index,
            "Key": key,
            "Flags": shown.flags,
            "Value": base64.b64encode(shown.value).decode() if with_value and shown.value
            else None,
            "CreateIndex": s.czxid,
            "ModifyIndex": s.mzxid,
        }
        if shown.session != NO_SESSION:
            out["Session"] = shown.session_id
        self.plan.results.append(out)

    def write(self, path: str, data: bytes) -> None:
        self.plan.has_writes = True
        s = self.slot(path)
        if s.exists:
            self.plan.writes.append((Op.SET_DATA, SetDataRequest(path, data, s.version)))
            s.version += 1
        else:
            parts = path.strip("/").split("/")
            cur = ""
            for part in parts[:-1]:
                cur += "/" + part
                if not self.slot(cur).exists:
                    self.plan.writes.append((Op.CREATE, CreateRequest(cur, b"", list(OPEN_ACL), 0)))
                    self.slots[cur] = Slot(True, b"", 0, None, None)
            self.plan.writes.append((Op.CREATE, CreateRequest(path, data, list(OPEN_ACL), 0)))
            s.exists, s.version, s.czxid = True, 0, None
        s.data, s.mzxid = data, None

    def remove(self, path: str) -> None:
        self.plan.has_writes = True
        s = self.slot(path)
        if self.children(path):  # keep the znode as a directory for its children
            self.plan.writes.append((Op.SET_DATA, SetDataRequest(path, b"", s.version)))
            s.version += 1
            s.data, s.mzxid = b"", None
        else:
            self.plan.writes.append((Op.DELETE, DeleteRequest(path, s.version)))
            self.slots[path] = Slot(False, None, -1, None, None)

    # --- the verbs ------------------------------------------------------------------------
    def session(self, op: KvOp) -> bytes:
        try:
            return parse_id(op.session)
        except BadSession:
            raise Rollback(f"invalid session {op.session!r}") from None

    def apply(self, op: KvOp) -> None:
        getattr(self, "v_" + op.verb.replace("-", "_"))(op)

    def v_set(self, op: KvOp) -> None:
        path, folder, cur = self.entry(op.key, False)
        new = self.kv._next(cur or Entry(), op.value, op.flags, None, None)
        assert new is not None
        self._put(op.key, path, folder, new)

    def _put(self, key: str, path: str, folder: bool, new: Entry) -> None:
        self.write(path, encode(new.with_(folder=folder, enveloped=True)))
        self.result(key, path, new, False)

    def v_cas(self, op: KvOp) -> None:
        path, folder, cur = self.entry(op.key, False)
        s = self.slot(path)
        ok = cur is None if op.index == 0 else cur is not None and s.mzxid == op.index
        if not ok:
            raise Rollback(f'failed to set key "{op.key}", index is stale')
        self.check_read(path)
        new = self.kv._next(cur or Entry(), op.value, op.flags, None, None)
        assert new is not None
        self._put(op.key, path, folder, new)

    def v_lock(self, op: KvOp) -> None:
        sess = self.session(op)
        if not self.kv.sessions.alive(sess):
            raise Rollback(f'failed to lock key "{op.key}": invalid session "{op.session}"')
        path, folder, cur = self.entry(op.key, False)
        new = self.kv._next(cur or Entry(), op.value, op.flags, sess, None)
        if new is None:
            raise Rollback(f'failed to lock key "{op.key}", lock is already held')
        self._put(op.key, path, folder, new)

    def v_unlock(self, op: KvOp) -> None:
        sess = self.session(op)
        path, folder, cur = self.entry(op.key, False)
        new = self.kv._next(cur or Entry(), op.value, op.flags, None, sess)
        if new is None:
            raise Rollback(f'failed to unlock key "{op.key}", lock isn\'t held, or is held '
                           "by another session")
        self._put(op.key, path, folder, new)

    def _existing(self, op: KvOp) -> tuple[str, Entry]:
        path, _folder, cur = self.entry(op.key)
        if cur is None:
            raise Rollback(f'key "{op.key}" doesn\'t exist')
        self.check_read(path)
        return path, cur

    def v_get(self, op: KvOp) -> None:
        path, cur = self._existing(op)
        self.result(op.key, path, cur, True)

    def v_get_or_empty(self, op: KvOp) -> None:
        path, _folder, cur = self.entry(op.key)
        if cur is None:
            self.check_absent(path)
            self.plan.results.append({"KV": None})
            return
        self.check_read(path)
        self.result(op.key, path, cur, True)

    def v_get_tree(self, op: KvOp) -> None:
        for key, path, e in self._tree(op.key):
            self.check_read(path)
            self.result(key, path, e, True)

    def _tree(self, prefix: str) -> list[tuple[str, str, Entry]]:
        """Every key with `prefix`, as the transaction sees them."""
        found = {f.path: f.key for f in list_prefix(self.tree, self.root, prefix,
                                                   self.kv.visible)}
        for p, s in self.slots.items():
            e = decode(s.data) if s.exists else None
            if e is not None and e.enveloped and (p + "/").startswith(self.root + "/"):
                k = path_key(self.root, p, e)
                if k.startswith(prefix):
                    found[p] = k
        out = []
        for p, k in sorted(found.items(), key=lambda kv: kv[1]):
            e = decode(self.slot(p).data)
            if e is not None and self.kv.visible(e):
                out.append((k, p, e))
        return out

    def v_check_index(self, op: KvOp) -> None:
        path, cur = self._existing(op)
        s = self.slot(path)
        if s.mzxid != op.index:
            raise Rollback(f"current modify index {s.mzxid} != {op.index}")
        self.result(op.key, path, cur, False)

    def v_check_session(self, op: KvOp) -> None:
        path, cur = self._existing(op)
        shown = self.kv._shown(cur)
        if shown.session_id != op.session:
            raise Rollback(f'failed session check for key "{op.key}", current session '
                           f"{shown.session_id!r} != {op.session!r}")
        self.result(op.key, path, cur, False)

    def v_check_not_exists(self, op: KvOp) -> None:
        path, _folder, cur = self.entry(op.key)
        if cur is not None:
            raise Rollback(f'key "{op.key}" exists')
        self.check_absent(path)

    def v_delete(self, op: KvOp) -> None:
        path, _folder, cur = self.entry(op.key)
        if cur is not None:
            self.remove(path)

    def v_delete_cas(self, op: KvOp) -> None:
        path, _folder, cur = self.entry(op.key)
        s = self.slot(path)
        if cur is None or s.mzxid != op.index:
            raise Rollback(f'failed to delete key "{op.key}", index is stale')
        self.remove(path)

    def v_delete_tree(self, op: KvOp) -> None:
        path, node, partial = scan_root(self.tree, self.root, op.key)
        doomed: set[str] = set()
        if node is not None or path in self.slots:
            starts = [path] if partial == "" and path != self.root else [
                f"{path}/{n}" for n in self.children(path) if n.startswith(partial)]
            stack = list(starts)
            while stack:
                p = stack.pop()
                if self.slot(p).exists:
                    doomed.add(p)
                    stack.extend(f"{p}/{c}" for c in self.children(p))
        for p in sorted(doomed, key=lambda s: s.count("/"), reverse=True):
            self.plan.has_writes = True
            self.plan.writes.append((Op.DELETE, DeleteRequest(p, -1)))
            self.slots[p] = Slot(False, None, -1, None, None)


def multi_error(rec: Record | None) -> int:
    """The error of a multi that failed as a whole (it answers Ok with per-op errors)."""
    if isinstance(rec, MultiResponse):
        for r in rec.results:
            if r.type == Op.ERROR and r.err not in (Err.OK, Err.RUNTIME_INCONSISTENCY):
                return r.err
    return Err.OK


class TxnApi:
    def __init__(self, kv: KvApi) -> None:
        self.kv = kv

    def routes(self) -> list[web.RouteDef]:
        return [web.put("/v1/txn", self.txn), web.post("/v1/txn", self.txn)]

    async def txn(self, request: web.Request) -> web.Response:
        server = self.kv.server
        auth = identities(server, request)
        try:
            kv_ops = parse_ops(await request.read())
        except OverflowError as e:
            raise web.HTTPRequestEntityTooLarge(MAX_OPS, 0, text=str(e)) from None
        except ValueError as e:
            raise error(400, str(e)) from None
        if any(o.verb in WRITE_VERBS for o in kv_ops):
            self.kv._check_writable()
        await consistent(server, request)
        for _ in range(MAX_ATTEMPTS):
            planner = Planner(self.kv, auth)
            errors = []
            for i, op in enumerate(kv_ops):
                try:
                    planner.apply(op)
                except Rollback as e:
                    errors.append({"OpIndex": i, "What": str(e)})
                    break
            if errors:
                return reply({"Results": None, "Errors": errors}, status=409)
            plan = planner.plan
            zxid = server.tree.last_zxid
            if plan.has_writes:
                zxid, err, rec = await server.execute(Op.MULTI, MultiRequest(tuple(plan.writes)),
                                                      0, auth)
                err = err or multi_error(rec)
                if err in (Err.BAD_VERSION, Err.NODE_EXISTS, Err.NO_NODE, Err.NOT_EMPTY):
                    continue  # changed since the plan: plan again
                if err == Err.NO_AUTH:
                    raise error(403, "Permission denied")
                if err == Err.CONNECTION_LOSS:
                    raise error(500, "outcome unknown: the server lost its leader")
                if err:
                    raise error(500, f"transaction failed: {Err(err).name}")
            results = []
            for r in plan.results:
                if "KV" in r:
                    results.append(r)
                    continue
                for k in ("CreateIndex", "ModifyIndex"):
                    if r[k] is None:
                        r[k] = zxid
                results.append({"KV": r})
            return reply({"Results": results, "Errors": None},
                         None if plan.has_writes else zxid)
        raise error(500, "too much contention on these keys, try again")


