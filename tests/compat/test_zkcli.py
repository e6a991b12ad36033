"""Debian's zkCli.sh (the Java client) runs a scripted session against both backends.

One JVM per backend: the commands are fed on stdin (JLine is off when stdin is a pipe).
zkCli prints results on stdout and "Created ..." and errors on stderr.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.security import make_digest_acl_credential

from .conftest import Backend

pytestmark = pytest.mark.compat

ZKCLI = Path("/usr/share/zookeeper/bin/zkCli.sh")


def run_zkcli(hosts: str, commands: list[str], timeout: float = 90.0) -> tuple[str, str]:
    if not ZKCLI.is_file():
        raise FileNotFoundError(f"{ZKCLI} is missing: install Debian's zookeeper package")
    script = "\n".join([*commands, "quit", ""])
    proc = subprocess.run(
        [str(ZKCLI), "-server", hosts],
        input=script.encode(),
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")


def stat_fields(lines: list[str], start: int) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines[start : start + 11]:
        key, value = line.split(" = ", 1)
        out[key] = value
    return out


def test_zkcli_session(backend: Backend, admin: KazooClient, base: str) -> None:
    p = base
    stdout, stderr = run_zkcli(
        backend.hosts,
        [
            f"create {p}/cli hello",
            f"create {p}/cli again",
            f"create {p}/cli/kid k",
            f"ls {p}/cli",
            f"get {p}/cli",
            f"set {p}/cli world",
            f"get {p}/cli",
            f"stat {p}/cli",
            f"set -v 7 {p}/cli x",
            f"delete {p}/cli",
            f"getAcl {p}/cli",
            f"delete {p}/cli/kid",
            f"create {p}/tree",
            f"create {p}/tree/a",
            f"create {p}/tree/a/b",
            f"deleteall {p}/tree",
            f"get {p}/missing",
            f"ls {p}",  # last: zkCli's exit status is the last command's
        ],
    )
    out = stdout.splitlines()
    err = stderr.splitlines()
    for created in ("cli", "cli/kid", "tree", "tree/a", "tree/a/b"):
        assert f"Created {p}/{created}" in err
    assert f"Node already exists: {p}/cli" in err
    assert f"version No is not valid : {p}/cli" in err
    assert f"Node not empty: {p}/cli" in err
    assert f"Node does not exist: {p}/missing" in err

    assert "[kid]" in out
    assert out.index("hello") < out.index("world")
    stat = stat_fields(out, out.index("world") + 1)
    assert stat["dataVersion"] == "1"
    assert stat["dataLength"] == "5"
    assert stat["numChildren"] == "1"
    assert stat["cversion"] == "1"
    assert stat["aclVersion"] == "0"
    assert stat["ephemeralOwner"] == "0x0"
    acl_at = out.index("'world,'anyone")
    assert out[acl_at + 1] == ": cdrwa"
    assert "[cli]" in out

    # zkCli's view matches the server's state as kazoo sees it (admin may be connected to
    # another ensemble member: sync so it has applied zkCli's writes)
    admin.sync(p)
    data, st = admin.get(f"{p}/cli")
    assert data == b"world"
    assert stat["cZxid"] == hex(st.czxid)
    assert stat["mZxid"] == hex(st.mzxid)
    assert admin.get_children(f"{p}/cli") == []
    assert admin.exists(f"{p}/tree") is None


def test_zkcli_newer_operations(backend: Backend, admin: KazooClient, base: str) -> None:
    """The Java client's watches, addWatch, getEphemerals, whoami, auth ACLs, TTL, containers."""
    p = base
    stdout, stderr = run_zkcli(
        backend.hosts,
        [
            f"create {p}/j x",
            f"get -w {p}/j",
            f"set {p}/j y",
            f"addWatch -m PERSISTENT_RECURSIVE {p}/j",
            f"create {p}/j/a 1",
            f"create {p}/j/a/b 2",
            f"create -e {p}/j/eph e",
            f"getEphemerals {p}/j",
            f"getAllChildrenNumber {p}/j",
            "addauth digest joe:pw",
            "whoami",
            f"create {p}/j/acl z auth::cdrwa",
            f"getAcl {p}/j/acl",
            f"create -t 60000 {p}/j/ttl t",
            f"create -c {p}/j/box",
            f"create -s {p}/j/seq- s",
            f"ls -R {p}/j",
            f"sync {p}/j",
            f"removewatches {p}/j -a",
            f"setAcl {p}/j/acl world:anyone:r",
            f"getAcl {p}/j/acl",
        ],
    )
    out = stdout.splitlines()
    err = stderr.splitlines()
    j = f"{p}/j"

    def event(kind: str, path: str) -> str:
        return f"WatchedEvent state:SyncConnected type:{kind} path:{path}"

    assert event("NodeDataChanged", j) in out
    for created in ("a", "a/b", "eph", "acl", "ttl", "box", "seq-0000000005"):
        assert event("NodeCreated", f"{j}/{created}") in out
        assert f"Created {j}/{created}" in err
    assert event("PersistentWatchRemoved", j) in out
    assert not any("NodeChildrenChanged" in line for line in out)

    eph_at = out.index(f"[{j}/eph]")
    assert out[eph_at + 1] == "3"  # a, a/b, eph
    assert "digest: joe" in out
    assert "ip: 127.0.0.1" in out
    digest = make_digest_acl_credential("joe", "pw")
    acl_at = out.index(f"'digest,'{digest}")
    assert out[acl_at + 1] == ": cdrwa"
    listing = {f"{j}/{name}" for name in ("a", "a/b", "acl", "box", "eph", "seq-0000000005", "ttl")}
    assert listing <= set(out)
    assert "Sync is OK" in out
    world_at = out.index("'world,'anyone")
    assert out[world_at + 1] == ": r"

    admin.sync(j)  # admin may be connected to a member that has not applied zkCli's writes yet
    acls, _ = admin.get_acls(f"{j}/acl")
    assert [(a.perms, a.id.scheme, a.id.id) for a in acls] == [(1, "world", "anyone")]
    assert admin.exists(f"{j}/eph") is None  # zkCli's session closed on quit
    assert admin.exists(f"{j}/ttl") is not None
