"""Day-2 operations across hosts, on one bed and one ensemble shared by the tests of this
module (in order; each leaves the ensemble whole): SASL clients on another host; a member
added on a new host after the leader compacted its log; a failed member replaced by one on
another host and a member removed; a full disk on one host; a backup taken through a member
and restored on another host. Every command runs on the client host, the members on theirs.

Membership over the module: {1,2,3} -> +4 -> 3 replaced by 5 (its data on a small tmpfs)
-> 4 removed -> {1,2,5}."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import AuthFailedError, KazooException, NoAuthError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.security import make_acl

from roost.testing.netensemble import CLIENT_PORT, PEER_PORT, member_addr
from roost.testing.procs import stop_processes as stop
from roost.testing.server import four_letter, srvr_mode
from roost.testing.wait import wait_until
from roost.testing.zookeeper import SUPER_AUTH, SUPER_DIGEST

from .conftest import ROOST, SharedBed, cli, hosts, shared_bed, skip_without_namespaces

HTTP_PORT = 8500
#: every member's [server] settings, and its [http] table (the members' tables follow)
SETTINGS = (f'super_digest = "{SUPER_DIGEST}"\nsasl_users = {{ bob = "bob-secret" }}\n'
            f"snapshot_every = 40\nsnapshots_to_keep = 2\n\n[http]\nport = {HTTP_PORT}\n")


@dataclass(kw_only=True)
class Ops(SharedBed):
    """The shared bed and ensemble, and where the members are now."""

    #: a small filesystem (a tmpfs) for member 5's data
    small: Path
    #: the members now (ids)
    members: list[int] = field(default_factory=lambda: [1, 2, 3])

    def hosts(self, ids: list[int] | None = None) -> str:
        return hosts(ids or self.members)

    def start_joiner(self, sid: int, listed: Iterable[int] = (),
                     data_dir: Path | None = None) -> None:
        """Member `sid` joining the members now."""
        super().start_joiner(sid, {*self.members, *listed}, data_dir)

    def write(self, prefix: str, n: int) -> None:
        zk = KazooClient(hosts=self.hosts())
        zk.start(timeout=30)
        try:
            zk.ensure_path("/data")
            paths = [f"/data/{prefix}-{k:04d}" for k in range(n)]
            for start in range(0, n, 50):  # 50 in flight at a time
                batch = [(p, zk.create_async(p, b"x" * 100)) for p in paths[start:start + 50]]
                for p, pending in batch:
                    pending.get(timeout=30)
                    self.acked.add(p)
        finally:
            zk.stop()
            zk.close()

    def whole(self) -> None:
        res = cli(self.bed, "cluster", "status", "--wait", "60", self.hosts())
        assert res.returncode == 0, res.stdout + res.stderr


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ops]:
    skip_without_namespaces()
    work = tmp_path_factory.mktemp("ops")
    with tmpfs(work / "small", "8m") as small, shared_bed(
            work, 5, SETTINGS, lambda bed, ens, w: Ops(bed=bed, ens=ens, work=w, small=small),
            http=True) as state:
        yield state


def test_sasl_clients_on_another_host(ops: Ops) -> None:
    bob = KazooClient(hosts=ops.hosts(), sasl_options={
        "mechanism": "DIGEST-MD5", "username": "bob", "password": "bob-secret"})
    bob.start(timeout=30)
    plain = KazooClient(hosts=ops.hosts())
    plain.start(timeout=30)
    try:
        bob.create("/bobs", b"private", acl=[make_acl("sasl", "bob", all=True)])
        plain.sync("/bobs")  # it may be connected to another member
        with pytest.raises(NoAuthError):
            plain.get("/bobs")
        for i in range(3):  # through each member alone
            one = KazooClient(hosts=ops.hosts([i + 1]), sasl_options={
                "mechanism": "DIGEST-MD5", "username": "bob", "password": "bob-secret"})
            one.start(timeout=30)
            try:
                one.sync("/bobs")
                assert one.get("/bobs")[0] == b"private"
            finally:
                one.stop()
                one.close()
    finally:
        for c in (bob, plain):
            c.stop()
            c.close()
    wrong = KazooClient(hosts=ops.hosts(), sasl_options={
        "mechanism": "DIGEST-MD5", "username": "bob", "password": "not it"})
    try:
        with contextlib.suppress(AuthFailedError, KazooTimeoutError):
            wrong.start(timeout=10)
        with pytest.raises(AuthFailedError):
            wrong.get("/")
    finally:
        wrong.stop()
        wrong.close()


def test_member_added_on_a_new_host_after_the_leader_compacted(ops: Ops) -> None:
    ops.write("a", 150)
    leader = ops.ens.leader()

    def compacted() -> bool:
        rows = dict(line.split("\t", 1) for line in
                    ops.ens.four_letter(leader, "mntr").splitlines() if "\t" in line)
        return int(rows.get("zk_raft_snapshot_index", "0")) >= 40

    wait_until(compacted, 30, what="the leader to snapshot and compact its log")
    ops.start_joiner(4)
    res = cli(ops.bed, "member", "add", "4", "--host", member_addr(3), "--client-port",
              str(CLIENT_PORT), "--peer-port", str(PEER_PORT), "--server", ops.hosts(),
              "--auth", SUPER_AUTH, "--wait", "60")
    assert res.returncode == 0, res.stdout + res.stderr + ops.log(4)
    assert res.stderr.splitlines()[-1] == \
        "member 4: caught up and serving as follower (a voter)", res.stderr
    assert "installed snapshot" in ops.log(4)  # the path under test ran
    ops.members.append(4)
    assert ops.acked <= ops.present_on(4)


def test_a_failed_member_replaced_on_another_host_and_one_removed(ops: Ops) -> None:
    # member 3's host fails; the operator removes it and adds member 5 on a new host
    assert ops.ens.stop_member(2) == 0
    res = cli(ops.bed, "member", "remove", "3", "--server", ops.hosts([1, 2, 4]),
              "--auth", SUPER_AUTH, "--wait", "60")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "member 3: out of the ensemble" in res.stderr
    ops.members.remove(3)
    ops.start_joiner(5, data_dir=ops.small / "data5")  # its data directory on a small filesystem
    res = cli(ops.bed, "member", "add", "5", "--host", member_addr(4), "--client-port",
              str(CLIENT_PORT), "--peer-port", str(PEER_PORT), "--server", ops.hosts(),
              "--auth", SUPER_AUTH, "--wait", "60")
    assert res.returncode == 0, res.stdout + res.stderr + ops.log(5)
    ops.members.append(5)
    res = cli(ops.bed, "member", "remove", "4", "--server", ops.hosts(), "--auth", SUPER_AUTH,
              "--wait", "60")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "server.4=" not in res.stdout and "server.5=" in res.stdout
    ops.members.remove(4)
    status = cli(ops.bed, "cluster", "status", ops.hosts([1, 2, 4, 5]))
    assert "not serving: removed from the ensemble" in status.stdout, status.stdout
    assert stop([ops.extra.pop(4)]) == [0]
    ops.whole()
    ops.write("b", 20)
    for sid in ops.members:
        assert ops.acked <= ops.present_on(sid), f"member {sid}"


def test_a_full_disk_on_one_host(ops: Ops) -> None:
    """Member 5's filesystem fills up: it stops acknowledging and says so; the others go
    on; once space is back it restarts and catches up with every acknowledged write."""
    filler = ops.small / "filler"
    st = os.statvfs(ops.small)
    with open(filler, "wb", buffering=0) as f, contextlib.suppress(OSError):
        f.write(b"\0" * max(0, st.f_bavail * st.f_frsize - 30_000))
    zk = KazooClient(hosts=ops.hosts([1, 2]), timeout=10)
    zk.start(timeout=30)
    try:
        for k in range(400):  # bounded: 40 KB of writes fill the 30 KB left
            path = f"/data/full-{k:04d}"
            with contextlib.suppress(KazooException, KazooTimeoutError):
                zk.create(path, b"y" * 100)
                ops.acked.add(path)
            if k % 20 == 19 and "zk_storage_failed\t1" in four_letter(
                    member_addr(4), CLIENT_PORT, "mntr"):
                break
    finally:
        zk.stop()
        zk.close()
    status = cli(ops.bed, "cluster", "status", ops.hosts())
    assert "not serving: storage failed" in status.stdout, status.stdout + ops.log(5)
    assert "No space left on device" in status.stdout
    ops.write("during", 10)  # members 1 and 2 are a majority of 3
    proc = ops.extra.pop(5)
    assert stop([proc]) == [0]  # SIGTERM ends a fenced member at once
    filler.unlink()  # space is back
    ops.start_joiner(5, data_dir=ops.small / "data5")
    ops.whole()
    assert ops.acked <= ops.present_on(5)


def test_backup_through_a_member_restored_on_another_host(ops: Ops) -> None:
    backup = ops.work / "backup.roost"
    res = cli(ops.bed, "snapshot", "save", str(backup), "--http",
              f"http://{member_addr(1)}:{HTTP_PORT}", "--token", SUPER_AUTH)
    assert res.returncode == 0, res.stdout + res.stderr
    acked = set(ops.acked)
    restored = ops.work / "restored"
    res = subprocess.run([*ROOST, "snapshot", "restore", str(backup), "--data-dir",
                          str(restored)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    # a standalone server from the backup on member 3's old host
    with open(ops.work / "restored.log", "ab") as out:
        proc = ops.bed.popen("m3", [sys.executable, "-m", "roost.cli", "serve", "--no-http",
                                    "--data-dir", str(restored), "--host", member_addr(2),
                                    "--port", str(CLIENT_PORT)],
                             stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))
    try:
        wait_until(lambda: srvr_mode(member_addr(2), CLIENT_PORT) == "standalone", 60,
                   what="the restored server")
        zk = KazooClient(hosts=f"{member_addr(2)}:{CLIENT_PORT}")
        zk.start(timeout=30)
        try:
            assert acked <= {f"/data/{c}" for c in zk.get_children("/data")}
            with pytest.raises(NoAuthError):  # the ACLs came along: bob's node is his
                zk.get("/bobs")
        finally:
            zk.stop()
            zk.close()
    finally:
        assert stop([proc]) == [0]
