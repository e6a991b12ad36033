"""Where a server configuration comes from: roost.toml, ROOST_* environment variables, and
`load`, which layers defaults, zoo.cfg, roost.toml, the environment and command-line flags."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from roost.server.config import ServerConfig, apply_overrides, known_keys
from roost.server.configvalues import ConfigError, did_you_mean
from roost.server.zoocfg import load_zoo_cfg

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
    known = known_keys()
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
    known = known_keys()
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
