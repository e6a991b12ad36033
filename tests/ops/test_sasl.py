"""SASL DIGEST-MD5 as ZooKeeper serves it: kazoo's sasl_options (pure-sasl), the `sasl` ACL
scheme, users from the config or a JAAS file; wrong credentials close the connection."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import AuthFailedError, ConnectionClosedError, NoAuthError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import KeeperState
from kazoo.security import make_acl

from roost.server.config import ConfigError
from roost.server.configload import load
from roost.server.sasl import DigestMd5Server, SaslError, parse_directives, response_value
from roost.testing.server import RoostServer
from roost.testing.wait import wait_until


def sasl_client(hosts: str, user: str, password: str) -> KazooClient:
    return KazooClient(hosts=hosts, sasl_options={"mechanism": "DIGEST-MD5",
                                                  "username": user, "password": password})


@pytest.fixture
def server(tmp_path: Path) -> RoostServer:
    with RoostServer(data_dir=tmp_path / "d",
                     sasl_users=(("bob", "bob's secret"), ("admin", "adm")),
                     sasl_super_user="admin") as s:
        yield s


def test_kazoo_sasl_identity_and_acl(server: RoostServer) -> None:
    bob = sasl_client(server.hosts, "bob", "bob's secret")
    bob.start(timeout=15)
    plain = KazooClient(hosts=server.hosts)
    plain.start(timeout=15)
    admin = sasl_client(server.hosts, "admin", "adm")
    admin.start(timeout=15)
    try:
        bob.create("/bobs", b"private", acl=[make_acl("sasl", "bob", all=True)])
        assert bob.get("/bobs")[0] == b"private"
        with pytest.raises(NoAuthError):
            plain.get("/bobs")
        assert admin.get("/bobs")[0] == b"private"  # the SASL super user
        bob.create("/auth", b"", acl=[make_acl("auth", "", all=True)])
        assert bob.get_acls("/auth")[0][0].id.scheme == "sasl"
    finally:
        for c in (bob, plain, admin):
            c.stop()
            c.close()


def test_wrong_password_is_refused(server: RoostServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="kazoo")
    zk = sasl_client(server.hosts, "bob", "not it")
    try:
        with contextlib.suppress(AuthFailedError, KazooTimeoutError):
            zk.start(timeout=10)
        # kazoo logs the refusal, stops connecting and then closes: a request made while it
        # is in AUTH_FAILED fails with AuthFailedError, one made after it closed with
        # ConnectionClosedError (which of the two depends on timing, not on the server)
        wait_until(lambda: "AUTH_FAILED" in caplog.text, timeout=30,
                   what="kazoo to log the authentication failure")
        with pytest.raises((AuthFailedError, ConnectionClosedError)):
            zk.get("/")
        assert zk.client_state in (KeeperState.AUTH_FAILED, KeeperState.CLOSED)
    finally:
        zk.stop()
        zk.close()


def test_exchange_checks() -> None:
    users = {"bob": "pw"}
    mech = DigestMd5Server(users, "n0nce")
    challenge, user = mech.step(b"")
    assert user is None and b'nonce="n0nce"' in challenge and b'realm="zk-sasl-md5"' in challenge
    d = {"username": "bob", "realm": "zk-sasl-md5", "nonce": "n0nce", "cnonce": "c",
         "nc": "00000001", "qop": "auth", "digest-uri": "zookeeper/zk-sasl-md5"}
    good = response_value("bob", "pw", d, "AUTHENTICATE")

    def token(**changes: str) -> bytes:
        fields = {**d, "response": good, **changes}
        return ",".join(f'{k}="{v}"' for k, v in fields.items()).encode()

    for bad in (token(response="0" * 32), token(nonce="other"), token(username="eve"),
                token(**{"digest-uri": "http/x"}), token(authzid="admin"), b"garbage"):
        m = DigestMd5Server(users, "n0nce")
        m.step(b"")
        with pytest.raises(SaslError):
            m.step(bad)
    reply, user = mech.step(token())
    assert user == "bob"
    assert parse_directives(reply)["rspauth"] == response_value("bob", "pw", d, "")


def test_users_from_a_jaas_file_or_lines(tmp_path: Path) -> None:
    jaas = tmp_path / "jaas.conf"
    jaas.write_text('Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n'
                    '  user_super="adminsecret"\n  user_bob="bobsecret";\n};\n')
    cfg = tmp_path / "roost.toml"
    cfg.write_text(f'[server]\nsasl_users_file = "{jaas}"\n')
    assert load(cfg, environ={}).sasl_users == (("super", "adminsecret"), ("bob", "bobsecret"))
    lines = tmp_path / "users"
    lines.write_text("# user:password\nbob:b:ob\n")
    assert load(environ={"ROOST_SASL_USERS_FILE": str(lines)}).sasl_users == (("bob", "b:ob"),)
    cfg.write_text('[server]\nsasl_users = { bob = "x" }\n')
    assert load(cfg, environ={}).sasl_users == (("bob", "x"),)
    lines.write_text("no separator\n")
    with pytest.raises(ConfigError, match=r"sasl_users_file: .*expected user:password"):
        load(environ={"ROOST_SASL_USERS_FILE": str(lines)})
