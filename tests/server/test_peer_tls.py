"""Ensemble members over mutual TLS (the certificate made here is its own CA)."""

from __future__ import annotations

from pathlib import Path

import pytest
from kazoo.client import KazooClient

from peers.helpers import make_tls  # the transport tests' certificate maker
from roost.server.config import ConfigError, ServerConfig
from roost.testing.ensemble import RoostEnsemble


def test_ensemble_over_mutual_tls(tmp_path: Path) -> None:
    make_tls(tmp_path, mutual=True)
    cert, key = str(tmp_path / "member-cert.pem"), str(tmp_path / "member-key.pem")
    with RoostEnsemble(3, peer_tls_cert=cert, peer_tls_key=key, peer_tls_ca=cert) as ens:
        leader = ens.leader()
        follower = (leader + 1) % 3
        zk = KazooClient(hosts=ens.servers[follower].hosts)
        zk.start(timeout=15)
        try:
            zk.create("/tls", b"over tls")  # forwarded to the leader over a TLS link
            other = KazooClient(hosts=ens.servers[(leader + 2) % 3].hosts)
            other.start(timeout=15)
            other.sync("/tls")
            assert other.get("/tls")[0] == b"over tls"
            other.stop()
            other.close()
        finally:
            zk.stop()
            zk.close()
        for s in ens.servers:  # every link really is TLS
            assert s.server is not None
            transport = s.server.log.transport  # type: ignore[union-attr]
            assert transport is not None and transport._ssl_server is not None


def test_tls_files_go_together() -> None:
    from roost.replica.member import Member

    members = (Member(1, "127.0.0.1", 3000, 4000),)
    with pytest.raises(ConfigError, match="peer_tls"):
        ServerConfig(server_id=1, members=members, peer_secret="s",
                     peer_tls_cert="/x.pem").validate()
