"""Consul sessions on roost sessions.

A Consul session is a replicated roost session (timeout = twice the TTL, as Consul waits
before it invalidates a session that was not renewed) plus an ephemeral
znode `<session_root>/<ID>` owned by it, holding the session's settings as JSON. The ID
is a UUID whose first 8 bytes are the roost session id. The session is alive while both
exist: when roost expires or closes the session, the znode goes in the same log entry, on
every member. A session tied to health checks (by default the node's serfHealth) is
destroyed when one of them goes critical or is deregistered.

A key's lock counts only while its holder is alive, so the release itself is replicated
state: from the log entry that ends the session on, every member reads the key as free
(and a delete-behavior key as gone). The leader then makes it physical: it clears the
envelope's Session (or deletes the key) with a version-checked write, right after the
close is applied, when it becomes leader, and every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from roost.http import ops
from roost.http.durations import format_seconds, lock_delay_seconds, parse_seconds
from roost.http.envelope import NO_SESSION, Entry, encode
from roost.http.keys import walk_entries
from roost.server.clock import now_ms
from roost.wire.errors import Err
from roost.wire.opcodes import CreateMode

if TYPE_CHECKING:
    from roost.server.core import Server

log = logging.getLogger("roost.http")

MIN_TTL_S = 10.0
MAX_TTL_S = 86400.0
#: sessions created without a TTL live this long without renewal
NO_TTL_S = MAX_TTL_S
DEFAULT_LOCK_DELAY_S = 15.0
MAX_LOCK_DELAY_S = 60.0
SWEEP_EVERY_S = 5.0


class BadSession(ValueError):
    """A malformed or unknown session id (Consul answers 500 "invalid session")."""


#: the check every Consul node has (Serf's liveness); a session names it by default
SERF_CHECK = "serfHealth"
#: a check's status that invalidates the sessions naming it
CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Settings:
    name: str
    node: str
    ttl_s: float | None
    behavior: str
    lock_delay_s: float
    #: check IDs on `node` the session is tied to: Checks (the older field), NodeChecks
    #: and ServiceChecks' IDs
    checks: tuple[str, ...] = ()
    node_checks: tuple[str, ...] = ()
    service_checks: tuple[str, ...] = ()

    def all_checks(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.checks + self.node_checks + self.service_checks))

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "Name": self.name,
                "Node": self.node,
                "TTL": self.ttl_s,
                "Behavior": self.behavior,
                "LockDelay": self.lock_delay_s,
                "Checks": list(self.checks),
                "NodeChecks": list(self.node_checks),
                "ServiceChecks": list(self.service_checks),
            }
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes | None) -> Settings:
        d = json.loads(raw or b"{}")
        return cls(
            str(d.get("Name", "")),
            str(d.get("Node", "")),
            d.get("TTL"),
            str(d.get("Behavior", "release")),
            float(d.get("LockDelay", DEFAULT_LOCK_DELAY_S)),
            tuple(str(c) for c in d.get("Checks") or ()),
            tuple(str(c) for c in d.get("NodeChecks") or ()),
            tuple(str(c) for c in d.get("ServiceChecks") or ()),
        )


def _ids(raw: object, what: str) -> tuple[str, ...]:
    """A list of check IDs (strings, or objects with an "ID" as ServiceChecks has them)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ValueError(f"{what} must be a list")
    out = []
    for item in raw:
        if isinstance(item, dict):
            item = {str(k).lower(): v for k, v in item.items()}.get("id")
        if not isinstance(item, str) or not item:
            raise ValueError(f"{what}: every entry needs a check ID")
        out.append(item)
    return tuple(out)


def parse_settings(body: bytes, default_node: str) -> Settings:
    """A session create body (field names case-insensitive, as Consul's)."""
    raw: Any = json.loads(body) if body.strip() else {}
    if not isinstance(raw, dict):
        raise ValueError("request body must be a JSON object")
    d = {str(k).lower(): v for k, v in raw.items()}
    ttl: float | None = None
    if d.get("ttl"):
        ttl = parse_seconds(str(d["ttl"]))
        if not MIN_TTL_S <= ttl <= MAX_TTL_S:
            raise ValueError(f"Invalid Session TTL '{d['ttl']}', must be between [10s=24h0m0s]")
    behavior = str(d.get("behavior") or "release")
    if behavior not in ("release", "delete"):
        raise ValueError(f"Invalid Behavior setting '{behavior}'")
    delay = DEFAULT_LOCK_DELAY_S
    if d.get("lockdelay") is not None:
        delay = lock_delay_seconds(d["lockdelay"])
    if not 0 <= delay <= MAX_LOCK_DELAY_S:
        raise ValueError("LockDelay must be between 0s and 60s")
    checks = _ids(d.get("checks"), "Checks")
    node_checks = _ids(d.get("nodechecks"), "NodeChecks")
    service_checks = _ids(d.get("servicechecks"), "ServiceChecks")
    if all(d.get(k) is None for k in ("checks", "nodechecks", "servicechecks")):
        node_checks = (SERF_CHECK,)  # Consul's default: tied to the node's liveness
    return Settings(str(d.get("name") or ""), str(d.get("node") or default_node), ttl,
                    behavior, delay, checks, node_checks, service_checks)


def session_uuid(sid: int, passwd: bytes) -> bytes:
    return sid.to_bytes(8, "big", signed=True) + passwd[:8]


def parse_id(text: str) -> bytes:
    try:
        return uuid.UUID(text).bytes
    except ValueError:
        raise BadSession(f"invalid session {text!r}") from None


def sid_of(raw: bytes) -> int:
    return int.from_bytes(raw[:8], "big", signed=True)


#: a check's status by (node, check ID), None if no such check is registered
CheckStatus = Callable[[str, str], str | None]


def timeout_ms(settings: Settings, scale: float = 1.0) -> int:
    """The roost session timeout of a Consul session. Consul takes the TTL as a lower bound
    and invalidates a session that was not renewed for twice the TTL; clients are written
    against that (a lock holder may renew late), so roost waits as long. `scale` is the
    testing knob http_time_scale_pct / 100."""
    return max(1, int((2 * settings.ttl_s if settings.ttl_s else NO_TTL_S) * scale * 1000))


def failed_check(settings: Settings, status: CheckStatus) -> str | None:
    """Why a session's checks invalidate it (one of them is critical, or is no longer
    registered; the node's serfHealth counts as passing where no such check is stored,
    since a roost member has no Serf agent to report it), or None."""
    for cid in settings.all_checks():
        st = status(settings.node, cid)
        if st is None and cid != SERF_CHECK:
            return f"Missing check '{cid}' registration"
        if st == CRITICAL:
            return f"Check '{cid}' is in critical state"
    return None


class ConsulSessions:
    def __init__(self, server: Server, root: str, kv_root: str, scale: float = 1.0) -> None:
        self.server = server
        self.root = root
        self.kv_root = kv_root
        self.scale = scale
        #: where check statuses come from (the registry sets it)
        self.check_status: CheckStatus = lambda node, cid: None
        #: roost session id -> monotonic time this member applied its close
        self.closed_at: dict[int, float] = {}
        self._sweeping = False
        self._again = False
        #: a session ended or leadership moved since the last complete sweep
        self.dirty = True
        self._tasks: set[asyncio.Task[None]] = set()

    # --- state ------------------------------------------------------------------------
    def path(self, raw: bytes) -> str:
        return f"{self.root}/{uuid.UUID(bytes=raw)}"

    def alive(self, raw: bytes) -> bool:
        if raw == NO_SESSION:
            return False
        tree = self.server.tree
        return sid_of(raw) in tree.sessions and tree.get(self.path(raw)) is not None

    def settings(self, raw: bytes) -> Settings | None:
        node = self.server.tree.get(self.path(raw))
        if node is None or sid_of(raw) not in self.server.tree.sessions:
            return None
        return Settings.from_json(node.data)

    def info(self, raw: bytes) -> dict[str, object] | None:
        node = self.server.tree.get(self.path(raw))
        s = self.settings(raw)
        if node is None or s is None:
            return None
        return {
            "ID": str(uuid.UUID(bytes=raw)),
            "Name": s.name,
            "Node": s.node,
            "LockDelay": int(s.lock_delay_s * 1e9),
            "Behavior": s.behavior,
            "TTL": format_seconds(s.ttl_s) if s.ttl_s else "",
            "NodeChecks": list(s.node_checks),
            "ServiceChecks": [{"ID": c, "Namespace": ""} for c in s.service_checks],
            "Checks": list(s.all_checks()),
            "CreateIndex": node.czxid,
            "ModifyIndex": node.mzxid,
        }

    def all(self) -> list[dict[str, object]]:
        node = self.server.tree.get(self.root)
        out = []
        for name in sorted(node.children or {}) if node is not None else []:
            with contextlib.suppress(BadSession):
                i = self.info(parse_id(name))
                if i is not None:
                    out.append(i)
        return out

    def index(self) -> int:
        node = self.server.tree.get(self.root)
        return max(node.pzxid, 1) if node is not None else max(self.server.tree.last_zxid, 1)

    def ephemerals(self, raw: bytes) -> list[str]:
        return self.server.tree.ephemerals(sid_of(raw))

    def lock_delayed(self, e: Entry) -> bool:
        """Whether a key released by its holder's end may not be acquired yet."""
        if e.delay_until_ms and e.delay_until_ms > now_ms():
            return True
        if e.session == NO_SESSION or not e.lock_delay_ms:
            return False
        closed = self.closed_at.setdefault(sid_of(e.session), time.monotonic())
        return (time.monotonic() - closed) * 1000 < e.lock_delay_ms

    def visible(self, e: Entry) -> bool:
        """A delete-behavior key whose holder ended is gone (the sweep deletes it)."""
        return not (e.delete_behavior and e.session != NO_SESSION and not self.alive(e.session))

    # --- requests ---------------------------------------------------------------------
    async def create(self, settings: Settings) -> str:
        server = self.server
        why = failed_check(settings, self.check_status)
        if why is not None:
            raise BadSession(why)
        sid, passwd = await server.open_session(timeout_ms(settings, self.scale))
        raw = session_uuid(sid, passwd)
        path = self.path(raw)
        await ops.ensure_parents(server, path)
        err = await ops.create(
            server, path, settings.to_json(), mode=CreateMode.EPHEMERAL, session_id=sid
        )
        if err:
            await server.close_session(sid)
            raise ops.WriteFailed(err, path)
        return str(uuid.UUID(bytes=raw))

    def renew(self, raw: bytes) -> dict[str, object] | None:
        info = self.info(raw)
        if info is not None:
            self.server.touch(sid_of(raw))
        return info

    async def destroy(self, raw: bytes) -> None:
        if sid_of(raw) in self.server.tree.sessions and self.alive(raw):
            await self.server.close_session(sid_of(raw))

    def failed(self) -> list[bytes]:
        """Live sessions that one of their checks invalidates."""
        out = []
        node = self.server.tree.get(self.root)
        for name in sorted(node.children or {}) if node is not None else []:
            with contextlib.suppress(BadSession):
                raw = parse_id(name)
                s = self.settings(raw)
                if s is not None and failed_check(s, self.check_status) is not None:
                    out.append(raw)
        return out

    async def invalidate_failed(self) -> int:
        """Destroy every session a check invalidates (as Consul does when a check goes
        critical); its keys are then released or deleted per its Behavior."""
        doomed = self.failed()
        for raw in doomed:
            log.info("session %s invalidated by its check", uuid.UUID(bytes=raw))
            await self.destroy(raw)
        return len(doomed)

    # --- session ends -----------------------------------------------------------------
    def on_event(self, kind: str, info: dict[str, object]) -> None:
        """Server listener: note closes (lock-delay) and sweep when this member leads."""
        if kind == "session_closed":
            sid = info.get("session")
            if isinstance(sid, int):
                now = time.monotonic()
                self.closed_at[sid] = now
                if len(self.closed_at) > 10_000:
                    cutoff = now - 2 * MAX_LOCK_DELAY_S
                    self.closed_at = {k: t for k, t in self.closed_at.items() if t > cutoff}
            self.dirty = True
            self.kick()
        elif kind == "role":
            self.dirty = True
            self.kick()

    def kick(self) -> None:
        if not self.server.is_leader:
            return
        if self._sweeping:
            self._again = True
            return
        t = asyncio.get_running_loop().create_task(self.sweep())
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def run_sweeper(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY_S)
            if self.dirty:
                self.kick()

    async def sweep(self) -> None:
        self._sweeping = True
        try:
            while True:
                self._again = False
                self.dirty = False
                if not await self._sweep_once():
                    self.dirty = True  # retried by the periodic sweep
                if not self._again:
                    return
        except Exception:
            self.dirty = True
            log.exception("releasing the keys of ended sessions failed; retrying later")
        finally:
            self._sweeping = False

    async def _sweep_once(self) -> bool:
        """One pass over the keys; False if something is left for a later pass."""
        stale = [
            (p, n.version, bool(n.children), e)
            for p, n, e in walk_entries(self.server.tree, self.kv_root)
            if e.session != NO_SESSION and not self.alive(e.session)
        ]
        complete = True
        for path, version, has_children, e in stale:
            if not self.server.is_leader:
                return False
            if e.delete_behavior:
                if has_children:
                    err = await ops.set_data(self.server, path, b"", version)
                else:
                    err = await ops.delete(self.server, path, version)
            else:
                until = 0
                if e.lock_delay_ms:
                    closed = self.closed_at.get(sid_of(e.session), time.monotonic())
                    left = e.lock_delay_ms - (time.monotonic() - closed) * 1000
                    until = now_ms() + int(left) if left > 0 else 0
                new = e.with_(session=NO_SESSION, delete_behavior=False, lock_delay_ms=0,
                              delay_until_ms=until)
                err = await ops.set_data(self.server, path, encode(new), version)
            if err in (Err.BAD_VERSION, Err.NOT_EMPTY):
                complete = False  # changed meanwhile: look again
            elif err not in (0, Err.NO_NODE):
                complete = False
                log.warning("session sweep: %s at %s", Err(err).name, path)
        return complete
