"""Snapshot encoding (deterministic msgpack, never pickle) and the divergence digest.

Layout: a msgpack array ``[MAGIC, FORMAT_VERSION, last_zxid, last_time_ms, acls, sessions,
nodes]`` (format 1, still read, had no ``last_time_ms``: it is taken as the newest node time):

* ``last_time_ms``: the time of the last applied txn (txn times never go backwards, see
  `roost.tree.txn.apply_txn`);

* ``acls``: list of ACL lists, each ``[[perms, scheme, id], ...]``, numbered by position;
* ``sessions``: ``[[session_id, timeout_ms, passwd], ...]`` sorted by id;
* ``nodes``: ``[path, data, acl_index, czxid, mzxid, ctime, mtime, version, cversion,
  aversion, kind, owner, pzxid]`` sorted by path (so every parent precedes its children);
  ``cversion`` is the stored creation count.

Equal states give equal bytes. Each session's ephemeral set is rebuilt from the nodes.

Loading is the restart path of a server holding millions of znodes, so `decode` streams
the rows out of the buffer (no second copy of it, no list of all rows), links each node
to its parent without a lookup while consecutive rows share a parent (the path order makes
siblings adjacent), and shares equal stat ints within a row as a freshly created node does.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Iterator
from itertools import islice
from typing import Any

import msgpack

from roost.tree.context import SessionInfo
from roost.tree.node import Kind, Node
from roost.tree.paths import ROOT
from roost.tree.state import TreeState
from roost.wire.records import ACL, Id

MAGIC = "roost-tree"
FORMAT_VERSION = 2
_MASK64 = (1 << 64) - 1
_KINDS = {int(k): k for k in Kind}
#: bytes handed to the unpacker at a time (it never holds a second copy of the snapshot)
_READ_SIZE = 1 << 20
#: distinct creation times remembered while loading, so nodes created in the same
#: millisecond share one int (a bulk load makes tens per ms; 32 bytes each saved)
_TIMES_KEPT = 1 << 16


class SnapshotError(ValueError):
    """Bytes that are not a snapshot this version can read."""


def _acl_rows(acl: tuple[ACL, ...]) -> list[list[Any]]:
    return [[a.perms, a.id.scheme, a.id.id] for a in acl]


def _node_row(path: str, node: Node, acl_index: int) -> list[Any]:
    return [
        path,
        node.data,
        acl_index,
        node.czxid,
        node.mzxid,
        node.ctime,
        node.mtime,
        node.version,
        node.cversion,
        node.aversion,
        int(node.kind),
        node.owner,
        node.pzxid,
    ]


def encode(tree: TreeState) -> bytes:
    """The snapshot image of `tree` (see the module docs)."""
    nodes = tree.nodes
    acls = _AclNumbers()
    rows = msgpack.Packer(use_bin_type=True, autoreset=False)
    pack, number = rows.pack, acls.number
    for path in sorted(nodes):
        n = nodes[path]
        # the row of _node_row, built inline (a million rows); Kind packs as its int
        pack([path, n.data, number(n.acl), n.czxid, n.mzxid, n.ctime, n.mtime, n.version,
              n.cversion, n.aversion, n.kind, n.owner, n.pzxid])  # fmt: skip
    packer = msgpack.Packer(use_bin_type=True)
    sessions = [[sid, s.timeout_ms, s.passwd] for sid, s in sorted(tree.sessions.items())]
    head = [
        MAGIC,
        FORMAT_VERSION,
        tree.last_zxid,
        tree.last_time_ms,
        [_acl_rows(a) for a in acls.table],
        sessions,
    ]
    out = [packer.pack_array_header(7), *map(packer.pack, head)]
    out.append(packer.pack_array_header(len(nodes)))
    return b"".join([*out, rows.getbuffer()])


class _AclNumbers:
    """ACL lists numbered by first use. The tree's nodes share one tuple per distinct ACL
    (its AclCache), so the tuple's identity finds its number without hashing its entries."""

    def __init__(self) -> None:
        self.table: list[tuple[ACL, ...]] = []
        self._by_id: dict[int, int] = {}
        self._by_value: dict[tuple[ACL, ...], int] = {}

    def number(self, acl: tuple[ACL, ...]) -> int:
        found = self._by_id.get(id(acl))
        if found is not None:
            return found
        found = self._by_value.setdefault(acl, len(self.table))
        if found == len(self.table):
            self.table.append(acl)
        self._by_id[id(acl)] = found
        return found


# --- decoding -------------------------------------------------------------------------------


class _Chunks:
    """A file-like reader over a buffer, so the unpacker copies 1 MiB at a time."""

    def __init__(self, data: bytes | memoryview) -> None:
        self._view = memoryview(data).cast("B")
        self._pos = 0

    def read(self, n: int) -> bytes:
        chunk = bytes(self._view[self._pos : self._pos + n])
        self._pos += len(chunk)
        return chunk


def _read_acls(rows: Any) -> dict[int, tuple[ACL, ...]]:
    return {
        i: tuple(ACL(int(p), Id(str(s), str(ident))) for p, s, ident in acl)
        for i, acl in enumerate(rows)
    }


def _read_sessions(tree: TreeState, rows: Any) -> None:
    for sid, timeout, passwd in rows:
        if type(sid) is not int or type(timeout) is not int or type(passwd) is not bytes:
            raise SnapshotError(f"bad session row {[sid, timeout, passwd]!r}")
        tree.sessions[sid] = SessionInfo(timeout, passwd)


def _children_of(tree: TreeState, path: str, cut: int) -> dict[str, Node]:
    """The children dict of the parent of `path`, whose last "/" is at `cut`."""
    if cut == 0:
        parent = tree.nodes.get(ROOT)
        if parent is None:
            raise SnapshotError(f"first node is {path!r}, not the root")
    elif cut > 1:  # cut 1 would be "//name"; -1 has no "/"
        found = tree.nodes.get(path[:cut])
        if found is None:
            raise SnapshotError(f"node {path!r} has no parent")
        parent = found
    else:
        raise SnapshotError(f"bad node path {path!r}")
    if parent.children is None:
        parent.children = {}
    return parent.children


def _add_root(tree: TreeState, path: str, node: Node) -> None:
    if path != ROOT:  # "name/" and the like
        raise SnapshotError(f"bad node path {path!r}")
    tree.insert_root(node)  # the first row: "/" sorts before every other path


def _load_nodes(tree: TreeState, rows: Iterator[Any], acls: dict[int, tuple[ACL, ...]]) -> None:
    """Check and link every row; each parent must come before its children.

    One loop, no helper call per row (a million iterations: a call per row costs ~5%).
    Equal stat values share one int object, as in a node made by a create (~100 MB less
    at a million nodes).
    """
    nodes, sessions, acquire = tree.nodes, tree.sessions, tree.acl_cache.acquire
    kinds = _KINDS
    kids: dict[str, Node] = {}
    prefix, cut = "", -2  # the current parent's path + "/" and the index of that "/"
    prev = ""
    size = 0
    times: dict[int, int] = {}
    try:
        for row in rows:
            path, data, acl_i, czxid, mzxid, ctime, mtime, version, cversion, aversion, kind, \
                owner, pzxid = row  # fmt: skip
            if not (
                type(path) is str
                and type(acl_i) is int
                and type(czxid) is int
                and type(mzxid) is int
                and type(ctime) is int
                and type(mtime) is int
                and type(version) is int
                and type(cversion) is int
                and type(aversion) is int
                and type(kind) is int
                and type(owner) is int
                and type(pzxid) is int
                and (data is None or type(data) is bytes)
            ):
                raise SnapshotError(f"bad node row for {path!r}")
            if path <= prev:
                raise SnapshotError(f"node {path!r} out of order after {prev!r}")
            shared = times.get(ctime)  # the same millisecond as an earlier node's
            if shared is None:
                if len(times) >= _TIMES_KEPT:
                    times.clear()
                times[ctime] = ctime
            else:
                ctime = shared
            # (built by its constructor: a mypyc-compiled Node cannot be made by __new__)
            node = Node(data, acquire(acls[acl_i]), czxid, ctime, kinds[kind], owner)
            if mzxid != czxid:
                node.mzxid = mzxid
            if pzxid != czxid:
                node.pzxid = pzxid
            if mtime != ctime:
                node.mtime = mtime
            node.version = version
            node.cversion = cversion
            node.aversion = aversion
            prev = path
            i = path.rfind("/")
            name = path[i + 1 :]
            if not name:
                _add_root(tree, path, node)
                continue
            if i != cut or not path.startswith(prefix):
                kids = _children_of(tree, path, i)
                prefix, cut = path[: i + 1], i
            if kind:
                if kind == Kind.EPHEMERAL and owner not in sessions:
                    raise SnapshotError(f"ephemeral {path!r} of unknown session {owner:#x}")
                tree.index_kind(path, node)
            kids[name] = node
            nodes[path] = node
            size += len(path) + (len(data) if data else 0)
    except SnapshotError:
        raise
    except (LookupError, TypeError, ValueError) as exc:  # short row, unknown ACL or kind...
        raise SnapshotError(f"bad node row after {prev!r}: {exc!r}") from exc
    tree.add_data_size(size)


def _load_tree(unpacker: msgpack.Unpacker, tree: TreeState) -> None:
    fields = unpacker.read_array_header()
    if fields < 3 or unpacker.unpack() != MAGIC:
        raise SnapshotError("not a roost tree snapshot")
    version = unpacker.unpack()
    if version != FORMAT_VERSION and version != 1:  # format 1 (no last time) is still read
        if type(version) is int and version > FORMAT_VERSION:
            raise SnapshotError(
                f"tree image format version {version} was written by a newer roost (this "
                f"one reads version {FORMAT_VERSION}): run that roost version or a newer one"
            )
        raise SnapshotError(
            f"tree image format version {version!r} is not one this roost reads "
            f"(version {FORMAT_VERSION})"
        )
    if fields != (6 if version == 1 else 7):
        raise SnapshotError(f"tree image format version {version} with {fields} fields")
    tree.clear()
    last_zxid = unpacker.unpack()
    if type(last_zxid) is not int:
        raise SnapshotError(f"bad last zxid {last_zxid!r}")
    tree.last_zxid = last_zxid
    last_time = unpacker.unpack() if version >= 2 else None
    if last_time is not None and type(last_time) is not int:
        raise SnapshotError(f"bad last time {last_time!r}")
    acls = _read_acls(unpacker.unpack())
    _read_sessions(tree, unpacker.unpack())
    count = unpacker.read_array_header()
    _load_nodes(tree, islice(unpacker, count), acls)
    if ROOT not in tree.nodes:
        raise SnapshotError("snapshot has no root")
    if len(tree.nodes) != count:
        raise SnapshotError(f"snapshot truncated: {len(tree.nodes)} of {count} nodes")
    if last_time is None:  # format 1
        last_time = max((max(n.mtime, n.ctime) for n in tree.nodes.values()), default=0)
    tree.last_time_ms = last_time


def decode(data: bytes | memoryview, tree: TreeState) -> None:
    """Load an `encode` image into `tree` (a new one: it is cleared first, once the image's
    header is read); raises SnapshotError naming what is wrong."""
    size = memoryview(data).nbytes
    unpacker = msgpack.Unpacker(
        _Chunks(data),
        read_size=_READ_SIZE,
        raw=False,
        use_list=False,
        max_buffer_size=max(size, _READ_SIZE),
    )
    collecting = gc.isenabled()
    gc.disable()  # a million new container objects would trigger many useless collections
    try:
        _load_tree(unpacker, tree)
    except SnapshotError:
        raise
    except (ValueError, TypeError, LookupError, AttributeError, msgpack.UnpackException) as exc:
        raise SnapshotError(f"corrupt snapshot: {exc!r}") from exc
    finally:
        if collecting:
            gc.enable()
    if unpacker.tell() != size:
        raise SnapshotError(f"{size - unpacker.tell()} bytes after the end of the snapshot")


# --- divergence digest ----------------------------------------------------------------------


def _h64(obj: Any) -> int:
    raw = msgpack.packb(obj, use_bin_type=True)
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big")


def digest(tree: TreeState) -> int:
    """Order-independent 64-bit hash of nodes, sessions and last_zxid."""
    total = _h64(["zxid", tree.last_zxid])
    for path, node in tree.nodes.items():
        row = _node_row(path, node, 0)
        row[2] = _acl_rows(node.acl)
        total += _h64(row)
    for sid, info in tree.sessions.items():
        total += _h64(["session", sid, info.timeout_ms, info.passwd, sorted(info.ephemerals)])
    return total & _MASK64
