"""Raw configuration values made typed: the conversion of a value from TOML, zoo.cfg, the
environment or a flag into a `ServerConfig` field's type, and the error for a bad one."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from roost.replica.member import Member

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


def coerce(key: str, value: Any, target: Any) -> Any:
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
            return parse_sasl_users(value)
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


def parse_sasl_users(value: Any) -> tuple[tuple[str, str], ...]:
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


def read_secret(key: str, path: Any) -> str:
    try:
        return Path(str(path)).read_text().strip()
    except OSError as e:
        raise ConfigError(f"{key}: cannot read {path}: {e.strerror}") from None
