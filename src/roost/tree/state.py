"""TreeState: the replicated state (znodes, sessions, last zxid), its reads and its
primitive changes.

It is the bottom of the tree package: client-facing write semantics (validation, order of
checks, multi) in `ops.py` and snapshots and the divergence digest in `snapshot.py` work on
a TreeState, and `roost.tree.datatree.DataTree` (the state with those on it: `apply`,
`to_bytes`, `from_bytes`, `digest`) is the class everything else uses. Everything here is
deterministic: no I/O, clocks or randomness; time and zxid arrive in a `TxnContext`.

Every primitive change accepts an optional undo list: when given, it appends a callable
that reverts the change. `ops.multi` uses this to roll back a failed multi exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from roost.tree import acl as acl_mod
from roost.tree.context import (
    DEFAULT_CONFIG,
    SessionInfo,
    TreeConfig,
    TxnContext,
    WatchEvent,
)
from roost.tree.node import Kind, Node, wrap32
from roost.tree.paths import ROOT, SYSTEM_PATHS, split_path
from roost.wire.opcodes import EventType, Perm
from roost.wire.records import ACL, Id, Stat

Undo = list[Callable[[], None]]
OPEN_ACL = (ACL(int(Perm.ALL), acl_mod.WORLD_ANYONE),)
_INT32_MAX = (1 << 31) - 1
# plain ints (an enum member read off its class costs ~0.13 us: these run for every delete)
_EV_DELETED, _EV_CHILDREN = int(EventType.NODE_DELETED), int(EventType.NODE_CHILDREN_CHANGED)
READ_ACL = (ACL(int(Perm.READ), acl_mod.WORLD_ANYONE),)


class TreeState:
    """The ZooKeeper data tree's state and primitive changes (see the module docs)."""

    def __init__(self, config: TreeConfig = DEFAULT_CONFIG) -> None:
        """A fresh tree: /, /zookeeper, /zookeeper/quota, /zookeeper/config."""
        self.config = config
        self.clear()
        self._init_system_nodes()

    def clear(self) -> None:
        """Drop every node and session (snapshot loading starts from here)."""
        self.last_zxid = 0
        #: the time of the last applied txn: a txn applies at no earlier time (see txn.py)
        self.last_time_ms = 0
        self.nodes: dict[str, Node] = {}
        self.sessions: dict[int, SessionInfo] = {}
        self.acl_cache = acl_mod.AclCache()
        self.containers: set[str] = set()
        self.ttls: set[str] = set()
        self._data_size = 0
        self._ephemeral_count = 0

    def _init_system_nodes(self) -> None:
        self.insert_root(Node(b"", self.acl_cache.acquire(OPEN_ACL), 0, 0))
        for path, acl in (
            ("/zookeeper", OPEN_ACL),
            ("/zookeeper/quota", OPEN_ACL),
            ("/zookeeper/config", READ_ACL),
        ):
            node = Node(b"", acl, 0, 0)
            self.link(path, node)
        # ZooKeeper sets the config node's ACL with version -1 after creating it
        self.nodes["/zookeeper/config"].aversion = -1
        # The system nodes' creation leaves every stat field at zero
        for node in self.nodes.values():
            node.cversion = 0
            node.pzxid = 0

    # --- reads ----------------------------------------------------------------------------

    def get(self, path: str) -> Node | None:
        """The node at `path` (no validation: a malformed path is simply missing)."""
        return self.nodes.get(path or ROOT)

    def stat(self, node: Node) -> Stat:
        """The Stat clients see (visible cversion, ephemeralOwner 0 for containers/TTL)."""
        return node.stat()

    def children(self, node: Node) -> list[str]:
        return list(node.children) if node.children else []

    def count_descendants(self, node: Node) -> int:
        """getAllChildrenNumber: every node below `node`, not counting itself."""
        if node is self.nodes[ROOT]:
            return len(self.nodes) - 1
        total = 0
        stack = [node]
        while stack:
            kids = stack.pop().children
            if kids:
                total += len(kids)
                stack.extend(kids.values())
        return total

    def ephemerals(self, session_id: int, prefix: str | None = None) -> list[str]:
        """getEphemerals: the session's ephemeral paths, sorted, filtered by string prefix
        unless the prefix is None, blank or "/"."""
        info = self.sessions.get(session_id)
        if info is None:
            return []
        paths = sorted(info.ephemerals)
        if prefix is None or prefix.strip() in ("", ROOT):
            return paths
        return [p for p in paths if p.startswith(prefix)]

    def check_acl(self, node: Node, perm: int, auth: Sequence[Id]) -> bool:
        return acl_mod.check_acl(node.acl, perm, auth)

    def node_count(self) -> int:
        """Number of znodes (ZooKeeper 3.8's srvr/mntr count is this plus 1)."""
        return len(self.nodes)

    def approximate_data_size(self) -> int:
        """Sum over nodes of len(path) + len(data), as ZooKeeper's approximateDataSize
        (whose node map holds the root twice, under "" and "/": its data counts twice)."""
        return self._data_size + self.nodes[ROOT].data_length

    def ephemeral_count(self) -> int:
        return self._ephemeral_count

    # --- writes ---------------------------------------------------------------------------

    def create_session(
        self, ctx: TxnContext, session_id: int, timeout_ms: int, passwd: bytes
    ) -> None:
        """createSession txn; re-creating a known session updates timeout and password."""
        self.last_zxid = ctx.zxid
        info = self.sessions.get(session_id)
        if info is None:
            self.sessions[session_id] = SessionInfo(timeout_ms, bytes(passwd))
        else:
            info.timeout_ms = timeout_ms
            info.passwd = bytes(passwd)

    def close_session(self, ctx: TxnContext, session_id: int) -> list[WatchEvent]:
        """closeSession txn: delete the session's ephemerals (sorted) with this zxid."""
        self.last_zxid = ctx.zxid
        info = self.sessions.get(session_id)
        if info is None:
            return []
        events: list[WatchEvent] = []
        for path in sorted(info.ephemerals):
            self.delete_with_events(path, ctx.zxid, events)
        del self.sessions[session_id]
        return events

    def reap(self, ctx: TxnContext, path: str) -> list[WatchEvent]:
        """deleteContainer / TTL expiry txn: delete `path` only if it still qualifies."""
        self.last_zxid = ctx.zxid
        node = self.nodes.get(path)
        if node is None or not self.reapable(path, node, ctx.time_ms):
            return []
        events: list[WatchEvent] = []
        self.delete_with_events(path, ctx.zxid, events)
        return events

    def reap_candidates(self, now_ms: int, limit: int = 10000) -> list[str]:
        """Containers and TTL nodes that `reap` would delete at `now_ms` (sorted)."""
        out: list[str] = []
        for path in sorted(self.containers | self.ttls):
            if len(out) >= limit:
                break
            if self.reapable(path, self.nodes[path], now_ms):
                out.append(path)
        return out

    def reapable(self, path: str, node: Node, now_ms: int) -> bool:
        if node.children or path in SYSTEM_PATHS:
            return False
        if node.kind == Kind.CONTAINER:
            if node.cversion > 0:
                return True
            never_used = self.config.container_max_never_used_ms
            return never_used != 0 and now_ms - node.mtime > never_used
        if node.kind == Kind.TTL:
            return node.owner != 0 and now_ms - node.mtime > node.owner
        return False

    # --- primitive changes (used by ops.py) ----------------------------------------------

    def insert_root(self, root: Node) -> None:
        self.nodes[ROOT] = root
        self._data_size += 1 + root.data_length

    def link(
        self,
        path: str,
        node: Node,
        zxid: int = 0,
        undo: Undo | None = None,
        split: tuple[str, str] | None = None,
    ) -> None:
        """Add `node` (its acl not yet acquired) at `path`; bumps the parent's stored
        cversion and sets its pzxid. The parent must exist. `split`: `split_path(path)`
        when the caller has it already."""
        parent_path, name = split or split_path(path) or (ROOT, path)
        nodes = self.nodes
        parent = nodes[parent_path]
        node.acl = self.acl_cache.acquire(node.acl)
        kids = parent.children
        if kids is None:
            kids = parent.children = {}
        kids[name] = node
        old_cversion, old_pzxid = parent.cversion, parent.pzxid
        cversion = old_cversion + 1
        parent.cversion = cversion if cversion <= _INT32_MAX else wrap32(cversion)
        parent.pzxid = zxid
        nodes[path] = node
        # _index(path, node, 1), inline: this runs for every create
        self._data_size += len(path) + (len(node.data) if node.data else 0)
        if node.kind:  # not Kind.PERSISTENT
            self._index_kind(path, node, 1)
        if undo is not None:

            def revert() -> None:
                self._unlink(path, parent, name, node)
                parent.cversion, parent.pzxid = old_cversion, old_pzxid

            undo.append(revert)

    def unlink(self, path: str, zxid: int, undo: Undo | None = None) -> Node:
        """Remove the childless node at `path`; sets the parent's pzxid (if higher)."""
        parent_path, name = split_path(path) or (ROOT, path)
        parent = self.nodes[parent_path]
        node = self.nodes[path]
        self._unlink(path, parent, name, node)
        old_pzxid = parent.pzxid
        if zxid > parent.pzxid:
            parent.pzxid = zxid
        if undo is not None:

            def revert() -> None:
                node.acl = self.acl_cache.acquire(node.acl)
                if parent.children is None:
                    parent.children = {}
                parent.children[name] = node
                parent.pzxid = old_pzxid
                self.nodes[path] = node
                self._index(path, node, 1)

            undo.append(revert)
        return node

    def _unlink(self, path: str, parent: Node, name: str, node: Node) -> None:
        kids = parent.children
        if kids is not None:
            del kids[name]
            if not kids:
                parent.children = None
        del self.nodes[path]
        self._index(path, node, -1)
        self.acl_cache.release(node.acl)

    def _index(self, path: str, node: Node, sign: int) -> None:
        self._data_size += sign * (len(path) + node.data_length)
        if node.kind:  # not Kind.PERSISTENT (0; a plain int test, not an enum lookup)
            self._index_kind(path, node, sign)

    def _index_kind(self, path: str, node: Node, sign: int) -> None:
        if node.kind == Kind.EPHEMERAL:
            info = self.sessions.get(node.owner)
            if info is not None:
                if sign > 0:
                    info.ephemerals.add(path)
                else:
                    info.ephemerals.discard(path)
            self._ephemeral_count += sign
        elif node.kind == Kind.CONTAINER:
            (self.containers.add if sign > 0 else self.containers.discard)(path)
        elif node.kind == Kind.TTL:
            (self.ttls.add if sign > 0 else self.ttls.discard)(path)

    # --- bulk loading (snapshot.decode links nodes itself) ------------------------------

    def index_kind(self, path: str, node: Node) -> None:
        """Record a loaded ephemeral, container or TTL node in the per-kind indexes."""
        self._index_kind(path, node, 1)

    def add_data_size(self, size: int) -> None:
        """Count loaded nodes' len(path) + len(data) in approximate_data_size."""
        self._data_size += size

    def set_node_data(
        self, node: Node, data: bytes | None, zxid: int, time_ms: int, undo: Undo | None = None
    ) -> None:
        old = (node.data, node.version, node.mzxid, node.mtime)
        self._data_size += (len(data) if data else 0) - node.data_length
        node.data = data
        node.version = wrap32(node.version + 1)
        node.mzxid = zxid
        node.mtime = time_ms
        if undo is not None:

            def revert() -> None:
                self._data_size += (len(old[0]) if old[0] else 0) - node.data_length
                node.data, node.version, node.mzxid, node.mtime = old

            undo.append(revert)

    def set_node_acl(self, node: Node, acl: tuple[ACL, ...], undo: Undo | None = None) -> None:
        old_acl, old_aversion = node.acl, node.aversion
        node.acl = self.acl_cache.acquire(acl)
        self.acl_cache.release(old_acl)
        node.aversion = wrap32(node.aversion + 1)
        if undo is not None:

            def revert() -> None:
                self.acl_cache.release(node.acl)
                node.acl = self.acl_cache.acquire(old_acl)
                node.aversion = old_aversion

            undo.append(revert)

    def delete_with_events(
        self, path: str, zxid: int, events: list[WatchEvent], undo: Undo | None = None
    ) -> None:
        """Unlink `path` and record NodeDeleted + the parent's NodeChildrenChanged."""
        node = self.unlink(path, zxid, undo)
        parent_path = (split_path(path) or (ROOT, path))[0]
        events.append(WatchEvent(_EV_DELETED, path, node.acl))
        parent_acl = self.nodes[parent_path].acl
        events.append(WatchEvent(_EV_CHILDREN, parent_path, parent_acl))
