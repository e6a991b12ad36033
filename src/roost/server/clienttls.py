"""TLS for clients (ZooKeeper's secureClientPort) and the HTTP API: the contexts, their
reload when the certificate files change, and the x509 identity of a client certificate."""

from __future__ import annotations

import logging
import os
import ssl
from typing import Any

from roost.server.config import ConfigError, ServerConfig
from roost.tree.acl import SUPER_ID
from roost.wire.records import Id

log = logging.getLogger("roost.tls")

#: RFC 2253 keywords (the ones Java's X500Principal.getName() prints by name) for the
#: attribute names Python's ssl module reports
_KEYWORDS = {
    "commonName": "CN",
    "countryName": "C",
    "localityName": "L",
    "stateOrProvinceName": "ST",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "streetAddress": "STREET",
    "domainComponent": "DC",
    "userId": "UID",
}
#: attributes Java prints as OID=#hex (the DER encoding of the value), with their string tag
_BY_OID = {"emailAddress": ("1.2.840.113549.1.9.1", 0x16)}  # IA5String


def _escape(value: str) -> str:
    out = []
    for i, ch in enumerate(value):
        if ch in ',+"\\<>;' or (ch == "#" and i == 0) or (ch == " " and i in (0, len(value) - 1)):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _der_hex(tag: int, value: str) -> str:
    raw = value.encode()
    if len(raw) < 0x80:
        length = bytes([len(raw)])
    else:
        n = (len(raw).bit_length() + 7) // 8
        length = bytes([0x80 | n]) + len(raw).to_bytes(n, "big")
    return "#" + (bytes([tag]) + length + raw).hex()


def subject_dn(cert: dict[str, Any]) -> str:
    """The subject of a certificate (as `SSLObject.getpeercert()` returns it) in RFC 2253
    form, most specific RDN first: the id ZooKeeper's x509 scheme gives a client
    ("CN=app,OU=ops,O=Example,C=DE")."""
    rdns = []
    for rdn in reversed(cert.get("subject", ())):
        parts = []
        for name, value in rdn:
            if name in _BY_OID:
                oid, tag = _BY_OID[name]
                parts.append(f"{oid}={_der_hex(tag, value)}")
            else:
                parts.append(f"{_KEYWORDS.get(name, name)}={_escape(value)}")
        rdns.append("+".join(parts))
    return ",".join(rdns)


def x509_ids(cert: dict[str, Any] | None, super_user: str | None) -> tuple[Id, ...]:
    """The identities a verified client certificate gives its connection: ("x509", DN), and
    the super identity first when the DN is `super_user` (ZooKeeper's
    zookeeper.X509AuthenticationProvider.superUser)."""
    if not cert:
        return ()
    dn = subject_dn(cert)
    if not dn:
        return ()
    ident = Id("x509", dn)
    return (SUPER_ID, ident) if super_user is not None and dn == super_user else (ident,)


def _files(config: ServerConfig) -> list[str]:
    return [f for f in (config.tls_cert, config.tls_key, config.tls_ca) if f]


def _mtimes(files: list[str]) -> tuple[float, ...]:
    out = []
    for f in files:
        try:
            out.append(os.stat(f).st_mtime)
        except OSError:
            out.append(-1.0)
    return tuple(out)


class ClientTls:
    """The server contexts of the secure client port and of HTTPS.

    The listeners keep `client` and `http` for their lifetime; each handshake switches to
    the newest contexts (`SSLContext.sni_callback`, which OpenSSL calls on every
    ClientHello, with or without a server name). `reload()` builds new contexts from the
    files, so a CA taken out of `tls_ca` no longer verifies new handshakes (loading into the
    old context could only add CAs); open connections keep the context they were made
    with. A file that does not load leaves the previous contexts in use."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.client_auth = config.tls_client_auth_mode
        self.client = self._context(self.client_auth)
        self.http = self._context("none")
        #: the contexts new handshakes use (replaced by each successful reload)
        self.current = {"client": self.client, "http": self.http}
        self.client.sni_callback = self._switch("client")
        self.http.sni_callback = self._switch("http")
        self._mtimes = _mtimes(_files(config))

    def _switch(self, which: str) -> Any:
        def switch(conn: ssl.SSLObject, _name: str | None, ctx: ssl.SSLContext) -> None:
            now = self.current[which]
            if now is not ctx:
                conn.context = now
        return switch

    def _context(self, client_auth: str) -> ssl.SSLContext:
        cfg = self.config
        assert cfg.tls_cert is not None
        try:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            self._load(ctx, client_auth)
        except (OSError, ssl.SSLError) as e:
            raise ConfigError(f"tls_cert: cannot load the client TLS files: {e}") from None
        return ctx

    def _load(self, ctx: ssl.SSLContext, client_auth: str) -> None:
        cfg = self.config
        assert cfg.tls_cert is not None
        ctx.load_cert_chain(cfg.tls_cert, cfg.tls_key, password=cfg.tls_key_password)
        if client_auth != "none" and cfg.tls_ca:
            ctx.load_verify_locations(cafile=cfg.tls_ca)
            ctx.verify_mode = ssl.CERT_REQUIRED if client_auth == "need" else ssl.CERT_OPTIONAL

    def changed(self) -> bool:
        """Have the files changed since they were last loaded?"""
        return _mtimes(_files(self.config)) != self._mtimes

    def reload(self) -> bool:
        """Load the files again into new contexts for new handshakes; False (and the
        previous ones stay in use) if they do not load."""
        mtimes = _mtimes(_files(self.config))
        self._mtimes = mtimes  # do not retry until they change again
        try:
            fresh = {"client": self._context(self.client_auth), "http": self._context("none")}
        except ConfigError as e:
            log.error("TLS files not reloaded, the previous ones stay in use: %s", e)
            return False
        self.current = fresh
        log.info("TLS certificate reloaded from %s", self.config.tls_cert)
        return True


def client_tls(config: ServerConfig) -> ClientTls | None:
    """The client/HTTP TLS contexts, or None when no certificate is configured."""
    return ClientTls(config) if config.tls_cert else None
