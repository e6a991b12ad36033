"""`roost shell` and the one-shot commands, through click's CliRunner and a real subprocess."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys

import pytest
from click.testing import CliRunner

from roost.cli import run
from roost.cmd.format import format_acl, format_stat, parse_acl, perm_string
from roost.wire.opcodes import Perm
from roost.wire.records import ACL, Id, Stat

from .helpers import Env


class Result:
    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.exit_code, self.stdout, self.stderr = code, stdout, stderr


def roost(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
    """`roost ARGS` in this process, as the entry point runs it (exit code included)."""
    with CliRunner().isolation(input=stdin, env=env) as (out, err, _):
        code = run(list(args))
    return Result(code, out.getvalue().decode(), err.getvalue().decode())


@pytest.fixture
def server(env: Env) -> str:
    """host:port/base for this test, with the base path created by `roost create -p`."""
    res = roost("create", "--server", env.backend.hosts, "--parents", env.base + "/x")
    assert res.exit_code == 0, res.output
    return env.backend.hosts + env.base


def test_one_shot_commands(server: str) -> None:
    assert roost("create", "--server", server, "/n", "hello").stdout == "/n\n"
    assert roost("get", "--server", server, "/n").stdout == "hello\n"
    assert roost("set", "--server", server, "/n", "world").exit_code == 0
    got = roost("get", "--server", server, "--stat", "/n")
    assert got.stdout.startswith("world\ncZxid = 0x") and "dataVersion = 1\n" in got.stdout
    seq = roost("create", "--server", server, "--sequential", "/n/s-")
    assert seq.stdout == "/n/s-0000000000\n"
    assert roost("ls", "--server", server, "/").stdout == "n\nx\n"
    assert roost("ls", "--server", server, "-R", "/n").stdout == "/n\n/n/s-0000000000\n"
    assert "numChildren = 1\n" in roost("stat", "--server", server, "/n").stdout
    assert roost("delete", "--server", server, "--recursive", "/n").exit_code == 0
    missing = roost("get", "--server", server, "/n")
    assert missing.exit_code == 1 and missing.stderr == "roost: Node does not exist: /n\n"
    exists = roost("create", "--server", server, "/x")
    assert exists.exit_code == 1 and exists.stderr == "roost: Node already exists: /x\n"
    # The server can come from the environment.
    assert roost("get", "/x", env={"ROOST_SERVER": server}).exit_code == 0


def test_one_shot_without_a_server_fails_with_one_line() -> None:
    from roost.testing.zookeeper import free_port

    res = roost("get", "--server", f"127.0.0.1:{free_port()}", "--timeout", "0.3", "/")
    assert res.exit_code == 1 and res.stderr.count("\n") == 1 and "cannot connect" in res.stderr


SCRIPT = """\
create /app cfg
create -e /app/eph
create -s /app/seq- one
ls /app
get /app
set /app cfg2
get -s /app
stat /missing
getEphemerals /app
getAllChildrenNumber /app
sync /app
delete -v 7 /app/seq-0000000001
deleteall /app
ls /
quit
ls /never-run
"""


def test_shell_script_mode(server: str) -> None:
    res = roost("shell", server, stdin=SCRIPT)
    out = res.stdout.splitlines()
    assert out[:5] == [
        "Created /app",
        "Created /app/eph",
        "Created /app/seq-0000000001",
        "[eph, seq-0000000001]",
        "cfg",
    ]
    assert out[5] == "cfg2" and out[6].startswith("cZxid = 0x") and out[12] == "dataVersion = 1"
    assert out[17:] == ["[/app/eph]", "2", "Sync is OK", "[x]"]
    assert res.stderr.splitlines() == [
        "Node does not exist: /missing",
        "Version mismatch: /app/seq-0000000001",
    ]
    assert res.exit_code == 1  # some commands failed


def test_shell_acl_auth_and_watch(server: str) -> None:
    digest = base64.b64encode(hashlib.sha1(b"bob:pw").digest()).decode()
    script = f"""\
addauth digest bob:pw
whoami
create /locked data digest:bob:{digest}:cdrwa
getAcl /locked
setAcl /locked world:anyone:r,digest:bob:{digest}:cdrwa
getAcl /locked
create /w
get -w /w
set /w changed
setAcl /w bogus
help
"""
    res = roost("shell", server, stdin=script)
    out = res.stdout
    assert "Auth scheme: User\n" in out and "digest: bob\n" in out and "ip: 127.0.0.1\n" in out
    assert f"'digest,'bob:{digest}\n: cdrwa\n" in out
    assert f"'world,'anyone\n: r\n'digest,'bob:{digest}\n: cdrwa\n" in out
    assert "WatchedEvent state:SyncConnected type:NodeDataChanged path:/w" in out
    assert "\tgetAllChildrenNumber path\n" in out
    assert res.stderr == "invalid ACL 'bogus': expected scheme:id:perms\n"
    # Without the credential the node is read-only.
    assert roost("shell", server, "get", "/locked").stdout == "data\n"
    assert roost("shell", server, "ls", "-R", "/").stdout == "/\n/locked\n/w\n/x\n"
    denied = roost("shell", server, "set", "/locked", "x")
    assert denied.exit_code == 1 and denied.stderr == "Insufficient permission: /locked\n"


def test_shell_usage_errors_keep_going(server: str) -> None:
    res = roost("shell", server, stdin="get\nls -z /\nbogus\nset -v x /a b\nls /\n")
    assert res.stdout == "[x]\n"
    err = res.stderr
    assert "Missing argument 'PATH'.\nusage: get [-s] [-w] [--raw] path\n" in err
    assert "No such option '-z'." in err
    assert "unknown command: bogus (try 'help')" in err and "'x' is not a valid integer" in err
    assert res.exit_code == 1


def test_shell_subprocess(server: str) -> None:
    cmd = [sys.executable, "-m", "roost", "shell", server]
    proc = subprocess.run(cmd, input="create /sub data\nget /sub\nquit\n", capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Created /sub\ndata\n"


def test_acl_syntax_round_trip() -> None:
    acls = parse_acl("world:anyone:cdrwa,digest:u:h4sh=:r,ip:10.0.0.0/8:rw")
    assert acls == [
        ACL(Perm.ALL, Id("world", "anyone")),
        ACL(Perm.READ, Id("digest", "u:h4sh=")),
        ACL(Perm.READ | Perm.WRITE, Id("ip", "10.0.0.0/8")),
    ]
    assert perm_string(Perm.ALL) == "cdrwa" and perm_string(Perm.READ | Perm.ADMIN) == "ra"
    assert format_acl(acls[:1]) == "'world,'anyone\n: cdrwa"
    for bad in ("world:anyone", "world:anyone:xyz", "nocolon"):
        with pytest.raises(ValueError):
            parse_acl(bad)


def test_stat_format() -> None:
    stat = Stat(0x10, 0x11, 0, 0, 2, 3, 4, 0x5A, 6, 7, 0x12)
    lines = format_stat(stat).splitlines()
    assert [line.split(" = ")[0] for line in lines] == [
        "cZxid", "ctime", "mZxid", "mtime", "pZxid", "cversion", "dataVersion", "aclVersion",
        "ephemeralOwner", "dataLength", "numChildren",
    ]
    assert lines[0] == "cZxid = 0x10" and lines[8] == "ephemeralOwner = 0x5a"
    assert lines[6] == "dataVersion = 2" and lines[10] == "numChildren = 7"
