"""The documented deployments on three hosts, each member in its own network namespace and
the clients in another: docs/operations.md's "Deploy on three hosts" (its blocks run with the
hosts' addresses), docs/ensemble.md's example file, and a migrated zoo.cfg. Before the fixes
of issue 16 the client port listened on loopback, so no client on another host got in."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from kazoo.client import KazooClient

from repo.docblocks import blocks  # the doc tests' block parser
from roost.testing.netns import NetBed
from roost.testing.procs import stop_processes
from roost.testing.server import srvr_mode
from roost.testing.wait import wait_until

from .conftest import MEMBER_ADDRS, cli, serve_in

ROOT = Path(__file__).resolve().parents[2]


def doc_block(rel: str, contains: str) -> str:
    found = [b.text for b in blocks(ROOT, rel) if contains in b.text]
    assert found, f"no block of {rel} contains {contains!r}"
    return found[0]


def on_bed(text: str, loopback_prefix: str) -> str:
    """The doc's addresses replaced by the bed's: <prefix>N -> 10.231.0.1N."""
    return re.sub(re.escape(loopback_prefix) + r"(\d)\b", lambda m: f"10.231.0.1{m[1]}", text)


def every_member_serves(hosts: list[tuple[str, int]], roles: list[str]) -> None:
    wait_until(lambda: sorted(srvr_mode(h, p) for h, p in hosts) == sorted(roles), timeout=60,
               what=f"members {roles} seen from the client host")


def use_each(hosts: list[tuple[str, int]]) -> None:
    """A write through the whole list, then read back from each member alone."""
    zk = KazooClient(hosts=",".join(f"{h}:{p}" for h, p in hosts))
    zk.start(timeout=30)
    try:
        zk.create("/across", b"three hosts")
    finally:
        zk.stop()
        zk.close()
    for h, p in hosts:
        one = KazooClient(hosts=f"{h}:{p}")
        one.start(timeout=30)
        try:
            one.sync("/across")
            assert one.get("/across")[0] == b"three hosts", (h, p)
        finally:
            one.stop()
            one.close()


def test_operations_md_deploy_on_three_hosts(bed: NetBed, tmp_path: Path) -> None:
    setup = on_bed(doc_block("docs/operations.md", "cat > ops-demo/ensemble.toml"), "127.0.0.1")
    done = subprocess.run(["bash", "-euc", setup], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "10.231.0.11" in (tmp_path / "ops-demo/ensemble.toml").read_text()
    start = doc_block("docs/operations.md", "ROOST_SERVER_ID=$i")
    assert "roost serve --config ops-demo/ensemble.toml" in start  # what runs below
    procs = [serve_in(bed, f"m{i}", ["--config", "ops-demo/ensemble.toml"],
                      tmp_path / f"ops-demo/member{i}.log", tmp_path,
                      env={"ROOST_SERVER_ID": str(i), "ROOST_DATA_DIR": f"ops-demo/data{i}"})
             for i in (1, 2, 3)]
    try:
        # the doc's own client commands, run on the client host
        for line in on_bed(start, "127.0.0.1").splitlines() + on_bed(
                doc_block("docs/operations.md", "roost create /ops"), "127.0.0.1").splitlines():
            if line.startswith("roost cluster status") or line.startswith("roost create") \
                    or line.startswith("roost get"):
                args = [a.strip('"') for a in re.findall(r'"[^"]*"|\S+', line)][1:]
                res = cli(bed, *args, cwd=tmp_path)
                assert res.returncode == 0, f"{line}\n{res.stdout}\n{res.stderr}"
                if args[0] == "get":
                    assert "deployed" in res.stdout
        use_each([(a, 12181) for a in MEMBER_ADDRS])
    finally:
        codes = stop_processes(procs)
    assert codes == [0, 0, 0], (tmp_path / "ops-demo/member1.log").read_text()[-2000:]


def test_ensemble_md_example_file(bed: NetBed, tmp_path: Path) -> None:
    text = doc_block("docs/ensemble.md", 'role = "observer"')
    text = re.sub(r"10\.0\.0\.(\d)\b", lambda m: f"10.231.0.1{m[1]}", text)
    (tmp_path / "peer-secret").write_text("a long random string for the bed\n")
    text = text.replace('"/etc/roost/peer-secret"', f'"{tmp_path}/peer-secret"')
    procs = []
    for i in (1, 2, 3):
        cfg = tmp_path / f"m{i}.toml"
        cfg.write_text(text.replace("server_id = 1", f"server_id = {i}").replace(
            '"/var/lib/roost"', f'"{tmp_path}/data{i}"'))
        procs.append(serve_in(bed, f"m{i}", ["--config", str(cfg)], tmp_path / f"m{i}.log",
                              tmp_path))
    try:
        hosts = [(a, 2181) for a in MEMBER_ADDRS]
        every_member_serves(hosts, ["leader", "follower", "observer"])
        use_each(hosts)
    finally:
        codes = stop_processes(procs)
    assert codes == [0, 0, 0], (tmp_path / "m1.log").read_text()[-2000:]


def test_migrated_zoo_cfg(bed: NetBed, tmp_path: Path) -> None:
    """ZooKeeper's own zoo.cfg, no clientPortAddress: it listens on every address."""
    procs = []
    for i in (1, 2, 3):
        data = tmp_path / f"zk{i}"
        data.mkdir()
        (data / "myid").write_text(f"{i}\n")
        cfg = tmp_path / f"zoo{i}.cfg"
        cfg.write_text("tickTime=2000\ninitLimit=10\nsyncLimit=5\n"
                       f"dataDir={data}\nclientPort=2181\nroost.peerSecret=zoo-secret\n"
                       + "".join(f"server.{j}={a}:2888:3888\n"
                                 for j, a in enumerate(MEMBER_ADDRS, 1)))
        procs.append(serve_in(bed, f"m{i}", ["--zoo-cfg", str(cfg)], tmp_path / f"zk{i}.log",
                              tmp_path))
    try:
        hosts = [(a, 2181) for a in MEMBER_ADDRS]
        every_member_serves(hosts, ["leader", "follower", "follower"])
        use_each(hosts)
    finally:
        codes = stop_processes(procs)
    assert codes == [0, 0, 0], (tmp_path / "zk1.log").read_text()[-2000:]
