"""Snapshot encoding (deterministic msgpack, never pickle) and the divergence digest.

Layout: a msgpack array ``[MAGIC, FORMAT_VERSION, last_zxid, acls, sessions, nodes]``:

* ``acls``: list of ACL lists, each ``[[perms, scheme, id], ...]``, numbered by position;
* ``sessions``: ``[[session_id, timeout_ms, passwd], ...]`` sorted by id;
* ``nodes``: ``[path, data, acl_index, czxid, mzxid, ctime, mtime, version, cversion,
  aversion, kind, owner, pzxid]`` sorted by path (so every parent precedes its children);
  ``cversion`` is the stored creation count.

Equal states give equal bytes. Each session's ephemeral set is rebuilt from the nodes.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import msgpack

from roost.tree.context import DEFAULT_CONFIG, SessionInfo, TreeConfig
from roost.tree.node import Kind, Node
from roost.tree.paths import ROOT, split_path
from roost.wire.records import ACL, Id

if TYPE_CHECKING:
    from roost.tree.datatree import DataTree

MAGIC = "roost-tree"
FORMAT_VERSION = 1
_MASK64 = (1 << 64) - 1


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


def encode(tree: DataTree) -> bytes:
    paths = sorted(tree.nodes)
    acl_ids: dict[tuple[ACL, ...], int] = {}
    for path in paths:
        acl_ids.setdefault(tree.nodes[path].acl, len(acl_ids))
    packer = msgpack.Packer(use_bin_type=True)
    out = [packer.pack_array_header(6), packer.pack(MAGIC), packer.pack(FORMAT_VERSION)]
    out.append(packer.pack(tree.last_zxid))
    out.append(packer.pack([_acl_rows(acl) for acl in acl_ids]))
    sessions = [[sid, s.timeout_ms, s.passwd] for sid, s in sorted(tree.sessions.items())]
    out.append(packer.pack(sessions))
    out.append(packer.pack_array_header(len(paths)))
    for path in paths:
        node = tree.nodes[path]
        out.append(packer.pack(_node_row(path, node, acl_ids[node.acl])))
    return b"".join(out)


def _read_acls(rows: Any) -> list[tuple[ACL, ...]]:
    return [tuple(ACL(int(p), Id(str(s), str(i))) for p, s, i in acl) for acl in rows]


def _add_node(tree: DataTree, row: Any, acls: list[tuple[ACL, ...]]) -> None:
    path, data, acl_i, czxid, mzxid, ctime, mtime = row[:7]
    version, cversion, aversion, kind, owner, pzxid = row[7:]
    if not isinstance(path, str) or not all(type(v) is int for v in row[2:]):
        raise SnapshotError(f"bad node row for {path!r}")
    if data is not None and not isinstance(data, bytes):
        raise SnapshotError(f"bad data for {path!r}")
    node = Node(data, acls[acl_i], czxid, ctime, Kind(kind), owner)
    node.mzxid, node.mtime, node.pzxid = mzxid, mtime, pzxid
    node.version, node.aversion = version, aversion
    if path == ROOT:
        node.acl = tree.acl_cache.acquire(node.acl)
        node.cversion = cversion
        tree.insert_root(node)
        return
    parent_path = (split_path(path) or ("", ""))[0]
    parent = tree.nodes.get(parent_path)
    if parent is None:
        raise SnapshotError(f"node {path!r} has no parent")
    saved = parent.cversion, parent.pzxid
    tree.link(path, node, pzxid)
    parent.cversion, parent.pzxid = saved
    node.cversion = cversion
    if node.kind == Kind.EPHEMERAL and owner not in tree.sessions:
        raise SnapshotError(f"ephemeral {path!r} of unknown session {owner:#x}")


def decode(data: bytes, config: TreeConfig = DEFAULT_CONFIG) -> DataTree:
    from roost.tree.datatree import DataTree

    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=max(len(data), 1 << 20))
    unpacker.feed(data)
    try:
        if unpacker.read_array_header() != 6 or unpacker.unpack() != MAGIC:
            raise SnapshotError("not a roost tree snapshot")
        version = unpacker.unpack()
        if version != FORMAT_VERSION:
            raise SnapshotError(f"unsupported snapshot format {version!r}")
        tree = DataTree(config)
        tree.clear()
        tree.last_zxid = int(unpacker.unpack())
        acls = _read_acls(unpacker.unpack())
        for sid, timeout, passwd in unpacker.unpack():
            tree.sessions[int(sid)] = SessionInfo(int(timeout), bytes(passwd))
        for _ in range(unpacker.read_array_header()):
            _add_node(tree, unpacker.unpack(), acls)
    except SnapshotError:
        raise
    except (ValueError, TypeError, LookupError, AttributeError, msgpack.UnpackException) as exc:
        raise SnapshotError(f"corrupt snapshot: {exc}") from exc
    if ROOT not in tree.nodes:
        raise SnapshotError("snapshot has no root")
    return tree


def _h64(obj: Any) -> int:
    raw = msgpack.packb(obj, use_bin_type=True)
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big")


def digest(tree: DataTree) -> int:
    """Order-independent 64-bit hash of nodes, sessions and last_zxid."""
    total = _h64(["zxid", tree.last_zxid])
    for path, node in tree.nodes.items():
        row = _node_row(path, node, 0)
        row[2] = _acl_rows(node.acl)
        total += _h64(row)
    for sid, info in tree.sessions.items():
        total += _h64(["session", sid, info.timeout_ms, info.passwd, sorted(info.ephemerals)])
    return total & _MASK64
