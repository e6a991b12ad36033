"""Disk faults at every write site, on a real small filesystem: a tmpfs the test mounts
(filled up for ENOSPC, remounted read-only for EROFS) plus the WAL's EIO hook for a failed
fsync. A server whose storage fails acknowledges nothing more, says so (log, `mntr`, `ruok`,
`srvr`, `/health`), exits cleanly on SIGTERM, and after the disk is fixed restarts with every
acknowledged write."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NodeExistsError

from roost.storage import DataDirLockedError
from roost.testing.ensemble import RoostEnsemble, wait_caught_up
from roost.testing.server import RoostServer, four_letter, free_port
from roost.testing.wait import wait_until

FAULTS = ["enospc", "erofs", "fsync-eio"]
#: what the log says for each fault
WHY = {
    "enospc": "No space left on device",
    "erofs": "Read-only file system",
    "fsync-eio": "fsync failed: [Errno 5]",
}


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `path` (unmounted at the end); skips if not permitted."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@contextlib.contextmanager
def ext4(path: Path, size_mb: int) -> Iterator[Path]:
    """An ext4 filesystem on a loop device, mounted at `path` with errors=remount-ro (as
    production filesystems are): `fs_error` turns it read-only the way a disk error does,
    with files open. Skips if loop devices or mounting are not permitted."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a loop device needs root")
    image = path.with_suffix(".img")
    with open(image, "wb") as f:
        f.truncate(size_mb << 20)
    for cmd in (["mkfs.ext4", "-q", str(image)],
                ["mount", "-o", "loop,errors=remount-ro", str(image), str(path)]):
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        except FileNotFoundError as e:
            pytest.skip(f"cannot make a loop filesystem here: {e}")
        if done.returncode != 0:
            pytest.skip(f"cannot make a loop filesystem here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)
        image.unlink()


def fs_error(path: Path) -> None:
    """Make the ext4 filesystem at `path` report an error: it goes read-only at once."""
    dev = subprocess.run(["findmnt", "-no", "SOURCE", str(path)], capture_output=True,
                         text=True, check=True).stdout.strip()
    Path(f"/sys/fs/ext4/{Path(dev).name}/trigger_fs_error").write_text("roost test\n")


def repair(path: Path) -> None:
    """Replace the failed ext4 filesystem at `path` by a checked copy of its disk image (its
    superblock stays read-only for as long as anything, such as another process's mount
    namespace, still holds it)."""
    image = path.with_suffix(".img")
    subprocess.run(["umount", "-l", str(path)], check=True)
    copy = path.with_suffix(".copy")
    shutil.copyfile(image, copy)
    image.unlink()
    copy.rename(image)
    subprocess.run(["e2fsck", "-fy", str(image)], capture_output=True, check=False)
    subprocess.run(["mount", "-o", "loop,errors=remount-ro", str(image), str(path)],
                   check=True)


@contextlib.contextmanager
def small_fs(path: Path, fault: str) -> Iterator[Path]:
    """The filesystem a fault is played on: ext4 for a read-only one, else a 4 MiB tmpfs."""
    if fault == "erofs":
        with ext4(path, 16) as fs:
            yield fs
    else:
        with tmpfs(path, "4m") as fs:
            yield fs


def fill(fs: Path, leave: int) -> Path:
    """Fill `fs` until about `leave` bytes are free; returns the filler file."""
    filler = fs / "filler"
    st = os.statvfs(fs)
    with open(filler, "wb", buffering=0) as f, contextlib.suppress(OSError):
        f.write(b"\0" * max(0, st.f_bavail * st.f_frsize - leave))
    return filler


def write_until_refused(hosts: str, prefix: str, limit: int, on_acked: int = -1,
                        fault: object = None) -> tuple[list[str], list[str]]:
    """Create /<prefix>0, ... (400 bytes each); `fault()` is called after `on_acked` writes.
    Returns (acknowledged, refused or unknown)."""
    zk = KazooClient(hosts=hosts, timeout=10, connection_retry={"max_tries": 2})
    zk.start(timeout=30)
    acked: list[str] = []
    refused: list[str] = []
    try:
        for i in range(limit):
            if i == on_acked and callable(fault):
                fault()
            name = f"{prefix}{i}"
            try:
                zk.create_async(f"/{name}", b"x" * 400).get(timeout=5)
            except (KazooException, TimeoutError, OSError):
                refused.append(name)
                if len(refused) >= 2:
                    break
                continue
            acked.append(name)
    finally:
        with contextlib.suppress(Exception):
            zk.stop()
        zk.close()
    return acked, refused


def children(hosts: str) -> set[str]:
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=30)
    try:
        return set(zk.get_children("/")) - {"zookeeper", "consul", "services"}
    finally:
        zk.stop()
        zk.close()


def health(http_port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/health", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def assert_fenced(srv: RoostServer, http_port: int) -> None:
    """Alive, serving nobody, and saying why everywhere an operator looks."""
    assert srv.process is not None and srv.process.poll() is None, "the process stays up"
    wait_until(lambda: "zk_storage_failed\t1" in four_letter(srv.host, srv.port, "mntr"))
    assert four_letter(srv.host, srv.port, "ruok") == ""
    assert "not currently serving" in four_letter(srv.host, srv.port, "srvr")
    code, text = health(http_port)
    assert code == 503 and "storage failed" in text, (code, text)
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=5) as r:
        assert "roost_storage_failed 1.0" in r.read().decode()
    put = urllib.request.Request(f"http://127.0.0.1:{http_port}/v1/kv/fenced", b"x",
                                 method="PUT")
    with pytest.raises(urllib.error.HTTPError) as refused:  # at once, never acknowledged
        urllib.request.urlopen(put, timeout=5)
    assert refused.value.code >= 500
    assert "storage failed" in srv.log_path.read_text()


def sigterm_exits(srv: RoostServer) -> None:
    proc = srv.process
    assert proc is not None
    proc.terminate()
    assert proc.wait(15) == 0, srv.log_path.read_text()[-2000:]
    srv.stop()


@pytest.mark.timeout(90)
@pytest.mark.parametrize("fault", FAULTS)
def test_standalone_wal_fault_fences_then_restart_keeps_acknowledged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str) -> None:
    with small_fs(tmp_path / "fs", fault) as fs:
        data = fs  # the server log goes next to it, off the broken filesystem
        if fault == "fsync-eio":
            monkeypatch.setenv("ROOST_TEST_FSYNC_EIO_AFTER", "25")
        http_port = free_port()
        srv = RoostServer(data_dir=data, subprocess=True, http_port=http_port,
                          snapshot_every=1_000_000).start()
        try:
            filler: list[Path] = []

            def break_disk() -> None:
                if fault == "enospc":
                    filler.append(fill(fs, 20_000))
                elif fault == "erofs":
                    fs_error(fs)

            acked, refused = write_until_refused(srv.hosts, "d", 400, 10, break_disk)
            assert refused, "writes on a broken disk are refused"
            assert len(acked) >= 10
            first = int(refused[0][1:])
            assert all(int(a[1:]) < first for a in acked), "nothing acknowledged after a refusal"
            assert_fenced(srv, http_port)
            assert WHY[fault] in srv.log_path.read_text()
            sigterm_exits(srv)
        finally:
            if srv.process is not None:
                srv.kill()
        # the disk is fixed: space is back, it is writable again, fsync works
        monkeypatch.delenv("ROOST_TEST_FSYNC_EIO_AFTER", raising=False)
        if fault == "erofs":
            repair(fs)
        for f in filler:
            f.unlink()
        again = RoostServer(data_dir=data, subprocess=True).start()
        try:
            present = children(again.hosts)
            assert set(acked) <= present
            assert present <= set(acked) | set(refused)
            more, refused_now = write_until_refused(again.hosts, "e", 5)
            assert len(more) == 5 and not refused_now
        finally:
            again.stop()


def create_many(hosts: str, prefix: str, n: int, size: int) -> None:
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=30)
    try:
        for i in range(n):
            zk.create(f"/{prefix}{i}", b"s" * size)
    finally:
        zk.stop()
        zk.close()


def mntr(srv: RoostServer) -> dict[str, str]:
    out = {}
    for line in four_letter(srv.host, srv.port, "mntr").splitlines():
        key, _, value = line.partition("\t")
        out[key.removeprefix("zk_")] = value
    return out


@pytest.mark.timeout(90)
def test_standalone_snapshot_on_a_full_disk_keeps_serving_and_snapshots_once_space_is_back(
        tmp_path: Path) -> None:
    """A snapshot needs no acknowledged write: when the disk has room for the log but not
    for the snapshot, the server goes on (the log keeps everything), reports the failure,
    leaves no temp file eating the space, and the next snapshot succeeds once space is back."""
    with tmpfs(tmp_path / "fs", "8m") as fs:
        srv = RoostServer(data_dir=fs, subprocess=True, snapshot_every=60).start()
        try:
            create_many(srv.hosts, "a", 20, 4000)  # the tree: 80 kB, and the log as much
            filler = fill(fs, 120_000)  # room for the log's next 60 txns, not a snapshot too
            create_many(srv.hosts, "b", 45, 1000)
            wait_until(lambda: int(mntr(srv)["snapshot_failures"]) >= 1)
            assert re.search(r"snapshot at zxid 0x[0-9a-f]+ failed", srv.log_path.read_text())
            assert not list(fs.rglob("*.tmp")), "a failed snapshot leaves no temp file"
            create_many(srv.hosts, "c", 10, 1000)  # the log still has room: writes go on
            assert mntr(srv)["storage_failed"] == "0"
            filler.unlink()
            before = set(fs.rglob("snap*"))
            create_many(srv.hosts, "d", 70, 100)
            wait_until(lambda: set(fs.rglob("snap*")) - before != set())
            sigterm_exits(srv)
        finally:
            if srv.process is not None:
                srv.kill()
        again = RoostServer(data_dir=fs, subprocess=True).start()
        try:
            names = children(again.hosts)
            for prefix, n in (("a", 20), ("b", 45), ("c", 10), ("d", 70)):
                assert {f"{prefix}{i}" for i in range(n)} <= names
        finally:
            again.stop()


def write_through(hosts: str, prefix: str, n: int, fault_at: int, fault: object) -> list[str]:
    """Create /<prefix>0..n-1 (400 bytes each) through `hosts`, riding over a leader change;
    `fault()` is called before write `fault_at`. Returns the names acknowledged."""
    assert callable(fault)
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=30)
    acked: list[str] = []
    try:
        for i in range(n):
            if i == fault_at:
                fault()
            name = f"{prefix}{i}"
            deadline = time.monotonic() + 20
            while True:
                try:
                    zk.create(f"/{name}", b"x" * 400)
                    acked.append(name)
                    break
                except NodeExistsError:  # an earlier try went through after all
                    break
                except (KazooException, TimeoutError, OSError):
                    assert time.monotonic() < deadline, f"the majority stopped serving at {name}"
                    time.sleep(0.1)
    finally:
        zk.stop()
        zk.close()
    return acked


@pytest.mark.timeout(120)
@pytest.mark.parametrize("fault", FAULTS)
def test_ensemble_member_wal_fault_fences_it_others_serve_it_recovers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str) -> None:
    base = tmp_path / "ens"
    ens = RoostEnsemble(3, subprocess=True, base_dir=base, http=True,
                        snapshot_every=1_000_000)
    broken = 2
    with small_fs(base / f"member{ens.members[broken].id}", fault) as fs:
        filler: list[Path] = []

        def break_disk() -> None:
            if fault == "enospc":
                filler.append(fill(fs, 20_000))
            elif fault == "erofs":
                fs_error(fs)

        try:
            for i in range(3):
                if i == broken and fault == "fsync-eio":
                    monkeypatch.setenv("ROOST_TEST_FSYNC_EIO_AFTER", "40")
                ens.start_member(i)
                monkeypatch.delenv("ROOST_TEST_FSYNC_EIO_AFTER", raising=False)
            ens.wait_settled()
            healthy = f"{ens.hosts_of(0)},{ens.hosts_of(1)}"
            acked = write_through(healthy, "d", 150, 10, break_disk)
            srv = ens.servers[broken]
            assert_fenced(srv, ens.http_ports[broken])
            assert WHY[fault] in srv.log_path.read_text()
            ens.leader(exclude=(broken,))  # the other two serve on, with a leader
            more = write_through(healthy, "e", 5, -1, lambda: None)
            assert len(more) == 5
            sigterm_exits(srv)
            ens.running[broken] = False
            # the disk is fixed; the member restarts and catches up
            if fault == "erofs":
                repair(fs)
            for f in filler:
                f.unlink()
            ens.start_member(broken)
            wait_caught_up(ens, timeout=60)
            present = children(ens.hosts_of(broken))
            assert set(acked) | set(more) <= present
        finally:
            ens.stop()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("site", ["hard-state-write", "rename"])
def test_ensemble_member_hard_state_fault_fences_it_and_it_recovers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        site: str) -> None:
    """The hard state (term and vote) is written at an election: a member that cannot write
    it, or cannot rename it into place, must not vote or acknowledge on a term it did not
    store. 5 in-process members: the leader is stopped, the broken one fences, 3 go on."""
    from roost.storage import fsutil

    with RoostEnsemble(5, base_dir=tmp_path / "ens") as ens:
        leader = ens.leader()
        broken = next(i for i in range(5) if i != leader)
        where = str(ens.servers[broken].data_dir)
        real_write, real_replace = fsutil.write_all, os.replace

        def write_all(fd: int, data: bytes | memoryview, offset: int) -> None:
            if os.readlink(f"/proc/self/fd/{fd}").startswith(where):
                raise OSError(errno.ENOSPC, "No space left on device (injected)")
            real_write(fd, data, offset)

        def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
            if str(src).startswith(where):
                raise OSError(errno.EROFS, "Read-only file system (injected)")
            real_replace(src, dst)

        if site == "rename":
            monkeypatch.setattr(os, "replace", replace)
        else:
            monkeypatch.setattr(fsutil, "write_all", write_all)
        create_many(ens.hosts_of(broken), "a", 5, 100)
        ens.stop_member(leader)  # an election: every member writes its new term
        wait_until(lambda: ens.mntr(broken).get("storage_failed") == "1", 20)
        assert ens.four_letter(broken, "ruok") == ""
        assert "not currently serving" in ens.four_letter(broken, "srvr")
        assert re.search(r"storage failed: .*/state: atomic write failed: .*injected", caplog.text)
        assert not list(Path(where).glob("*.tmp")), "the failed write leaves no temp file"
        ens.leader(exclude=(broken, leader))
        healthy = ",".join(ens.hosts_of(i) for i in range(5) if i not in (broken, leader))
        create_many(healthy, "b", 5, 100)
        monkeypatch.undo()
        ens.stop_member(broken)
        restart(ens, broken)
        restart(ens, leader)
        wait_caught_up(ens, timeout=60)
        names = children(ens.hosts_of(broken))
        assert {f"a{i}" for i in range(5)} | {f"b{i}" for i in range(5)} <= names


@pytest.mark.timeout(120)
def test_ensemble_member_snapshot_fault_keeps_it_serving_and_it_snapshots_later(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A member whose periodic snapshot cannot be written (disk full) loses nothing: its log
    keeps every entry, so it goes on serving, reports the failure, leaves no temp file, and
    snapshots again once the disk has room."""
    from roost.storage import fsutil

    with RoostEnsemble(3, base_dir=tmp_path / "ens", snapshot_every=40) as ens:
        broken = next(i for i in range(3) if i != ens.leader())
        where = str(ens.servers[broken].data_dir)
        real_write = fsutil.write_all

        def write_all(fd: int, data: bytes | memoryview, offset: int) -> None:
            if os.readlink(f"/proc/self/fd/{fd}").startswith(where):
                raise OSError(errno.ENOSPC, "No space left on device (injected)")
            real_write(fd, data, offset)

        monkeypatch.setattr(fsutil, "write_all", write_all)  # the forked writer inherits it
        create_many(ens.hosts_of(broken), "a", 100, 100)
        wait_until(lambda: int(ens.mntr(broken)["snapshot_failures"]) >= 1, 20)
        assert ens.mntr(broken)["storage_failed"] == "0"
        assert ens.mode(broken) == "follower"
        assert not list(Path(where).rglob("*.tmp")), "a failed snapshot leaves no temp file"
        snaps = set(Path(where).rglob("snap-*"))
        monkeypatch.undo()
        create_many(ens.hosts_of(broken), "b", 100, 100)
        wait_until(lambda: set(Path(where).rglob("snap-*")) - snaps != set(), 20)
        ens.stop_member(broken)
        restart(ens, broken)
        wait_caught_up(ens, timeout=60)
        names = children(ens.hosts_of(broken))
        assert {f"a{i}" for i in range(100)} | {f"b{i}" for i in range(100)} <= names


def restart(ens: RoostEnsemble, i: int) -> None:
    """Start in-process member i again. The forked snapshot writer of another member of this
    process inherits its data directory's lock (flock) until it exits: retry until then."""
    deadline = time.monotonic() + 20
    while True:
        try:
            ens.start_member(i)
            return
        except DataDirLockedError:
            if time.monotonic() >= deadline:
                lock = ens.servers[i].data_dir / "LOCK"
                pytest.fail(f"the data directory stays locked; {lock} is open in: "
                            f"{lock_holders(lock) or 'no process'} (this process: {os.getpid()})")
            time.sleep(0.05)


def lock_holders(lock: Path) -> list[str]:
    """The processes with `lock` open: pid, parent, state and command line of each."""
    target = str(lock.resolve())
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            fds = os.listdir(f"/proc/{pid}/fd")
            if any(_link(f"/proc/{pid}/fd/{fd}") == target for fd in fds):
                status = Path(f"/proc/{pid}/status").read_text()
                fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:120]
                info = ", ".join(fields.get(k, "?").strip() for k in ("PPid", "State", "Threads"))
                found.append(f"pid {pid} (parent, state, threads: {info}; "
                             f"{cmd.decode(errors='replace')})")
    return found


def _link(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


@pytest.mark.timeout(120)
def test_ensemble_member_that_cannot_store_the_leaders_snapshot_fences_and_recovers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A member far behind gets the leader's snapshot; when it cannot write it (disk full)
    it must not go on as if it had it: it fences, and catches up after a restart."""
    from roost.storage import fsutil

    with RoostEnsemble(3, base_dir=tmp_path / "ens", snapshot_every=20) as ens:
        broken = next(i for i in range(3) if i != ens.leader())
        where = str(ens.servers[broken].data_dir)
        ens.stop_member(broken)
        healthy = ",".join(ens.hosts_of(i) for i in range(3) if i != broken)
        create_many(healthy, "a", 150, 100)  # the leader compacts its log past the member
        real_write = fsutil.write_all

        def write_all(fd: int, data: bytes | memoryview, offset: int) -> None:
            if os.readlink(f"/proc/self/fd/{fd}").startswith(where):
                raise OSError(errno.ENOSPC, "No space left on device (injected)")
            real_write(fd, data, offset)

        monkeypatch.setattr(fsutil, "write_all", write_all)
        ens.start_member(broken)
        wait_until(lambda: ens.mntr(broken).get("storage_failed") == "1", 20)
        assert re.search(r"storage failed: .*snap.*No space left", caplog.text)
        create_many(healthy, "b", 5, 100)  # the other two serve on
        monkeypatch.undo()
        ens.stop_member(broken)
        restart(ens, broken)
        wait_caught_up(ens, timeout=60)
        names = children(ens.hosts_of(broken))
        assert {f"a{i}" for i in range(150)} | {f"b{i}" for i in range(5)} <= names
