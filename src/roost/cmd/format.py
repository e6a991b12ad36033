"""How the client commands print things: zkCli's text shapes and the JSON forms.

Text is what zkCli prints (`cZxid = 0x...`, `'world,'anyone` ACLs, `WatchedEvent ...`).
JSON is for scripts: one object per command (one per line for event streams); znode data
is given as base64 (``data``) and, when it is valid UTF-8, also as text (``data_utf8``),
so binary values survive.
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
from typing import Any

from roost.client import ACL, Id, WatchedEvent
from roost.wire.opcodes import EventType, KeeperState, Perm
from roost.wire.records import Stat

_PERM_CHARS = (("c", Perm.CREATE), ("d", Perm.DELETE), ("r", Perm.READ), ("w", Perm.WRITE),
               ("a", Perm.ADMIN))
STAT_FIELDS = ("czxid", "mzxid", "ctime", "mtime", "version", "cversion", "aversion",
               "ephemeralOwner", "dataLength", "numChildren", "pzxid")


# --- text -------------------------------------------------------------------------------


def format_time(ms: int) -> str:
    return time.strftime("%a %b %d %H:%M:%S %Z %Y", time.localtime(ms / 1000))


def format_stat(stat: Stat) -> str:
    rows = [
        ("cZxid", hex(stat.czxid)),
        ("ctime", format_time(stat.ctime)),
        ("mZxid", hex(stat.mzxid)),
        ("mtime", format_time(stat.mtime)),
        ("pZxid", hex(stat.pzxid)),
        ("cversion", stat.cversion),
        ("dataVersion", stat.version),
        ("aclVersion", stat.aversion),
        ("ephemeralOwner", hex(stat.ephemeralOwner)),
        ("dataLength", stat.dataLength),
        ("numChildren", stat.numChildren),
    ]
    return "\n".join(f"{k} = {v}" for k, v in rows)


def format_data(data: bytes | None) -> str:
    return "null" if data is None else data.decode("utf-8", errors="replace")


def format_list(items: list[str]) -> str:
    return "[" + ", ".join(items) + "]"


def perm_string(perms: int) -> str:
    return "".join(ch for ch, bit in _PERM_CHARS if perms & bit)


def parse_perms(text: str) -> int:
    perms = 0
    for ch in text:
        bits = [bit for c, bit in _PERM_CHARS if c == ch]
        if not bits:
            raise ValueError(f"unknown permission {ch!r} (use c, d, r, w, a)")
        perms |= bits[0]
    return perms


def format_acl(acls: list[ACL]) -> str:
    return "\n".join(f"'{a.id.scheme},'{a.id.id}\n: {perm_string(a.perms)}" for a in acls)


def parse_acl(text: str) -> list[ACL]:
    """zkCli's ACL syntax: ``scheme:id:perms[,scheme:id:perms...]`` (the id may hold ':')."""
    acls = []
    for item in text.split(","):
        first, last = item.find(":"), item.rfind(":")
        if first < 0 or first == last:
            raise ValueError(f"invalid ACL {item!r}: expected scheme:id:perms")
        acls.append(ACL(parse_perms(item[last + 1 :]), Id(item[:first], item[first + 1 : last])))
    return acls


def event_type_name(etype: EventType) -> str:
    """ZooKeeper's name of an event type (``NodeDataChanged``)."""
    if etype == EventType.NONE:
        return "None"
    return "".join(w.capitalize() for w in etype.name.split("_"))


def state_name(state: KeeperState) -> str:
    names = {KeeperState.SYNC_CONNECTED: "SyncConnected", KeeperState.EXPIRED: "Expired"}
    return names.get(state, state.name)


def format_event(ev: WatchedEvent) -> str:
    """zkCli's watch notification."""
    return (f"WATCHER::\n\nWatchedEvent state:{state_name(ev.state)} "
            f"type:{event_type_name(ev.type)} path:{ev.path}")


# --- JSON -------------------------------------------------------------------------------


def stat_json(stat: Stat) -> dict[str, int]:
    return {name: getattr(stat, name) for name in STAT_FIELDS}


def data_json(data: bytes | None) -> dict[str, Any]:
    """``{"data": base64 or null}`` plus ``"data_utf8"`` when the bytes are valid UTF-8."""
    if data is None:
        return {"data": None}
    out: dict[str, Any] = {"data": base64.b64encode(data).decode("ascii")}
    with contextlib.suppress(UnicodeDecodeError):
        out["data_utf8"] = data.decode("utf-8")
    return out


def acl_json(acls: list[ACL]) -> list[dict[str, str]]:
    return [{"scheme": a.id.scheme, "id": a.id.id, "perms": perm_string(a.perms)}
            for a in acls]


def event_json(ev: WatchedEvent) -> dict[str, str]:
    return {"type": event_type_name(ev.type), "path": ev.path, "state": state_name(ev.state)}


def to_json(obj: object) -> str:
    """One line of JSON (non-ASCII kept as is)."""
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))
