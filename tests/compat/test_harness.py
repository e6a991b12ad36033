"""The Apache ZooKeeper harness itself (roost.testing.zookeeper)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from roost.testing.zookeeper import (
    ZooKeeperServer,
    ZooKeeperUnavailable,
    build_classpath,
    find_java,
    free_port,
)

pytestmark = pytest.mark.compat


def test_missing_jar_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ZooKeeperUnavailable, match="zookeeper package"):
        build_classpath(tmp_path, tmp_path / "no-such.jar")
    server = ZooKeeperServer(jar=tmp_path / "no-such.jar")
    with pytest.raises(ZooKeeperUnavailable, match=r"no-such\.jar"):
        server.start()
    assert not server.running
    assert server.work_dir is None  # nothing was created


def test_a_server_that_does_not_start_leaves_no_temp_dir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    server = ZooKeeperServer(port=free_port(), java="false", startup_timeout=10)
    with pytest.raises(ZooKeeperUnavailable, match="did not start"), server:
        pass
    assert not server.running and server.work_dir is None
    assert list(temp.iterdir()) == []


def test_missing_java_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ZooKeeperUnavailable, match="Java was not found"):
        find_java(str(tmp_path / "no-java-here"))


def test_start_serve_stop(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "zk"
    with ZooKeeperServer(data_dir=data, port=port) as zk:
        assert zk.running
        assert (zk.host, zk.port) == ("127.0.0.1", port)
        assert zk.hosts == f"127.0.0.1:{port}"
        assert zk.data_dir == data
        assert zk.four_letter("ruok") == "imok"
        conf = zk.four_letter("conf")
        assert f"clientPort={port}" in conf
        assert "tickTime=2000" in conf
        client = KazooClient(hosts=zk.hosts)
        client.start(timeout=20)
        try:
            client.create("/persisted", b"x")
        finally:
            client.stop()
            client.close()
        work_dir = zk.work_dir
        assert work_dir is not None
        assert (work_dir / "zoo.cfg").is_file()
    assert not zk.running
    assert not work_dir.exists()  # temp config and logs are removed
    assert (data / "version-2").is_dir()  # a caller's data dir is kept

    # the same data dir serves the same tree again
    with ZooKeeperServer(data_dir=data) as again:
        client = KazooClient(hosts=again.hosts)
        client.start(timeout=20)
        try:
            assert client.get("/persisted")[0] == b"x"
        finally:
            client.stop()
            client.close()


def test_restart_keeps_port_and_data() -> None:
    with ZooKeeperServer() as zk:
        client = KazooClient(hosts=zk.hosts, timeout=10)
        client.start(timeout=20)
        try:
            client.create("/durable", b"v")
            session = client.client_id
            port = zk.port
            zk.restart(kill=True)  # crash: no clean shutdown
            assert zk.port == port
            assert zk.running
            # kazoo reconnects to the same address; sessions are restored from the log
            assert client.retry(client.get, "/durable")[0] == b"v"
            assert client.client_id == session
        finally:
            client.stop()
            client.close()
