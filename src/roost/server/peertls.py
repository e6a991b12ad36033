"""TLS contexts for the links between ensemble members (mutual: both sides show a
certificate signed by the members' CA)."""

from __future__ import annotations

import ssl

from roost.server.config import ConfigError, ServerConfig


def peer_tls(config: ServerConfig) -> tuple[ssl.SSLContext | None, ssl.SSLContext | None]:
    """(server context, client context), or (None, None) when TLS is not configured."""
    cert, key, ca = config.peer_tls_cert, config.peer_tls_key, config.peer_tls_ca
    if not (cert and key and ca):
        return None, None
    try:
        server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=ca)
        server.load_cert_chain(cert, key)
        server.verify_mode = ssl.CERT_REQUIRED
        client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
        client.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(f"peer_tls_cert: cannot load the peer TLS files: {e}") from None
    return server, client
