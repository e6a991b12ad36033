"""TLS for clients (secure_port next to or instead of the plain port; client certificates
as x509 identities; reload of the files) and HTTPS for the HTTP API."""

from __future__ import annotations

import os
import socket
import ssl
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.x509.oid import NameOID
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import make_acl

from roost.node import http_api
from roost.server.clienttls import subject_dn
from roost.server.config import ConfigError, ServerConfig
from roost.server.zoocfg import load_zoo_cfg
from roost.testing.procs import stop_processes
from roost.testing.server import RoostServer, four_letter, free_port
from roost.testing.wait import wait_until

from .certs import CLIENT_DN, CLIENT_SUBJECT, Ca, Pair
from .helpers import serve


@pytest.fixture
def pki(tmp_path: Path) -> tuple[Ca, Pair, Pair]:
    ca = Ca(tmp_path)
    return ca, ca.server(), ca.issue("client", CLIENT_SUBJECT)


def kazoo_tls(port: int, ca: Ca, client: Pair | None) -> KazooClient:
    kw = {"certfile": str(client.cert), "keyfile": str(client.key)} if client else {}
    return KazooClient(hosts=f"127.0.0.1:{port}", use_ssl=True, ca=str(ca.pem),
                       verify_certs=True, **kw)


def peer_cn(port: int, ca: Ca, client: Pair) -> str:
    """The CN of the certificate the server shows on a new TLS handshake."""
    ctx = ssl.create_default_context(cafile=str(ca.pem))
    ctx.load_cert_chain(str(client.cert), str(client.key))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
        cert = s.getpeercert()
    assert cert is not None
    return dict(x[0] for x in cert["subject"])["commonName"]


@pytest.fixture
def tls_server(tmp_path: Path, pki: tuple[Ca, Pair, Pair]) -> Iterator[RoostServer]:
    ca, server, _client = pki
    s = RoostServer(data_dir=tmp_path / "data", secure_port=0, tls_cert=str(server.cert),
                    tls_key=str(server.key), tls_ca=str(ca.pem),
                    http_port=free_port(), http_tls=True).start()
    try:
        yield s
    finally:
        s.stop()


def test_kazoo_over_tls_with_a_client_certificate_as_x509_identity(
        tls_server: RoostServer, pki: tuple[Ca, Pair, Pair]) -> None:
    ca, _server, client = pki
    assert tls_server.server is not None and tls_server.server.secure_port
    zk = kazoo_tls(tls_server.server.secure_port, ca, client)
    zk.start(timeout=15)
    plain = KazooClient(hosts=tls_server.hosts)  # the plain port stays next to the TLS one
    plain.start(timeout=15)
    try:
        zk.create("/mine", b"only the app1 certificate",
                  acl=[make_acl("x509", CLIENT_DN, all=True)])
        assert zk.get("/mine")[0] == b"only the app1 certificate"
        assert plain.exists("/mine") is not None
        with pytest.raises(NoAuthError):
            plain.get("/mine")
        # `auth` expands to the certificate's identity
        zk.create("/auth", b"", acl=[make_acl("auth", "", all=True)])
        assert zk.get_acls("/auth")[0][0].id.id == CLIENT_DN
    finally:
        for c in (zk, plain):
            c.stop()
            c.close()


def test_a_client_without_a_certificate_is_refused_when_one_is_needed(
        tls_server: RoostServer, pki: tuple[Ca, Pair, Pair]) -> None:
    ca, _server, _client = pki
    assert tls_server.server is not None and tls_server.server.secure_port
    ctx = ssl.create_default_context(cafile=str(ca.pem))
    port = tls_server.server.secure_port
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            pytest.raises((ssl.SSLError, ConnectionError)), \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
        s.sendall(b"ruok")
        assert s.recv(4) != b"imok"
        raise ConnectionError("closed without an answer")


def test_https_api(tls_server: RoostServer, pki: tuple[Ca, Pair, Pair]) -> None:
    ca, _server, _client = pki
    assert tls_server.server is not None
    api = http_api(tls_server.server)
    assert api is not None
    port = api.port
    ctx = ssl.create_default_context(cafile=str(ca.pem))
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/v1/status/leader", context=ctx,
                                timeout=10) as r:
        assert r.status == 200
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/status/leader", timeout=5)


def test_certificate_is_reloaded_when_its_files_change(
        tls_server: RoostServer, pki: tuple[Ca, Pair, Pair]) -> None:
    ca, server, client = pki
    assert tls_server.server is not None and tls_server.server.secure_port
    port = tls_server.server.secure_port
    assert peer_cn(port, ca, client) == "roost server"
    new = ca.server("renewed", cn="roost server renewed")
    # a half-written key is not taken: the old certificate stays in use
    server.key.write_text("-----BEGIN PRIVATE KEY-----\ntruncated\n")
    server.cert.write_bytes(new.cert.read_bytes())
    os.utime(server.cert, (1, 1))
    srv = tls_server.server
    srv.event_loop.call_soon_threadsafe(srv.reload_tls)
    wait_until(lambda: srv.tls is not None and not srv.tls.changed(), 30, what="the reload attempt")
    assert peer_cn(port, ca, client) == "roost server"
    server.key.write_bytes(new.key.read_bytes())  # now both files are the new ones
    wait_until(lambda: peer_cn(port, ca, client) == "roost server renewed", timeout=15,
               what="the renewed certificate (file change)")


def test_tls_only_server_from_a_zoo_cfg_with_a_pem_keystore(
        tmp_path: Path, pki: tuple[Ca, Pair, Pair]) -> None:
    ca, server, client = pki
    keystore = tmp_path / "keystore.pem"  # ZooKeeper's PEM keystore: key and chain in one
    keystore.write_bytes(server.key.read_bytes() + server.cert.read_bytes())
    port = free_port()
    zoo = tmp_path / "zoo.cfg"
    zoo.write_text(
        f"dataDir={tmp_path}/zk\nsecureClientPort={port}\nclientPortAddress=127.0.0.1\n"
        "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n"
        f"ssl.keyStore.location={keystore}\nssl.keyStore.type=PEM\n"
        f"ssl.trustStore.location={ca.pem}\nssl.trustStore.type=PEM\nssl.clientAuth=need\n")
    cfg = load_zoo_cfg(zoo)
    assert (cfg.secure_port, cfg.plain_port, cfg.tls_client_auth_mode) == (port, False, "need")
    proc = serve(["--zoo-cfg", str(zoo)], tmp_path / "zk.log")
    try:
        def up() -> bool:
            try:
                return peer_cn(port, ca, client) == "roost server"
            except OSError:
                return False
        wait_until(up, 30, what="the TLS port")
        zk = kazoo_tls(port, ca, client)
        zk.start(timeout=15)
        zk.create("/zoo-tls", b"x")
        zk.stop()
        zk.close()
    finally:
        stop_processes([proc])
    assert proc.returncode == 0
    zoo.write_text(f"secureClientPort={port}\nssl.keyStore.location=/etc/zk/keystore.jks\n")
    with pytest.raises(ConfigError, match=r"ssl.keyStore.location: JKS keystores are not "
                                          r"supported.*convert to one PEM file"):
        load_zoo_cfg(zoo)


def test_tls_instead_of_the_plain_port(tmp_path: Path, pki: tuple[Ca, Pair, Pair]) -> None:
    ca, server, _client = pki
    plain = free_port()
    with RoostServer(data_dir=tmp_path / "d", port=plain, plain_port=False, secure_port=0,
                     tls_cert=str(server.cert), tls_key=str(server.key)) as s:
        assert s.server is not None and s.server.secure_port
        assert s.server.port == s.server.secure_port
        with pytest.raises(OSError):
            four_letter("127.0.0.1", plain, "ruok", 0.5)
        zk = kazoo_tls(s.server.secure_port, ca, None)  # no client certificate asked for
        zk.start(timeout=15)
        zk.create("/no-client-cert", b"")
        zk.stop()
        zk.close()


def test_tls_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="secure_port: needs tls_cert"):
        ServerConfig(secure_port=2281).validate()
    with pytest.raises(ConfigError, match="plain_port: false needs a secure_port"):
        ServerConfig(plain_port=False).validate()
    with pytest.raises(ConfigError, match="tls_client_auth: need needs tls_ca"):
        ServerConfig(secure_port=1, tls_cert="c", tls_client_auth="need").validate()
    with pytest.raises(ConfigError, match="tls_client_auth: must be"):
        ServerConfig(secure_port=1, tls_cert="c", tls_ca="a", tls_client_auth="yes").validate()


def test_subject_dn_is_rfc2253_as_java_prints_it() -> None:
    cert = {"subject": ((("countryName", "DE"),), (("organizationName", "Example, Inc"),),
                        (("organizationalUnitName", "ops"), ("userId", "u1")),
                        (("commonName", "#lead "),), (("emailAddress", "a@b.c"),))}
    assert subject_dn(cert) == (
        "1.2.840.113549.1.9.1=#1605614062 2e63".replace(" ", "")
        + ",CN=\\#lead\\ ,OU=ops+UID=u1,O=Example\\, Inc,C=DE")


def tls_ruok(port: int, ca: Ca, client: Pair) -> str:
    """`ruok` over a new TLS handshake with `client`'s certificate ("" if refused)."""
    ctx = ssl.create_default_context(cafile=str(ca.pem))
    ctx.load_cert_chain(str(client.cert), str(client.key))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(b"ruok")
            return s.recv(4).decode()
    except (ssl.SSLError, ConnectionError):
        return ""


def test_a_ca_taken_out_of_tls_ca_is_refused_after_a_reload(
        tmp_path: Path, pki: tuple[Ca, Pair, Pair]) -> None:
    ca, server, client = pki
    other = Ca(tmp_path, "second CA")  # e.g. a partner's CA, trusted for a while
    partner = other.issue("partner", [(NameOID.COMMON_NAME, "partner")])
    bundle = tmp_path / "client-cas.pem"
    bundle.write_bytes(ca.pem.read_bytes() + other.pem.read_bytes())
    s = RoostServer(data_dir=tmp_path / "data", secure_port=0, tls_cert=str(server.cert),
                    tls_key=str(server.key), tls_ca=str(bundle)).start()
    try:
        assert s.server is not None and s.server.secure_port
        port, srv = s.server.secure_port, s.server
        assert tls_ruok(port, ca, partner) == "imok"
        zk = kazoo_tls(port, ca, partner)  # a session made while the CA was trusted
        zk.start(timeout=15)
        try:
            zk.create("/partner", b"before")
            bundle.write_bytes(ca.pem.read_bytes())  # the second CA is taken out
            srv.event_loop.call_soon_threadsafe(srv.reload_tls)
            wait_until(lambda: srv.tls is not None and not srv.tls.changed(), 30,
                       what="the reload")
            assert tls_ruok(port, ca, partner) == ""  # new handshakes: refused
            assert tls_ruok(port, ca, client) == "imok"  # the remaining CA's clients: in
            # the open connection keeps the context it was made with (docs/operations.md)
            assert zk.get("/partner")[0] == b"before"
        finally:
            zk.stop()
            zk.close()
        assert tls_ruok(port, ca, partner) == ""
    finally:
        s.stop()
