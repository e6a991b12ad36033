"""ZooKeeper path rules (PathUtils) and the small path helpers the tree needs.

A valid path starts with "/", does not end with "/" (unless it is "/"), has no empty
component, no "." or ".." component, and no character ZooKeeper bans: U+0000-U+001F,
U+007F-U+009F, U+D800-U+F8FF, U+FFF0-U+FFFF, and (because Java strings are UTF-16)
every code point above U+FFFF.
"""

from __future__ import annotations

import re

ROOT = "/"
#: nodes that always exist and can never be deleted
SYSTEM_PATHS = frozenset({"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"})

# (the escapes are the pattern's, not the literal's: mypyc compiles no surrogate literal)
_BAD_CHAR = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\uf8ff\ufff0-\U0010ffff]")


class InvalidPath(ValueError):
    """Raised by `validate_path` for a path ZooKeeper would refuse."""


def path_error(path: str) -> str | None:
    """Why `path` is invalid, or None when it is valid."""
    if not path:
        return "empty path"
    if path[0] != "/":
        return "path must start with /"
    if len(path) == 1:
        return None
    if path[-1] == "/":
        return "path must not end with /"
    m = _BAD_CHAR.search(path)
    if m is not None:
        return f"invalid character U+{ord(m.group()):04X} at {m.start()}"
    for part in path[1:].split("/"):
        if not part:
            return "empty node name"
        if part in (".", ".."):
            return "relative paths are not allowed"
    return None


def is_valid_path(path: str) -> bool:
    # The usual path has no empty, "." or ".." component: without "//" and "/." in it, only
    # the ends and the banned characters are left to check (path_error says why otherwise).
    if (
        path[:1] == "/"
        and "//" not in path
        and "/." not in path
        and (path[-1] != "/" or len(path) == 1)
        and _BAD_CHAR.search(path) is None
    ):
        return True
    return path_error(path) is None


def validate_path(path: str) -> bool:
    """Return True for a valid path; raise `InvalidPath` otherwise."""
    reason = path_error(path)
    if reason is not None:
        raise InvalidPath(f"{reason}: {path!r}")
    return True


def split_path(path: str) -> tuple[str, str] | None:
    """(parent path, child name) split at the last "/" as ZooKeeper does, or None if there
    is no "/". The parent of a top-level node (and of "/" itself) is "/"."""
    i = path.rfind("/")
    if i < 0:
        return None
    return (path[:i] or ROOT), path[i + 1 :]


def join(parent: str, name: str) -> str:
    return parent + name if parent == ROOT else parent + "/" + name
