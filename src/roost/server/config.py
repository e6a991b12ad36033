"""One typed server configuration, loaded from defaults, TOML, or ZooKeeper's zoo.cfg."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

#: The four-letter words roost implements.
FOUR_LETTER_WORDS = ("ruok", "srvr", "stat", "mntr", "conf", "cons", "envi", "wchs", "dump", "isro")


class ConfigError(ValueError):
    """A bad configuration value; the message names the key."""


@dataclass(frozen=True)
class Member:
    """One ensemble member: where clients and peers reach it, and whether it votes."""

    id: int
    host: str
    client_port: int
    peer_port: int
    role: str = "voter"  # or "observer" (a raft learner)

    @property
    def voter(self) -> bool:
        return self.role == "voter"


def parse_member(raw: Any, where: str) -> Member:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    unknown = set(raw) - {"id", "host", "client_port", "peer_port", "role"}
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]}: unknown member key")
    try:
        m = Member(
            int(raw["id"]),
            str(raw.get("host", "127.0.0.1")),
            int(raw["client_port"]),
            int(raw["peer_port"]),
            str(raw.get("role", "voter")),
        )
    except KeyError as e:
        raise ConfigError(f"{where}.{e.args[0]}: missing") from None
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: invalid member {raw!r}") from None
    if m.role not in ("voter", "observer"):
        raise ConfigError(f"{where}.role: must be voter or observer, got {m.role!r}")
    if not 1 <= m.id <= 255:
        raise ConfigError(f"{where}.id: must be 1..255, got {m.id}")
    return m


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 2181
    data_dir: Path = field(default_factory=lambda: Path("roost-data"))
    tick_ms: int = 2000
    #: None = 2 x tick_ms / 20 x tick_ms, as ZooKeeper
    min_session_timeout_ms: int | None = None
    max_session_timeout_ms: int | None = None
    #: largest frame body accepted (ZooKeeper's jute.maxbuffer)
    max_frame_bytes: int = 0xFFFFF
    #: connections per client IP; 0 = unlimited (ZooKeeper's maxClientCnxns)
    max_client_connections: int = 60
    #: bytes queued to one client before the server stops reading from it, and the hard cap
    #: after which the connection is closed
    outgoing_high_water: int = 4 * 1024 * 1024
    outgoing_hard_limit: int = 64 * 1024 * 1024
    #: take a snapshot after this many txns (ZooKeeper's snapCount)
    snapshot_every: int = 100_000
    snapshots_to_keep: int = 3
    #: the event history that watch-history streams replay (docs/client.md): at most this
    #: many events, this many estimated bytes (path + data + 200 per event) and this age
    #: (in txn time); whichever is reached first drops the oldest zxids
    history_max_events: int = 100_000
    history_max_bytes: int = 64 * 1024 * 1024
    history_max_age_ms: int = 3_600_000
    #: "user:base64(sha1(user:password))" with user "super" enables the super identity
    super_digest: str | None = None
    ttl_enabled: bool = True
    container_check_ms: int = 60_000
    four_letter_words: tuple[str, ...] = FOUR_LETTER_WORDS
    fsync: bool = True
    #: this member's id in `members` (0 = standalone)
    server_id: int = 0
    #: the ensemble; empty = standalone
    members: tuple[Member, ...] = ()
    #: listen for peers on this port instead of our member entry's peer_port (for tests that
    #: put a fault-injecting proxy in front of each member)
    peer_listen_port: int | None = None
    #: mutual TLS between members: this member's certificate and key, and the CA that
    #: signed every member's certificate (all three, or none for plain TCP + HMAC)
    peer_tls_cert: str | None = None
    peer_tls_key: str | None = None
    peer_tls_ca: str | None = None
    #: start with an empty log and wait for the leader's snapshot (a member being added to
    #: a running ensemble) instead of founding the ensemble from `members`
    join: bool = False
    #: shared secret that ensemble members prove to each other (required with members)
    peer_secret: str | None = None
    #: raft clock: one tick every raft_tick_ms; elections after election_ticks..2x ticks
    raft_tick_ms: int = 50
    election_ticks: int = 10
    heartbeat_ticks: int = 1
    #: answer every read through a ReadIndex round (linearizable) instead of locally
    linearizable_reads: bool = False
    #: TESTING ONLY, deliberately wrong: answer sync and linearizable reads without a
    #: ReadIndex round, so a deposed leader serves stale data. Exists so that the fault
    #: harness can show it catches this bug; never enable it otherwise.
    unsafe_skip_read_barrier: bool = False
    #: how long a request may wait for a leader before the client is disconnected
    request_timeout_ms: int = 10_000
    #: requests that may wait for a leader, per server
    max_waiting_requests: int = 10_000
    #: HTTP API (Consul-style KV and sessions, /metrics, the /ui dashboard): its port,
    #: None = off; see docs/http.md
    http_port: int | None = None
    http_host: str = "127.0.0.1"
    #: the znode under which /v1/kv/<key> keys live, and where Consul sessions are kept
    kv_root: str = "/kv"
    http_session_root: str = "/consul/sessions"
    #: refuse every mutating HTTP request (KV, sessions, dashboard edits)
    http_read_only: bool = False
    #: Access-Control-Allow-Origin for the HTTP API; "" = no CORS headers
    http_cors_origin: str = ""
    #: Prometheus `/metrics` on a port of its own, served with or without the HTTP API
    #: (ZooKeeper's metricsProvider.httpPort, 7000 there); None = off
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    #: where Consul-registered services live, in Apache Curator's service-discovery layout
    #: (<root>/<name>/<id>), shared with ZooKeeper clients; see docs/http.md
    http_services_root: str = "/services"
    #: TESTING: Consul session TTLs and TTL-check TTLs run at this percentage of the time
    #: asked for (100 = as asked); lets tests time Consul's >= 10 s TTLs in less time
    http_time_scale_pct: int = 100

    @property
    def min_session_timeout(self) -> int:
        return self.min_session_timeout_ms or 2 * self.tick_ms

    @property
    def max_session_timeout(self) -> int:
        return self.max_session_timeout_ms or 20 * self.tick_ms

    @property
    def ensemble(self) -> bool:
        return bool(self.members)

    def member(self, member_id: int | None = None) -> Member:
        mid = self.server_id if member_id is None else member_id
        for m in self.members:
            if m.id == mid:
                return m
        raise ConfigError(f"server_id: {mid} is not among the members")

    def _validate_members(self) -> None:
        ids = [m.id for m in self.members]
        if len(set(ids)) != len(ids):
            raise ConfigError("members: duplicate member id")
        self.member()
        if not any(m.voter for m in self.members):
            raise ConfigError("members: no voter")
        addrs = [(m.host, p) for m in self.members for p in (m.client_port, m.peer_port)]
        if len(set(addrs)) != len(addrs):
            raise ConfigError("members: two members share a host:port")
        if not self.peer_secret:
            raise ConfigError("peer_secret: required when members are configured")
        tls = (self.peer_tls_cert, self.peer_tls_key, self.peer_tls_ca)
        if any(tls) and not all(tls):
            raise ConfigError(
                "peer_tls_cert: peer_tls_cert, peer_tls_key and peer_tls_ca go together"
            )
        if self.election_ticks <= self.heartbeat_ticks:
            raise ConfigError("election_ticks: must be larger than heartbeat_ticks")

    def validate(self) -> ServerConfig:
        if self.members:
            self._validate_members()
        positive = (
            "tick_ms",
            "max_frame_bytes",
            "snapshot_every",
            "container_check_ms",
            "outgoing_high_water",
            "outgoing_hard_limit",
            "snapshots_to_keep",
            "history_max_events",
            "history_max_bytes",
            "history_max_age_ms",
            "raft_tick_ms",
            "election_ticks",
            "heartbeat_ticks",
            "request_timeout_ms",
            "max_waiting_requests",
            "http_time_scale_pct",
        )
        for key in positive:
            if getattr(self, key) <= 0:
                raise ConfigError(f"{key}: must be > 0, got {getattr(self, key)!r}")
        for key in ("port", "http_port", "metrics_port"):
            value = getattr(self, key)
            if value is not None and not 0 <= value <= 65535:
                raise ConfigError(f"{key}: must be 0..65535, got {value}")
        if self.max_client_connections < 0:
            raise ConfigError("max_client_connections: must be >= 0")
        if self.min_session_timeout > self.max_session_timeout:
            raise ConfigError("min_session_timeout_ms: larger than max_session_timeout_ms")
        if self.outgoing_high_water > self.outgoing_hard_limit:
            raise ConfigError("outgoing_high_water: larger than outgoing_hard_limit")
        for w in self.four_letter_words:
            if w not in FOUR_LETTER_WORDS:
                raise ConfigError(f"four_letter_words: unknown command {w!r}")
        if self.super_digest is not None and not self.super_digest.startswith("super:"):
            raise ConfigError("super_digest: must look like 'super:<base64 sha1>'")
        return self

    def replace(self, **changes: Any) -> ServerConfig:
        return apply_overrides(self, changes)


def _coerce(key: str, value: Any, target: Any) -> Any:
    """Convert a raw value to the type of the field's default."""
    try:
        if key == "members":
            if not isinstance(value, list | tuple):
                raise ConfigError("members: must be a list of tables")
            return tuple(
                v if isinstance(v, Member) else parse_member(v, f"members[{i}]")
                for i, v in enumerate(value)
            )
        if key == "data_dir":
            return Path(value)
        if key == "four_letter_words":
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            if list(value) == ["*"]:
                return FOUR_LETTER_WORDS
            return tuple(str(v) for v in value)
        if isinstance(target, bool):
            if isinstance(value, str):
                if value.lower() in ("true", "yes", "1"):
                    return True
                if value.lower() in ("false", "no", "0"):
                    return False
                raise ValueError(value)
            return bool(value)
        if key in (
            "peer_listen_port",
            "http_port",
            "metrics_port",
            "min_session_timeout_ms",
            "max_session_timeout_ms",
            "super_digest",
            "peer_secret",
            "peer_tls_cert",
            "peer_tls_key",
            "peer_tls_ca",
        ):
            if value is None:
                return None
            return int(value) if key.endswith(("_ms", "_port")) else str(value)
        if isinstance(target, int):
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: invalid value {value!r}") from None


def apply_overrides(cfg: ServerConfig, values: dict[str, Any]) -> ServerConfig:
    known = {f.name for f in fields(ServerConfig)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{key}: unknown configuration key")
        changes[key] = _coerce(key, value, getattr(cfg, key))
    return dataclasses.replace(cfg, **changes).validate()


def load_toml(path: Path, base: ServerConfig | None = None) -> ServerConfig:
    try:
        data = tomllib.loads(path.read_text())
    except OSError as e:
        raise ConfigError(f"config file {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path}: {e}") from None
    section = data.get("server", data)
    if not isinstance(section, dict):
        raise ConfigError("server: must be a table")
    section = dict(section)
    if "members" in data and "server" in data:
        section["members"] = data["members"]
    return apply_overrides(base or ServerConfig(), section)


#: zoo.cfg keys that map onto roost settings
_ZOO_KEYS = {
    "tickTime": "tick_ms",
    "dataDir": "data_dir",
    "clientPort": "port",
    "clientPortAddress": "host",
    "maxClientCnxns": "max_client_connections",
    "minSessionTimeout": "min_session_timeout_ms",
    "maxSessionTimeout": "max_session_timeout_ms",
    "snapCount": "snapshot_every",
    "4lw.commands.whitelist": "four_letter_words",
    "autopurge.snapRetainCount": "snapshots_to_keep",
    "forceSync": "fsync",
    "roost.peerSecret": "peer_secret",
    "roost.serverId": "server_id",
}
#: zoo.cfg keys that are understood but have no meaning for roost
_ZOO_IGNORED = {
    "initLimit",
    "syncLimit",
    "dataLogDir",
    "admin.enableServer",
    "admin.serverPort",
    "autopurge.purgeInterval",
    "standaloneEnabled",
    "reconfigEnabled",
    "metricsProvider.exportJvmInfo",
    "preAllocSize",
}


def load_zoo_cfg(path: Path, base: ServerConfig | None = None) -> ServerConfig:
    """Read ZooKeeper's own zoo.cfg (key=value lines), keeping the keys that apply."""
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"config file {path}: {e.strerror}") from None
    values: dict[str, Any] = {}
    members: list[Member] = []
    metrics: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise ConfigError(f"{path}:{n}: expected key=value, got {line!r}")
        key, value = (s.strip() for s in line.split("=", 1))
        if key.startswith("server."):
            members.append(_zoo_member(key, value, f"{path}:{n}"))
            continue
        if key in _ZOO_IGNORED:
            continue
        if key.startswith("metricsProvider."):
            metrics[key] = value
            continue
        if key not in _ZOO_KEYS:
            raise ConfigError(f"{key}: unknown zoo.cfg key ({path}:{n})")
        if key == "forceSync":
            value = "true" if value.lower() == "yes" else "false"
        values[_ZOO_KEYS[key]] = value
    values.update(_zoo_metrics(metrics))
    if members:
        values["members"] = tuple(members)
        myid = Path(str(values.get("data_dir", (base or ServerConfig()).data_dir))) / "myid"
        if "server_id" not in values and myid.exists():
            values["server_id"] = myid.read_text().strip()
    return apply_overrides(base or ServerConfig(), values)


#: the metrics provider of ZooKeeper's that roost's metrics port stands in for
PROMETHEUS_PROVIDER = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"


def _zoo_metrics(keys: dict[str, str]) -> dict[str, Any]:
    """ZooKeeper serves metrics only with the Prometheus provider configured: on
    httpHost:httpPort, 0.0.0.0:7000 unless set."""
    known = {"metricsProvider.className", "metricsProvider.httpPort", "metricsProvider.httpHost"}
    for key in keys:
        if key not in known:
            raise ConfigError(f"{key}: unsupported zoo.cfg key (roost's metrics port is "
                              "plain HTTP; see docs/http.md)")
    cls = keys.get("metricsProvider.className")
    if cls is None:
        return {}
    if cls != PROMETHEUS_PROVIDER:
        raise ConfigError(f"metricsProvider.className: only {PROMETHEUS_PROVIDER} is "
                          f"supported, got {cls!r}")
    return {
        "metrics_port": keys.get("metricsProvider.httpPort", "7000"),
        "metrics_host": keys.get("metricsProvider.httpHost", "0.0.0.0"),
    }


def _zoo_member(key: str, value: str, where: str) -> Member:
    """`server.N=host:peerPort:electionPort[:observer|:participant][;[clientHost:]clientPort]`."""
    try:
        sid = int(key.split(".", 1)[1])
        addr, _, client = value.partition(";")
        parts = addr.split(":")
        host, peer_port = parts[0], int(parts[1])
        role = "observer" if len(parts) > 3 and parts[3] == "observer" else "voter"
        client_port = int(client.rsplit(":", 1)[-1]) if client else 2181
    except (ValueError, IndexError):
        raise ConfigError(f"{key}: cannot parse {value!r} ({where})") from None
    return Member(sid, host, client_port, peer_port, role)
