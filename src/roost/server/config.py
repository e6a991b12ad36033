"""One typed server configuration, loaded from defaults, TOML, or ZooKeeper's zoo.cfg."""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from roost.replica.member import Member
from roost.server.sasl import parse_users_file

#: The four-letter words roost implements.
FOUR_LETTER_WORDS = ("ruok", "srvr", "stat", "mntr", "conf", "cons", "envi", "wchs", "dump", "isro")


class ConfigError(ValueError):
    """A bad configuration value; the message names the key."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """" (did you mean 'x'?)" for the closest of `choices`, or ""."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_member(raw: Any, where: str) -> Member:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    keys = ("id", "host", "client_port", "peer_port", "role")
    unknown = sorted(set(raw) - set(keys))
    if unknown:
        raise ConfigError(
            f"{where}.{unknown[0]}: unknown member key{did_you_mean(unknown[0], keys)}"
        )
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
        if key == "sasl_users":
            return _sasl_users(value)
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
            "host",
            "port",
            "secure_port",
            "tls_cert",
            "tls_key",
            "tls_key_password",
            "tls_ca",
            "tls_client_auth",
            "tls_super_user",
            "sasl_super_user",
            "http_host",
            "peer_bind_host",
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
            return int(value) if key.endswith(("_ms", "port")) else str(value)
        if isinstance(target, int):
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        return str(value)
    except ConfigError:
        raise
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: invalid value {value!r}") from None


#: settings whose value may instead be read from a file named by `<key>_file` (secrets
#: kept out of config files and process environments)
SECRET_KEYS = ("peer_secret", "super_digest", "tls_key_password")


def _known_keys() -> list[str]:
    names = [f.name for f in fields(ServerConfig)]
    return [*names, *(f"{k}_file" for k in SECRET_KEYS), "sasl_users_file"]


def _sasl_users(value: Any) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[Any, ...]]
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, str):
        pairs = [tuple(p.strip().split(":", 1)) for p in value.split(",") if p.strip()]
    else:
        pairs = [tuple(p) for p in value]
    out = []
    for pair in pairs:
        if len(pair) != 2 or not pair[0]:
            raise ValueError(pair)
        out.append((str(pair[0]), str(pair[1])))
    return tuple(out)


def _read_secret(key: str, path: Any) -> str:
    try:
        return Path(str(path)).read_text().strip()
    except OSError as e:
        raise ConfigError(f"{key}: cannot read {path}: {e.strerror}") from None


def apply_overrides(
    cfg: ServerConfig, values: Mapping[str, Any], validate: bool = True
) -> ServerConfig:
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
            changes[name] = _read_secret(key, value)
            continue
        if key not in known:
            raise ConfigError(
                f"{key}: unknown configuration key{did_you_mean(key, _known_keys())}"
            )
        changes[key] = _coerce(key, value, getattr(cfg, key))
    out = dataclasses.replace(cfg, **changes)
    return out.validate() if validate else out


#: the keys of a TOML file's `[http]` table and the settings they set
HTTP_TABLE = {
    "port": "http_port",
    "host": "http_host",
    "read_only": "http_read_only",
    "cors_origin": "http_cors_origin",
    "kv_root": "kv_root",
    "session_root": "http_session_root",
    "services_root": "http_services_root",
    "time_scale_pct": "http_time_scale_pct",
    "tls": "http_tls",
}
#: the tables a TOML file may have (bare keys at the top level are [server] keys)
TOML_TABLES = ("server", "members", "http")


def _table(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{name}: must be a table ([{name}])")
    return value


def toml_settings(data: dict[str, Any]) -> dict[str, Any]:
    """The settings of a parsed roost.toml, refusing unknown tables and keys."""
    known = _known_keys()
    settings: dict[str, Any] = {}
    for key, value in data.items():
        if key in TOML_TABLES:
            continue
        if isinstance(value, dict | list) and key not in known:
            hint = did_you_mean(key, [*TOML_TABLES, *known])
            raise ConfigError(f"[{key}]: unknown table{hint}")
        settings[key] = value  # a bare top-level key: a [server] key (checked below)
    for key, value in _table(data, "server").items():
        if key == "members":
            raise ConfigError("server.members: members go in [[members]] tables")
        if key in settings:
            raise ConfigError(f"{key}: set both in [server] and at the top level")
        settings[key] = value
    for key, value in _table(data, "http").items():
        if key not in HTTP_TABLE:
            raise ConfigError(f"http.{key}: unknown key{did_you_mean(key, HTTP_TABLE)}")
        if HTTP_TABLE[key] in settings:
            raise ConfigError(f"http.{key}: also set as {HTTP_TABLE[key]} in [server]")
        settings[HTTP_TABLE[key]] = value
    if "members" in data:
        settings["members"] = data["members"]
    return settings


def load_toml(
    path: Path, base: ServerConfig | None = None, validate: bool = True
) -> ServerConfig:
    try:
        data = tomllib.loads(path.read_text())
    except OSError as e:
        raise ConfigError(f"config file {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path}: {e}") from None
    return apply_overrides(base or ServerConfig(), toml_settings(data), validate)


#: the environment's prefix: ROOST_<KEY> sets <key> (ROOST_PEER_SECRET_FILE, ROOST_HTTP_PORT)
ENV_PREFIX = "ROOST_"
#: ROOST_* variables that belong to the client commands or to tests, not to the server
ENV_NOT_SERVER = ("ROOST_SERVER", "ROOST_JAVA")


def env_settings(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The settings given as ROOST_<KEY> environment variables. `ROOST_MEMBERS` is a TOML
    array of member tables: `[{id=1, host="10.0.0.1", client_port=2181, peer_port=2888}]`."""
    env = os.environ if environ is None else environ
    known = _known_keys()
    settings: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name in ENV_NOT_SERVER:
            continue
        if name.startswith("ROOST_TEST_"):
            continue
        key = name.removeprefix(ENV_PREFIX).lower()
        if key not in known:
            hint = did_you_mean(key, known)
            raise ConfigError(f"{name}: unknown configuration key {key!r}{hint}")
        if key == "members":
            try:
                settings[key] = tomllib.loads(f"v = {value}")["v"]
            except tomllib.TOMLDecodeError as e:
                raise ConfigError(f"{name}: not a TOML array of tables: {e}") from None
            continue
        settings[key] = value
    return settings


def load(
    config_path: Path | None = None,
    zoo_cfg: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    base: ServerConfig | None = None,
) -> ServerConfig:
    """The server configuration from, lowest precedence first: defaults (`base`), zoo.cfg,
    roost.toml, ROOST_* environment variables, `overrides` (command-line flags)."""
    cfg = base or ServerConfig()
    if zoo_cfg is not None:
        cfg = load_zoo_cfg(zoo_cfg, cfg, validate=False)
    if config_path is not None:
        cfg = load_toml(config_path, cfg, validate=False)
    cfg = apply_overrides(cfg, env_settings(environ), validate=False)
    return apply_overrides(cfg, overrides or {})


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
    "serverCnxnFactory",  # ZooKeeper needs its Netty factory for TLS; roost has one server
    "clientCnxnSocket",
    "ssl.trustStore.password",  # PEM trust stores have no password
    "ssl.quorum.trustStore.password",
    "ssl.protocol",
    "ssl.quorum.protocol",
    "ssl.hostnameVerification",
    "ssl.quorum.hostnameVerification",
}
#: zoo.cfg TLS keys (PEM key and trust stores only) and the roost settings they set
_ZOO_TLS = {
    "secureClientPort": "secure_port",
    "ssl.keyStore.location": "tls_cert",
    "ssl.keyStore.password": "tls_key_password",
    "ssl.trustStore.location": "tls_ca",
    "ssl.clientAuth": "tls_client_auth",
    "ssl.quorum.keyStore.location": "peer_tls_cert",
    "ssl.quorum.trustStore.location": "peer_tls_ca",
}
_ZOO_STORE_TYPES = {
    "ssl.keyStore.type": "ssl.keyStore.location",
    "ssl.trustStore.type": "ssl.trustStore.location",
    "ssl.quorum.keyStore.type": "ssl.quorum.keyStore.location",
    "ssl.quorum.trustStore.type": "ssl.quorum.trustStore.location",
}
_ZOO_PROVIDERS = {
    "SASLAuthenticationProvider",
    "X509AuthenticationProvider",
    "DigestAuthenticationProvider",
    "IPAuthenticationProvider",
}
_ZOO_UNSUPPORTED = {
    "secureClientPortAddress": "the TLS port listens on the client address",
    "ssl.quorum.keyStore.password": "give the members an unencrypted PEM key",
}


def _zoo_tls(raw: dict[str, str], where: str) -> dict[str, Any]:
    """The settings of zoo.cfg's TLS keys. Only PEM stores are read: a Java keystore (JKS,
    PKCS12) is refused with how to convert it."""
    for type_key, location_key in _ZOO_STORE_TYPES.items():
        kind = raw.get(type_key, "").upper()
        location = raw.get(location_key, "")
        if not kind and location:
            ext = location.rsplit(".", 1)[-1].lower()
            kind = {"jks": "JKS", "p12": "PKCS12", "pfx": "PKCS12", "bcfks": "BCFKS"}.get(
                ext, "PEM"
            )
        if kind and kind != "PEM":
            raise ConfigError(
                f"{type_key if type_key in raw else location_key}: {kind} keystores are not "
                f"supported ({where}); convert to one PEM file holding the certificate chain "
                "and the key (keytool -importkeystore -deststoretype PKCS12, then openssl "
                "pkcs12 -nodes) and set the .type to PEM"
            )
    out: dict[str, Any] = {}
    for key, setting in _ZOO_TLS.items():
        if key in raw:
            out[setting] = raw[key].lower() if key == "ssl.clientAuth" else raw[key]
    if "peer_tls_cert" in out:
        out["peer_tls_key"] = out["peer_tls_cert"]  # a PEM keystore holds both
    if raw.get("sslQuorum", "false").lower() != "true":
        for k in ("peer_tls_cert", "peer_tls_key", "peer_tls_ca"):
            out.pop(k, None)
    return out


def load_zoo_cfg(
    path: Path, base: ServerConfig | None = None, validate: bool = True
) -> ServerConfig:
    """Read ZooKeeper's own zoo.cfg (key=value lines), keeping the keys that apply."""
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"config file {path}: {e.strerror}") from None
    values: dict[str, Any] = {}
    members: list[Member] = []
    client_hosts: dict[int, str] = {}
    tls_raw: dict[str, str] = {}
    metrics: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise ConfigError(f"{path}:{n}: expected key=value, got {line!r}")
        key, value = (s.strip() for s in line.split("=", 1))
        if key.startswith("server."):
            member, client_host = _zoo_member(key, value, f"{path}:{n}")
            members.append(member)
            client_hosts[member.id] = client_host
            continue
        if key in _ZOO_IGNORED:
            continue
        if key.startswith("authProvider."):
            if value.rsplit(".", 1)[-1] not in _ZOO_PROVIDERS:
                raise ConfigError(f"{key}: unknown authentication provider {value!r} ({path}:{n})")
            continue  # digest, ip, sasl and x509 are always on
        if key in _ZOO_UNSUPPORTED:
            raise ConfigError(f"{key}: not supported: {_ZOO_UNSUPPORTED[key]} ({path}:{n})")
        if key in _ZOO_TLS or key in _ZOO_STORE_TYPES or key == "sslQuorum":
            tls_raw[key] = value
            continue
        if key.startswith("metricsProvider."):
            metrics[key] = value
            continue
        if key not in _ZOO_KEYS:
            known = [*_ZOO_KEYS, *_ZOO_IGNORED, *_ZOO_TLS, *_ZOO_STORE_TYPES]
            hint = did_you_mean(key, known)
            raise ConfigError(f"{key}: unknown zoo.cfg key ({path}:{n}){hint}")
        if key == "forceSync":
            value = "true" if value.lower() == "yes" else "false"
        values[_ZOO_KEYS[key]] = value
    values.update(_zoo_metrics(metrics))
    if members:
        values["members"] = tuple(members)
        myid = Path(str(values.get("data_dir", (base or ServerConfig()).data_dir))) / "myid"
        if "server_id" not in values and myid.exists():
            values["server_id"] = myid.read_text().strip()
    values.update(_zoo_tls(tls_raw, str(path)))
    if "secure_port" in values and "port" not in values and not members:
        values["plain_port"] = "false"  # secureClientPort instead of clientPort
    if "host" not in values:
        # ZooKeeper listens on every address unless clientPortAddress (or this server's
        # `;clientHost:clientPort` in its server.N line) names one
        try:
            own = client_hosts.get(int(values.get("server_id", 0)), "")
        except ValueError:
            own = ""
        values["host"] = own or "*"
    return apply_overrides(base or ServerConfig(), values, validate)


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


def _zoo_member(key: str, value: str, where: str) -> tuple[Member, str]:
    """`server.N=host:peerPort:electionPort[:observer|:participant][;[clientHost:]clientPort]`
    as a member and its client host ("" when the line gives none)."""
    try:
        sid = int(key.split(".", 1)[1])
        addr, _, client = value.partition(";")
        parts = addr.split(":")
        host, peer_port = parts[0], int(parts[1])
        role = "observer" if len(parts) > 3 and parts[3] == "observer" else "voter"
        client_host, _, cport = client.rpartition(":")
        client_port = int(cport) if client else 2181
    except (ValueError, IndexError):
        raise ConfigError(f"{key}: cannot parse {value!r} ({where})") from None
    return Member(sid, host, client_port, peer_port, role), client_host
