"""Members on separate addresses (loopback aliases: 127.0.0.0/8 all routes to lo on Linux):
the documented 3-host example, a migrated zoo.cfg, a peer bind address behind NAT."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

from kazoo.client import KazooClient

from roost.testing.procs import stop_processes
from roost.testing.proxy import TcpProxy
from roost.testing.server import four_letter, free_port, srvr_mode
from roost.testing.wait import wait_until

from .helpers import serve

HOSTS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]


def three_host_configs(tmp_path: Path, ports: list[tuple[int, int]],
                       hosts: list[str] = HOSTS) -> list[Path]:
    """docs/ensemble.md's example: no [server].host or port, the members on their own
    addresses (with free ports: the test cannot own 2181 on every alias)."""
    members = "".join(
        f'\n[[members]]\nid = {i + 1}\nhost = "{h}"\nclient_port = {c}\npeer_port = {p}\n'
        for i, (h, (c, p)) in enumerate(zip(hosts, ports, strict=True)))
    paths = []
    for i in range(3):
        p = tmp_path / f"m{i + 1}.toml"
        p.write_text(f'[server]\nserver_id = {i + 1}\ndata_dir = "{tmp_path}/d{i + 1}"\n'
                     f'peer_secret = "s3cret"\nraft_tick_ms = 20\n' + members)
        paths.append(p)
    return paths


def use(hosts: str) -> None:
    zk = KazooClient(hosts=hosts)
    zk.start(timeout=20)
    try:
        zk.create("/where", b"separate hosts")
        assert zk.get("/where")[0] == b"separate hosts"
    finally:
        zk.stop()
        zk.close()


def test_three_host_example_listens_on_each_members_address(tmp_path: Path) -> None:
    ports = [(free_port(), free_port()) for _ in HOSTS]
    procs = [serve(["--config", str(c)], tmp_path / f"m{i}.log")
             for i, c in enumerate(three_host_configs(tmp_path, ports))]
    try:
        wait_until(lambda: sorted(srvr_mode(h, c) for h, (c, _p) in zip(HOSTS, ports, strict=True))
                   == ["follower", "follower", "leader"], 30,
                   what="a leader on the member addresses")
        use(",".join(f"{h}:{c}" for h, (c, _p) in zip(HOSTS, ports, strict=True)))
    finally:
        stop_processes(procs)
    assert [p.returncode for p in procs] == [0, 0, 0]


def test_peer_bind_address_separate_from_the_advertised_one(tmp_path: Path) -> None:
    """Member 1 is advertised as 127.0.0.2 (a NAT in front of it, here a proxy) but binds
    127.0.0.12, the only address it "has"."""
    ports = [(free_port(), free_port()) for _ in HOSTS]
    configs = three_host_configs(tmp_path, ports)
    inner = "127.0.0.12"
    text = configs[0].read_text().replace(
        "[server]\n", f'[server]\nhost = "{inner}"\npeer_bind_host = "{inner}"\n', 1)
    configs[0].write_text(text)
    nat = TcpProxy((inner, ports[0][1]), listen_port=ports[0][1], listen_host=HOSTS[0]).start()
    procs = [serve(["--config", str(c)], tmp_path / f"m{i}.log") for i, c in enumerate(configs)]
    try:
        addrs = [(inner, ports[0][0]), *((h, c) for h, (c, _p) in zip(HOSTS[1:], ports[1:],
                                                                        strict=True))]
        wait_until(lambda: sorted(srvr_mode(h, c) for h, c in addrs)
                   == ["follower", "follower", "leader"], 30,
                   what="a leader with member 1 behind the NAT")
        use(",".join(f"{h}:{c}" for h, c in addrs))
    finally:
        stop_processes(procs)
        nat.stop()
    assert [p.returncode for p in procs] == [0, 0, 0], (tmp_path / "m0.log").read_text()[-2000:]


def test_migrated_zoo_cfg_listens_on_every_address(tmp_path: Path) -> None:
    port = free_port()
    zoo = tmp_path / "zoo.cfg"
    zoo.write_text(f"tickTime=2000\ndataDir={tmp_path}/data\nclientPort={port}\n")
    proc = serve(["--zoo-cfg", str(zoo)], tmp_path / "zk.log")
    try:
        def answers() -> bool:
            try:
                return four_letter("127.0.0.1", port, "ruok", 0.5) == "imok"
            except OSError:
                return False
        wait_until(answers, 30, what="the server")
        for host in ("127.0.0.1", "127.0.0.7"):
            assert four_letter(host, port, "ruok") == "imok"
        use(f"127.0.0.9:{port}")
    finally:
        stop_processes([proc])
    assert proc.returncode == 0



def test_http_host_flag(tmp_path: Path) -> None:
    port, http = free_port(), free_port()
    with open(tmp_path / "h.log", "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "roost.cli", "serve", "--port", str(port),
                                 "--data-dir", str(tmp_path / "d"), "--http-port", str(http),
                                 "--http-host", "127.0.0.5"], stdout=out,
                                stderr=subprocess.STDOUT)

    def health(host: str) -> bool:
        try:
            with urllib.request.urlopen(f"http://{host}:{http}/health", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    try:
        wait_until(lambda: health("127.0.0.5"), 30, what="HTTP on 127.0.0.5")
        assert not health("127.0.0.1")
        assert four_letter("127.0.0.1", port, "ruok") == "imok"  # clients stay on 127.0.0.1
    finally:
        stop_processes([proc])
    assert proc.returncode == 0
