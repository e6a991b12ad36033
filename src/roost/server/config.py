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
    #: "user:base64(sha1(user:password))" with user "super" enables the super identity
    super_digest: str | None = None
    ttl_enabled: bool = True
    container_check_ms: int = 60_000
    four_letter_words: tuple[str, ...] = FOUR_LETTER_WORDS
    fsync: bool = True
    server_id: int = 0

    @property
    def min_session_timeout(self) -> int:
        return self.min_session_timeout_ms or 2 * self.tick_ms

    @property
    def max_session_timeout(self) -> int:
        return self.max_session_timeout_ms or 20 * self.tick_ms

    def validate(self) -> ServerConfig:
        positive = (
            "tick_ms",
            "max_frame_bytes",
            "snapshot_every",
            "container_check_ms",
            "outgoing_high_water",
            "outgoing_hard_limit",
            "snapshots_to_keep",
        )
        for key in positive:
            if getattr(self, key) <= 0:
                raise ConfigError(f"{key}: must be > 0, got {getattr(self, key)!r}")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port: must be 0..65535, got {self.port}")
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
        if key in ("min_session_timeout_ms", "max_session_timeout_ms", "super_digest"):
            if value is None:
                return None
            return str(value) if key == "super_digest" else int(value)
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
    "metricsProvider.className",
    "preAllocSize",
}


def load_zoo_cfg(path: Path, base: ServerConfig | None = None) -> ServerConfig:
    """Read ZooKeeper's own zoo.cfg (key=value lines), keeping the keys that apply."""
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"config file {path}: {e.strerror}") from None
    values: dict[str, Any] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise ConfigError(f"{path}:{n}: expected key=value, got {line!r}")
        key, value = (s.strip() for s in line.split("=", 1))
        if key.startswith("server.") or key in _ZOO_IGNORED:
            continue
        if key not in _ZOO_KEYS:
            raise ConfigError(f"{key}: unknown zoo.cfg key ({path}:{n})")
        if key == "forceSync":
            value = "true" if value.lower() == "yes" else "false"
        values[_ZOO_KEYS[key]] = value
    return apply_overrides(base or ServerConfig(), values)
