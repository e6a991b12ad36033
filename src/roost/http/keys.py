"""Consul keys <-> znode paths, and reading keys out of the local tree.

Key "a/b/c" lives at znode "<root>/a/b/c"; parents that are not keys themselves are
plain empty znodes. A key with a trailing "/" ("folder/") lives at "<root>/folder" with
the envelope's folder bit set, so "x" and "x/" share one znode (the last write wins).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from roost.http.envelope import Entry, decode
from roost.tree import DataTree
from roost.tree.node import Node


class BadKey(ValueError):
    """A key that cannot be stored as a znode path."""


def key_path(root: str, key: str) -> tuple[str, bool]:
    """(znode path, folder) for a key; raises BadKey."""
    folder = key.endswith("/")
    body = key[:-1] if folder else key
    if not body:
        raise BadKey("empty key")
    for seg in body.split("/"):
        if seg in ("", ".", "..") or "\x00" in seg:
            raise BadKey(f"invalid key {key!r}: empty, '.' or '..' segment")
    return f"{root}/{body}", folder


def path_key(root: str, path: str, entry: Entry | None) -> str:
    key = path[len(root) + 1 :]
    return key + "/" if entry is not None and entry.folder else key


@dataclass(frozen=True, slots=True)
class Found:
    """A key as read from the tree."""

    key: str
    path: str
    node: Node
    entry: Entry


#: whether a key's entry counts (False hides keys of ended delete-behavior sessions)
Visible = Callable[[Entry], bool]


def read_key(tree: DataTree, root: str, key: str, visible: Visible) -> Found | None:
    path, folder = key_path(root, key)
    node = tree.get(path)
    if node is None:
        return None
    entry = decode(node.data)
    if entry is None or entry.folder != folder or not visible(entry):
        return None
    return Found(key, path, node, entry)


def _walk(path: str, node: Node) -> Iterator[tuple[str, Node]]:
    stack = [(path, node)]
    while stack:
        p, n = stack.pop()
        yield p, n
        if n.children:
            stack.extend((f"{p}/{name}", child) for name, child in n.children.items())


def scan_root(tree: DataTree, root: str, prefix: str) -> tuple[str, Node | None, str]:
    """(znode path, node, name filter) of the directory holding every key with `prefix`."""
    head, _, partial = prefix.rpartition("/")
    path = f"{root}/{head}" if head else root
    if head and any(s in ("", ".", "..") for s in head.split("/")):
        return path, None, partial
    return path, tree.get(path), partial


def list_prefix(tree: DataTree, root: str, prefix: str, visible: Visible) -> list[Found]:
    """Every key starting with `prefix` (a plain string prefix, as Consul's), sorted."""
    path, node, partial = scan_root(tree, root, prefix)
    if node is None:
        return []
    starts: list[tuple[str, Node]] = []
    if partial == "" and path != root:
        starts.append((path, node))  # the folder key "<prefix>" itself
        for name, child in (node.children or {}).items():
            starts.extend(_walk(f"{path}/{name}", child))
    else:
        for name, child in (node.children or {}).items():
            if name.startswith(partial):
                starts.extend(_walk(f"{path}/{name}", child))
    out: list[Found] = []
    for p, n in starts:
        entry = decode(n.data)
        if entry is None or not visible(entry):
            continue
        key = path_key(root, p, entry)
        if key.startswith(prefix):
            out.append(Found(key, p, n, entry))
    out.sort(key=lambda f: f.key)
    return out


def prefix_index(tree: DataTree, root: str, prefix: str) -> int:
    """A number that grows whenever a key with `prefix` is created, changed or deleted:
    the largest mzxid/pzxid in the region (and of the nearest existing ancestor)."""
    path, node, partial = scan_root(tree, root, prefix)
    if node is None:
        return _ancestor_pzxid(tree, path)
    best = max(node.pzxid, node.mzxid if partial == "" else 0)
    for name, child in (node.children or {}).items():
        if name.startswith(partial):
            for _p, n in _walk(name, child):
                best = max(best, n.mzxid, n.pzxid)
    return best


def key_index(tree: DataTree, root: str, key: str) -> int:
    """The index of one key: its mzxid, or for a missing key its parent's pzxid."""
    try:
        path, _ = key_path(root, key)
    except BadKey:
        return tree.last_zxid
    node = tree.get(path)
    if node is not None:
        return node.mzxid
    return _ancestor_pzxid(tree, path)


def _ancestor_pzxid(tree: DataTree, path: str) -> int:
    while True:
        node = tree.get(path)
        if node is not None:
            return node.pzxid
        if path in ("", "/"):
            return 0
        path = path.rsplit("/", 1)[0] or "/"


def walk_entries(tree: DataTree, root: str) -> Iterator[tuple[str, Node, Entry]]:
    """Every enveloped key under root (for the session sweeper)."""
    node = tree.get(root)
    if node is None:
        return
    for p, n in _walk(root, node):
        entry = decode(n.data)
        if entry is not None and entry.enveloped:
            yield p, n, entry
