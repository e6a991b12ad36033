"""The Java client (ZooKeeperMain, what zkCli.sh runs) over TLS with its Netty socket and PEM
stores, and the x509 identity of its certificate as Java itself formats the subject."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.x509.oid import NameOID

from roost.testing.server import RoostServer

from .certs import CLIENT_DN, CLIENT_SUBJECT, Ca

SHARE_JAVA = Path("/usr/share/java")
#: zookeeper.jar's manifest names netty's buffer, common, handler and transport jars; its
#: Netty client socket also needs resolver and codec (Debian's zkCli.sh classpath lacks them)
JARS = ["zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-simple.jar",
        "netty-common.jar", "netty-buffer.jar", "netty-transport.jar", "netty-resolver.jar",
        "netty-handler.jar", "netty-codec.jar", "netty-transport-native-unix-common.jar"]


def java() -> str:
    found = shutil.which("java")
    if found is None or not all((SHARE_JAVA / j).is_file() for j in JARS):
        pytest.fail("needs java and Debian's zookeeper package (apt-get install -y zookeeper)",
                    pytrace=False)
    return found


def zk_main(port: int, tmp_path: Path, ca: Path, keystore: Path, *command: str) -> str:
    flags = [
        "-Dzookeeper.client.secure=true",
        "-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty",
        f"-Dzookeeper.ssl.keyStore.location={keystore}", "-Dzookeeper.ssl.keyStore.type=PEM",
        f"-Dzookeeper.ssl.trustStore.location={ca}", "-Dzookeeper.ssl.trustStore.type=PEM",
    ]
    proc = subprocess.run(
        [java(), "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
         "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", *flags,
         "-cp", ":".join(str(SHARE_JAVA / j) for j in JARS),
         "org.apache.zookeeper.ZooKeeperMain", "-waitforconnection", "-server",
         f"127.0.0.1:{port}", *command],
        capture_output=True, text=True, timeout=120, check=False)
    return proc.stdout + proc.stderr


def test_java_client_over_tls_with_a_pem_keystore(tmp_path: Path) -> None:
    ca = Ca(tmp_path)
    server = ca.server()
    client = ca.issue("client", CLIENT_SUBJECT)
    keystore = tmp_path / "client.pem"  # ZooKeeper's PEM keystore: key and chain in one file
    keystore.write_bytes(client.key.read_bytes() + client.cert.read_bytes())
    java_dn = subprocess.run([java(), str(Path(__file__).parent / "java" / "PrintDn.java"),
                              str(client.cert)], capture_output=True, text=True, timeout=120,
                             check=True).stdout.strip()
    assert java_dn == CLIENT_DN
    with RoostServer(data_dir=tmp_path / "d", secure_port=0, tls_cert=str(server.cert),
                     tls_key=str(server.key), tls_ca=str(ca.pem)) as s:
        assert s.server is not None and s.server.secure_port
        port = s.server.secure_port
        out = zk_main(port, tmp_path, ca.pem, keystore, "create", "/java-tls", "over tls")
        assert "Created /java-tls" in out, out
        out = zk_main(port, tmp_path, ca.pem, keystore, "whoami")
        assert f"x509: {java_dn}" in out, out
        # a certificate from another CA is refused
        (tmp_path / "other").mkdir()
        other = Ca(tmp_path / "other", name="another CA")
        stranger = other.issue("stranger", [(NameOID.COMMON_NAME, "stranger")])
        bad = tmp_path / "stranger.pem"
        bad.write_bytes(stranger.key.read_bytes() + stranger.cert.read_bytes())
        out = zk_main(port, tmp_path, ca.pem, bad, "-timeout", "3000", "get", "/java-tls")
        assert "over tls" not in out and "ConnectionLoss" in out, out


def test_java_client_with_a_jaas_digest_login(tmp_path: Path) -> None:
    """SASL DIGEST-MD5 from the Java client's JAAS `Client` section (Java's own SaslClient
    also checks the server's rspauth)."""
    def jaas(password: str) -> Path:
        p = tmp_path / f"jaas-{password}.conf"
        p.write_text("Client {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n"
                     f'  username="bob"\n  password="{password}";\n}};\n')
        return p

    cp = ":".join(str(SHARE_JAVA / j) for j in JARS)

    def run(conf: Path, *command: str) -> str:
        proc = subprocess.run(
            [java(), "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
             "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
             f"-Djava.security.auth.login.config={conf}", "-cp", cp,
             "org.apache.zookeeper.ZooKeeperMain", "-waitforconnection", "-timeout", "5000",
             "-server", f"127.0.0.1:{port}", *command],
            capture_output=True, text=True, timeout=120, check=False)
        return proc.stdout + proc.stderr

    with RoostServer(data_dir=tmp_path / "d", sasl_users=(("bob", "secret"),)) as s:
        port = s.port
        out = run(jaas("secret"), "whoami")
        assert "sasl: bob" in out, out
        out = run(jaas("wrong"), "whoami")
        assert "sasl: bob" not in out and "AuthFailed" in out, out
