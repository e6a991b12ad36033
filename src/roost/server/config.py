"""The server configuration: `ServerConfig` (its fields, defaults, derived values and
validation) and `apply_overrides`, which sets fields from raw values. Reading it from files
and the environment is `roost.server.configload` (TOML, ROOST_* variables) and
`roost.server.zoocfg` (ZooKeeper's zoo.cfg)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from roost.replica.member import Member
from roost.server.configvalues import (
    FOUR_LETTER_WORDS,
    SECRET_KEYS,
    ConfigError,
    coerce,
    did_you_mean,
    read_secret,
)
from roost.server.sasl import parse_users_file


@dataclass
class ServerConfig:
    #: client listen address; None = this member's `host` in an ensemble, else 127.0.0.1;
    #: "*" = every address (ZooKeeper's default when clientPortAddress is not set)
    host: str | None = None
    #: client port; None = this member's `client_port` in an ensemble, else 2181
    port: int | None = None
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
    #: listen for peers on this address instead of our member entry's host (the address
    #: other members dial), e.g. "0.0.0.0" behind NAT or in a container
    peer_bind_host: str | None = None
    #: mutual TLS between members: this member's certificate and key, and the CA that
    #: signed every member's certificate (all three, or none for plain TCP + HMAC)
    peer_tls_cert: str | None = None
    peer_tls_key: str | None = None
    peer_tls_ca: str | None = None
    #: TLS for clients (ZooKeeper's secureClientPort): the port, None = no TLS port
    secure_port: int | None = None
    #: false = clients only on secure_port (no plain client port)
    plain_port: bool = True
    #: the server's certificate (chain) and key in PEM (the key may be in the cert file),
    #: the key's password, and the CA that signs client certificates
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_key_password: str | None = None
    tls_ca: str | None = None
    #: client certificates: "need", "want" or "none" (None = "need" with tls_ca, else
    #: "none", as ZooKeeper's ssl.clientAuth); a verified certificate's subject DN becomes
    #: the connection's `x509` identity
    tls_client_auth: str | None = None
    #: a client certificate subject DN that gets the super identity
    tls_super_user: str | None = None
    #: serve the HTTP API over HTTPS with tls_cert/tls_key
    http_tls: bool = False
    #: SASL DIGEST-MD5 users (name, password); empty = SASL off. From a TOML table
    #: (`sasl_users = { bob = "secret" }`), "bob:secret,alice:pw", or sasl_users_file
    sasl_users: tuple[tuple[str, str], ...] = ()
    #: a SASL user that gets the super identity (ZooKeeper's zookeeper.superUser)
    sasl_super_user: str | None = None
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
    #: TESTING ONLY: behave as a version without liveness grants does (acknowledge no
    #: session report, answer sessions without grants), for tests of a rolling upgrade
    unsafe_no_liveness_grants: bool = False
    #: how long a request may wait for a leader before the client is disconnected
    request_timeout_ms: int = 10_000
    #: requests that may wait for a leader, per server
    max_waiting_requests: int = 10_000
    #: HTTP API (Consul-style KV and sessions, /metrics, the /ui dashboard): its port,
    #: None = off; see docs/http.md
    http_port: int | None = None
    #: None = the client listen address (`host`)
    http_host: str | None = None
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
    def listen_host(self) -> str:
        """The client listen address ("*" = every address)."""
        if self.host is not None:
            return self.host
        return self.member().host if self.members else "127.0.0.1"

    @property
    def listen_port(self) -> int:
        if self.port is not None:
            return self.port
        return self.member().client_port if self.members else 2181

    @property
    def tls_client_auth_mode(self) -> str:
        if self.tls_client_auth is not None:
            return self.tls_client_auth
        return "need" if self.tls_ca else "none"

    @property
    def http_listen_host(self) -> str:
        return self.listen_host if self.http_host is None else self.http_host

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

    def _validate_tls(self) -> None:
        if self.secure_port is not None and not 0 <= self.secure_port <= 65535:
            raise ConfigError(f"secure_port: must be 0..65535, got {self.secure_port}")
        if (self.secure_port is not None or self.http_tls) and not self.tls_cert:
            key = "secure_port" if self.secure_port is not None else "http_tls"
            raise ConfigError(f"{key}: needs tls_cert (and tls_key unless the cert file has it)")
        if not self.plain_port and self.secure_port is None:
            raise ConfigError("plain_port: false needs a secure_port")
        if self.tls_client_auth not in (None, "none", "want", "need"):
            raise ConfigError(
                f"tls_client_auth: must be need, want or none, got {self.tls_client_auth!r}"
            )
        if self.tls_client_auth in ("want", "need") and not self.tls_ca:
            raise ConfigError(f"tls_client_auth: {self.tls_client_auth} needs tls_ca")

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
        for key in ("port", "secure_port", "http_port", "metrics_port"):
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
        self._validate_tls()
        if self.super_digest is not None and not self.super_digest.startswith("super:"):
            raise ConfigError("super_digest: must look like 'super:<base64 sha1>'")
        return self

    def replace(self, **changes: Any) -> ServerConfig:
        return apply_overrides(self, changes)


def known_keys() -> list[str]:
    """Every key a configuration source may set: the fields, `<secret>_file` and
    `sasl_users_file`."""
    names = [f.name for f in fields(ServerConfig)]
    return [*names, *(f"{k}_file" for k in SECRET_KEYS), "sasl_users_file"]


def apply_overrides(
    cfg: ServerConfig, values: Mapping[str, Any], validate: bool = True
) -> ServerConfig:
    """`cfg` with the raw `values` (by key) converted and set; validated unless not
    `validate`. Unknown keys are a ConfigError."""
    known = {f.name for f in fields(ServerConfig)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key == "sasl_users_file":
            if "sasl_users" in values:
                raise ConfigError("sasl_users_file: give sasl_users or sasl_users_file, not both")
            try:
                changes["sasl_users"] = parse_users_file(str(value))
            except ValueError as e:
                raise ConfigError(f"sasl_users_file: {e}") from None
            continue
        if key.endswith("_file") and key.removesuffix("_file") in SECRET_KEYS:
            name = key.removesuffix("_file")
            if name in values:
                raise ConfigError(f"{key}: give {name} or {key}, not both")
            changes[name] = read_secret(key, value)
            continue
        if key not in known:
            raise ConfigError(
                f"{key}: unknown configuration key{did_you_mean(key, known_keys())}"
            )
        changes[key] = coerce(key, value, getattr(cfg, key))
    out = dataclasses.replace(cfg, **changes)
    return out.validate() if validate else out


__all__ = ["ConfigError", "ServerConfig", "apply_overrides", "known_keys"]
