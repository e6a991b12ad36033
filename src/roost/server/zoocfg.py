"""ZooKeeper's own zoo.cfg (key=value lines) read into a `ServerConfig`: the keys that map
onto roost settings, server.N member lines, PEM TLS stores and the Prometheus metrics port."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from roost.replica.member import Member
from roost.server.config import ServerConfig, apply_overrides
from roost.server.configvalues import ConfigError, did_you_mean

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
