"""`roost snapshot save|restore|inspect`: a consistent online backup through any member,
restored into a new standalone server or a new ensemble."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.security import make_digest_acl

import roost.storage.snapshots as snapshots_mod
from roost.server.backup import encode_backup
from roost.testing.ensemble import RoostEnsemble
from roost.testing.procs import stop_processes
from roost.testing.server import RoostServer, free_port, srvr_mode
from roost.testing.wait import wait_until
from roost.tree import DataTree
from roost.tree.acl import digest_id

from .helpers import serve


def roost(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "roost.cli", *args], capture_output=True,
                          text=True, timeout=120)


def client(hosts: str) -> KazooClient:
    zk = KazooClient(hosts=hosts)
    zk.start(timeout=20)
    return zk


def fill(zk: KazooClient) -> None:
    zk.create("/app/config", b"v1", makepath=True)
    for i in range(50):
        zk.create(f"/app/items/item-{i:03d}", str(i).encode(), makepath=True)
    zk.create("/app/secret", b"hidden", acl=[make_digest_acl("alice", "pw", all=True)])


def check(zk: KazooClient) -> None:
    assert zk.get("/app/config")[0] == b"v1"
    assert len(zk.get_children("/app/items")) == 50
    zk.add_auth("digest", "alice:pw")
    assert zk.get("/app/secret")[0] == b"hidden"
    acl = zk.get_acls("/app/secret")[0]
    assert acl[0].id.scheme == "digest" and acl[0].id.id == digest_id("alice:pw")


def test_standalone_save_inspect_restore(tmp_path: Path) -> None:
    http = free_port()
    backup = tmp_path / "backup.roost"
    with RoostServer(data_dir=tmp_path / "old", http_port=http) as old:
        zk = client(old.hosts)
        fill(zk)
        r = roost("snapshot", "save", str(backup), "--http", f"http://127.0.0.1:{http}")
        zk.set("/app/config", b"after the backup")
        zxid = zk.get("/app/config")[1].mzxid
        zk.stop()
        zk.close()
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"saved {backup}: zxid 0x") and "znodes" in r.stdout
    r = roost("snapshot", "inspect", str(backup))
    assert r.returncode == 0 and "znodes" in r.stdout, r.stderr
    r = roost("snapshot", "restore", str(backup), "--data-dir", str(tmp_path / "new"))
    assert r.returncode == 0 and "for a standalone server" in r.stdout, r.stderr
    with RoostServer(data_dir=tmp_path / "new") as new:
        zk = client(new.hosts)
        check(zk)
        assert zk.get("/app/config")[1].mzxid < zxid  # the state as of the backup
        zk.create("/after-restore", b"")
        stat = zk.exists("/after-restore")
        assert stat is not None and stat.czxid >= zxid - 1  # zxids go on from the backup's
        zk.stop()
        zk.close()
    # not over an existing data dir
    r = roost("snapshot", "restore", str(backup), "--data-dir", str(tmp_path / "new"))
    assert r.returncode == 1 and "not empty; restore into a new data directory" in r.stderr


def test_backup_through_a_follower_restored_into_a_new_ensemble(tmp_path: Path) -> None:
    backup = tmp_path / "backup.roost"
    with RoostEnsemble(3, base_dir=tmp_path / "old", http=True) as ens:
        leader = ens.leader()
        follower = (leader + 1) % 3
        zk = client(ens.hosts_of(leader))  # written through the leader ...
        fill(zk)
        zk.stop()
        zk.close()
        # ... saved through a follower: its read barrier makes the backup include them all
        r = roost("snapshot", "save", str(backup), "--http",
                  f"http://127.0.0.1:{ens.http_ports[follower]}")
    assert r.returncode == 0, r.stderr
    ports = [(free_port(), free_port()) for _ in range(3)]
    members = "".join(f"\n[[members]]\nid = {i + 1}\nhost = \"127.0.0.1\"\nclient_port = {c}\n"
                      f"peer_port = {p}\n" for i, (c, p) in enumerate(ports))
    old_secret = tmp_path / "old-secret.toml"
    old_secret.write_text('[server]\nserver_id = 1\npeer_secret = "roost-test-secret"\n'
                          + members)
    r = roost("snapshot", "restore", str(backup), "--data-dir", str(tmp_path / "refused"),
              "--config", str(old_secret))
    assert r.returncode == 1 and "peer_secret: this is the backed-up ensemble's" in r.stderr
    assert not (tmp_path / "refused").exists()
    configs = []
    for i in range(3):
        cfg = tmp_path / f"new{i + 1}.toml"
        cfg.write_text(f'[server]\nserver_id = {i + 1}\npeer_secret = "a new ensemble"\n'
                       f"raft_tick_ms = 20\n" + members)
        r = roost("snapshot", "restore", str(backup), "--data-dir", str(tmp_path / f"d{i}"),
                  "--config", str(cfg))
        assert r.returncode == 0 and f"member {i + 1} of a new ensemble" in r.stdout, r.stderr
        configs.append(cfg)
    procs = [serve(["--config", str(c), "--data-dir", str(tmp_path / f"d{i}")],
                   tmp_path / f"n{i}.log") for i, c in enumerate(configs)]
    try:
        wait_until(lambda: sorted(srvr_mode("127.0.0.1", c) for c, _p in ports)
                   == ["follower", "follower", "leader"], 30, what="the restored ensemble's leader")
        for c, _p in ports:
            zk = client(f"127.0.0.1:{c}")
            zk.sync("/")
            check(zk)
            zk.stop()
            zk.close()
        zk = client(",".join(f"127.0.0.1:{c}" for c, _p in ports))
        zk.create("/new-ensemble", b"writes")
        zk.stop()
        zk.close()
    finally:
        stop_processes(procs)
    assert [p.returncode for p in procs] == [0, 0, 0]


def test_snapshot_needs_the_super_token_when_a_super_digest_is_set(tmp_path: Path) -> None:
    http = free_port()
    with RoostServer(data_dir=tmp_path / "d", http_port=http,
                     super_digest=f"super:{digest_id('super:secret').split(':', 1)[1]}"):
        url = f"http://127.0.0.1:{http}"
        r = roost("snapshot", "save", str(tmp_path / "b"), "--http", url)
        assert r.returncode == 1 and "403" in r.stderr and "super token" in r.stderr
        assert not (tmp_path / "b").exists()
        r = roost("snapshot", "save", str(tmp_path / "b"), "--http", url, "--token",
                  "super:secret")
        assert r.returncode == 0, r.stderr


def test_bad_backups_are_refused_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = DataTree()
    tree.last_zxid = 7
    good = encode_backup(tree)
    damaged = tmp_path / "damaged"
    damaged.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    r = roost("snapshot", "restore", str(damaged), "--data-dir", str(tmp_path / "x"))
    assert r.returncode == 1 and "checksum mismatch" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x").exists()
    monkeypatch.setattr(snapshots_mod, "_VERSION", 2)
    newer = tmp_path / "newer"
    newer.write_bytes(encode_backup(tree))
    r = roost("snapshot", "inspect", str(newer))
    assert r.returncode == 1
    assert "backup format version 2 was written by a newer roost" in r.stderr
    snap = tmp_path / "not-a-backup"
    snap.write_bytes(snapshots_mod.encode_snapshot(7, 1, tree.to_bytes()))
    r = roost("snapshot", "inspect", str(snap))
    assert r.returncode == 1 and "not a backup" in r.stderr
