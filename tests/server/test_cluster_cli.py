"""`roost cluster up` / `roost cluster status` and ensemble configuration errors."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from roost.replica.member import Member
from roost.server.config import ConfigError, ServerConfig
from roost.server.configload import load_toml
from roost.server.zoocfg import load_zoo_cfg
from roost.testing.ports import free_port_block
from roost.testing.wait import WaitTimeout, wait_until


def test_cluster_up_serves_and_stops_cleanly(tmp_path: Path) -> None:
    base = free_port_block((0, 1, 2, 100, 101, 102))  # cluster up: clients base + i, peers + 100
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "roost.cli",
            "cluster",
            "up",
            "-n",
            "3",
            "--base-port",
            str(base),
            "--dir",
            str(tmp_path / "c"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    hosts = ",".join(f"127.0.0.1:{base + i}" for i in range(3))
    try:
        out = ""

        def elected() -> bool:
            nonlocal out
            out = subprocess.run(
                [sys.executable, "-m", "roost.cli", "cluster", "status", hosts],
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout
            modes = sorted(line.split()[1] for line in out.splitlines()[1:])
            return modes == ["follower", "follower", "leader"]

        try:
            wait_until(elected, 30, interval=0.1, what="a leader and two followers")
        except WaitTimeout as e:
            raise AssertionError(f"{e}; the last status:\n{out}") from None
        zk = KazooClient(hosts=hosts)
        zk.start(timeout=15)
        zk.create("/hello", b"world")
        assert zk.get("/hello")[0] == b"world"
        zk.stop()
        zk.close()
    finally:
        proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert f"connect string: {hosts}" in stdout
    assert "stopped" in stdout
    st = subprocess.run(
        [sys.executable, "-m", "roost.cli", "cluster", "status", hosts],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert st.returncode == 1 and st.stdout.count("down") == 3


def members(n: int) -> tuple[Member, ...]:
    return tuple(Member(i + 1, "127.0.0.1", 3000 + i, 4000 + i) for i in range(n))


def test_member_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match="peer_secret"):
        ServerConfig(server_id=1, members=members(3)).validate()
    with pytest.raises(ConfigError, match="server_id"):
        ServerConfig(server_id=9, members=members(3), peer_secret="s").validate()
    dup = (*members(2), Member(2, "127.0.0.1", 5000, 5001))
    with pytest.raises(ConfigError, match="duplicate"):
        ServerConfig(server_id=1, members=dup, peer_secret="s").validate()
    clash = (Member(1, "127.0.0.1", 3000, 4000), Member(2, "127.0.0.1", 3000, 4001))
    with pytest.raises(ConfigError, match="share"):
        ServerConfig(server_id=1, members=clash, peer_secret="s").validate()


def test_toml_members_and_zoo_cfg_server_lines(tmp_path: Path) -> None:
    t = tmp_path / "r.toml"
    t.write_text(
        '[server]\nserver_id = 2\npeer_secret = "x"\n'
        "[[members]]\nid = 1\nclient_port = 3000\npeer_port = 4000\n"
        '[[members]]\nid = 2\nclient_port = 3001\npeer_port = 4001\nrole = "observer"\n'
    )
    cfg = load_toml(t)
    assert cfg.member().role == "observer" and cfg.member(1).voter
    t.write_text(
        '[server]\nserver_id = 1\npeer_secret = "x"\n'
        '[[members]]\nid = 1\nclient_port = 3000\npeer_port = 4000\nrole = "boss"\n'
    )
    with pytest.raises(ConfigError, match="role"):
        load_toml(t)
    data = tmp_path / "data"
    data.mkdir()
    (data / "myid").write_text("3\n")
    z = tmp_path / "zoo.cfg"
    z.write_text(
        f"tickTime=2000\ndataDir={data}\nclientPort=2181\nroost.peerSecret=x\n"
        "server.1=127.0.0.1:2888:3888;2181\nserver.2=127.0.0.1:2889:3889;2182\n"
        "server.3=127.0.0.1:2890:3890:observer;127.0.0.1:2183\n"
    )
    cfg = load_zoo_cfg(z)
    assert cfg.server_id == 3 and cfg.member().role == "observer"
    assert [m.peer_port for m in cfg.members] == [2888, 2889, 2890]
    assert [m.client_port for m in cfg.members] == [2181, 2182, 2183]
    z.write_text("server.1=nonsense\n")
    with pytest.raises(ConfigError, match=r"server\.1"):
        load_zoo_cfg(z)
