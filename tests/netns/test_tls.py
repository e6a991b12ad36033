"""TLS client connections across hosts: each member's secure port on its own address, its
certificate valid for that address, clients with certificates on another host."""

from __future__ import annotations

from pathlib import Path

from kazoo.client import KazooClient

from ops.certs import CLIENT_SUBJECT, Ca  # the ops tests' certificate maker
from roost.testing.netensemble import BedRoostEnsemble
from roost.testing.netns import NetBed

from .conftest import MEMBER_ADDRS

SECURE_PORT = 2281


def test_kazoo_over_tls_to_every_member_from_another_host(bed: NetBed, tmp_path: Path) -> None:
    ca = Ca(tmp_path)
    server = ca.server(ips=tuple(MEMBER_ADDRS))
    client = ca.issue("client", CLIENT_SUBJECT)
    settings = (f'secure_port = {SECURE_PORT}\ntls_cert = "{server.cert}"\n'
                f'tls_key = "{server.key}"\ntls_ca = "{ca.pem}"\n')
    ens = BedRoostEnsemble(bed, tmp_path / "ens", server_settings=settings).start()
    try:
        secure = [f"{a}:{SECURE_PORT}" for a in MEMBER_ADDRS]

        def tls_client(hosts: str) -> KazooClient:
            return KazooClient(hosts=hosts, use_ssl=True, verify_certs=True, ca=str(ca.pem),
                               certfile=str(client.cert), keyfile=str(client.key))

        zk = tls_client(",".join(secure))
        zk.start(timeout=30)
        try:
            zk.create("/tls", b"across hosts")
        finally:
            zk.stop()
            zk.close()
        for hosts in secure:
            one = tls_client(hosts)
            one.start(timeout=30)
            try:
                one.sync("/tls")
                assert one.get("/tls")[0] == b"across hosts"
                assert one.client_id is not None
            finally:
                one.stop()
                one.close()
    finally:
        codes = ens.stop()
    assert codes == [0, 0, 0], ens.log_tail(0)
