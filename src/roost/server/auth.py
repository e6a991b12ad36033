"""Authentication on a client connection: auth packets (digest, ip, x509 schemes) and
SASL DIGEST-MD5 steps. The replies' wire rules are `roost.wire.session`'s."""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING

from roost.server.sasl import DigestMd5Server, SaslError
from roost.tree.acl import SUPER_ID, auth_ids
from roost.wire.records import Id
from roost.wire.session import Auth, Sasl

if TYPE_CHECKING:
    from roost.server.config import ServerConfig
    from roost.server.connection import Connection

log = logging.getLogger("roost.server")


def auth_packet(config: ServerConfig, conn: Connection, ev: Auth) -> None:
    ids = auth_ids(ev.scheme, ev.auth, conn.ip, config.super_digest)
    if ids is None:
        log.info("auth failed for %s with scheme %r: closing", conn.ip, ev.scheme)
    conn.proto.auth_result(ids)


def sasl_step(config: ServerConfig, conn: Connection, ev: Sasl) -> None:
    """One step of a SASL DIGEST-MD5 exchange; a failure closes the connection."""
    users = config.sasl_users
    try:
        if not users:
            raise SaslError("SASL is not configured (sasl_users)")
        if conn.sasl is None:
            conn.sasl = DigestMd5Server(dict(users), secrets.token_urlsafe(24))
        token, user = conn.sasl.step(ev.token)
    except SaslError as e:
        log.info("SASL authentication of %s failed: %s; closing", conn.ip, e)
        conn.proto.sasl_result(ev.xid, None, failed=True)
        return
    if user is not None:
        ids = [Id("sasl", user)]
        if user == config.sasl_super_user:
            ids.insert(0, SUPER_ID)
        conn.proto.add_auth(ids)
    conn.proto.sasl_result(ev.xid, token)
