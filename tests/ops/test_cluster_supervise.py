"""`roost cluster up` supervises its members: a member that exits (the leader, killed) is
reported and the others keep serving; `roost cluster start|stop|restart N`; a member that
cannot start makes `cluster up` exit non-zero."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from kazoo.client import KazooClient

from roost.testing.ports import free_port_block
from roost.testing.server import srvr_mode
from roost.testing.wait import WaitTimeout, wait_until

#: the ports `cluster up -n 3` derives from its base: clients base + i, peers base + 100 + i
CLUSTER_PORTS = (0, 1, 2, 100, 101, 102)


def roost(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "roost.cli", *args], capture_output=True,
                          text=True, timeout=90)


def cluster_up(folder: Path, base: int, out: Path) -> subprocess.Popen[bytes]:
    with open(out, "wb") as f:
        return subprocess.Popen([sys.executable, "-m", "roost.cli", "cluster", "up", "-n", "3",
                                 "--base-port", str(base), "--dir", str(folder)],
                                stdout=f, stderr=subprocess.STDOUT)


def test_killing_the_leader_shows_a_failover_and_members_restart_on_request(
        tmp_path: Path) -> None:
    base, folder, out = free_port_block(CLUSTER_PORTS), tmp_path / "c", tmp_path / "out.txt"
    proc = cluster_up(folder, base, out)
    ports = [base + i for i in range(3)]
    hosts = ",".join(f"127.0.0.1:{p}" for p in ports)
    zk = None
    try:
        try:
            wait_until(lambda: "Ctrl-C stops the ensemble" in out.read_text(), 30)
        except WaitTimeout:
            raise AssertionError(f"cluster up not ready in 30 s (exit status {proc.poll()}); "
                                 f"its output:\n{out.read_text()}") from None
        leader = [srvr_mode("127.0.0.1", p) for p in ports].index("leader")
        pid = int((folder / f"member{leader + 1}.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: f"member {leader + 1} exited (killed by SIGKILL)" in out.read_text(),
                   30, what="the exit to be reported")
        wait_until(lambda: "leader: member" in out.read_text(), 30, what="the failover")
        new = int(out.read_text().split("leader: member ")[-1].split()[0]) - 1
        assert new != leader
        assert proc.poll() is None
        zk = KazooClient(hosts=hosts)
        zk.start(timeout=20)
        zk.create("/after-failover", b"ok")
        r = roost("cluster", "start", str(leader + 1), "--dir", str(folder))
        assert r.returncode == 0 and r.stdout.strip() == f"member {leader + 1}: follower", r
        r = roost("cluster", "restart", str(new + 1), "--dir", str(folder))
        assert r.returncode == 0 and f"member {new + 1}: " in r.stdout, r
        r = roost("cluster", "stop", "2", "--dir", str(folder))
        assert r.returncode == 0 and srvr_mode("127.0.0.1", ports[1]) == "down"
        assert roost("cluster", "restart", "9", "--dir", str(folder)).returncode == 1
        assert zk.get("/after-failover")[0] == b"ok"
    finally:
        if zk is not None:
            zk.stop()
            zk.close()
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    text = out.read_text()
    assert proc.returncode == 0, text
    assert "stopping member" in text and "stopped" in text
    assert not (folder / "cluster.pid").exists()
    r = roost("cluster", "restart", "1", "--dir", str(folder))
    assert r.returncode == 1 and "no `roost cluster up` is running" in r.stderr
    assert "Traceback" not in r.stderr


def test_cluster_up_exits_non_zero_when_a_member_cannot_start(tmp_path: Path) -> None:
    base, out = free_port_block(CLUSTER_PORTS), tmp_path / "out.txt"
    with socket.socket() as taken:  # member 2's client port is in use
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", base + 1))
        taken.listen()
        proc = cluster_up(tmp_path / "c", base, out)
        proc.wait(90)
    text = out.read_text()
    assert proc.returncode == 1, text
    assert "member 2 could not start" in text
    for p in (base, base + 2):
        assert srvr_mode("127.0.0.1", p) == "down"  # the others were stopped
