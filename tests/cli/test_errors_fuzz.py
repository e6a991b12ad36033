"""No command line makes `roost` print a traceback: a user's mistake is one line on stderr
and exit code 2 (usage) or 1 (the operation failed).

A seeded hypothesis search builds command lines from every command and option of the click
tree plus hostile values (bad ports, paths without '/', huge numbers, missing files...) and
runs them in process against a live server; a few fixed cases run as real subprocesses.
Commands that would run for long (serve, cluster up, verify, bench) have
their final step replaced by a stub, so that everything up to it (option parsing, config
checks) is what gets fuzzed; watch/lock/elect see SIGINT the moment they start waiting.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator

import click
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roost import cli as cli_module
from roost.cmd import run as run_module
from roost.cmd import watch as watch_module
from roost.cmd.env import Env
from roost.cmd.signals import StopFlag
from roost.testing.server import RoostServer
from roost.testing.zookeeper import free_port

from .conftest import run_cli


def subcommands(group: click.Group) -> list[tuple[str, click.Command]]:
    """The group's commands by name (`roost`'s own are imported when first asked for)."""
    ctx = click.Context(group)
    found = [(name, group.get_command(ctx, name)) for name in group.list_commands(ctx)]
    return [(name, cmd) for name, cmd in found if cmd is not None]


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, cmd in subcommands(group):
        out.append((*prefix, name))
        if isinstance(cmd, click.Group):
            out.extend(command_paths(cmd, (*prefix, name)))
    return out


def option_words(group: click.Group) -> list[str]:
    words: set[str] = set()
    stack: list[click.Command] = [group]
    while stack:
        cmd = stack.pop()
        for p in cmd.params:
            if isinstance(p, click.Option):
                words.update(p.opts)
                words.update(p.secondary_opts)
        if isinstance(cmd, click.Group):
            stack.extend(cmd for _, cmd in subcommands(cmd))
    return sorted(words)


COMMANDS = command_paths(cli_module.cli)
OPTIONS = option_words(cli_module.cli)
REFUSED = f"127.0.0.1:{free_port()}"
VALUES = [
    "/", "/a", "/a/b", "/fuzz", "/fuzz/x", "a", "a/b", "//", "/a/", "/a/../b", "/.", "/\x00",
    "", " ", "-", "--", "-1", "0", "1", "3", "65536", "99999999999999999999", "1e3", "nan",
    "-0.5", "abc", "@/nonexistent/file", "@", "\\@literal", "host", "host:", ":2181",
    "host:port", "127.0.0.1:0", "[::1]:x", "localhost:65536", "a:1,b:x", "127.0.0.1:1/c",
    REFUSED, "world:anyone:cdrwa", "digest:u:h:rw", "world:anyone:xyz", "bogus", "json",
    "text", "xml", "DEBUG", "loud", "PERSISTENT", "on", "off", "true", "false", "echo",
    "é/ü", "\udcff", "-h", "--help", "--version",
]


@contextlib.contextmanager
def _stopped() -> Iterator[StopFlag]:
    flag = StopFlag()
    flag.set(2)  # as if SIGINT arrived at once
    yield flag


def subcommand(*path: str) -> click.Command:
    """`roost PATH...`'s command object (imported now if the CLI has not yet needed it)."""
    cmd: click.Command = cli_module.cli
    for name in path:
        assert isinstance(cmd, click.Group)
        found = cmd.get_command(click.Context(cmd), name)
        assert found is not None, path
        cmd = found
    return cmd


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch, hosts: str) -> None:
    """Replace the long-running last steps; never wait for a watch event."""
    import roost.node

    monkeypatch.setattr(roost.node, "run_server", lambda cfg: None)
    for path in (("cluster", "up"), ("verify",), ("bench", "run"), ("bench", "null-server")):
        monkeypatch.setattr(subcommand(*path), "callback", lambda *a, **k: None)
    monkeypatch.setattr(watch_module, "stop_on_signals", _stopped)
    monkeypatch.setattr(run_module, "stop_on_signals", _stopped)
    monkeypatch.setattr(Env, "wait_for_watch", lambda self: None)
    # `snapshot save` asks 127.0.0.1:8500 by default: never a server that happens to run here
    # (it would download a backup and write it wherever the fuzzed FILE says)
    save = subcommand("snapshot", "save")
    (url,) = [p for p in save.params if p.name == "url"]
    monkeypatch.setattr(url, "default", f"http://{REFUSED}")


def check(argv: list[str], code: int, stdout: str, stderr: str) -> None:
    shown = f"argv={argv!r}\ncode={code}\nstdout={stdout!r}\nstderr={stderr!r}"
    assert "Traceback" not in stdout + stderr, shown
    assert "internal error" not in stderr, shown
    assert code in (0, 1, 2, 75, 126, 127, 130), shown
    if code == 2 and stderr:
        assert stderr.count("\n") == 1 and stderr.startswith("roost"), shown


argv_strategy = st.tuples(
    st.sampled_from(COMMANDS),
    st.lists(st.one_of(st.sampled_from(OPTIONS), st.sampled_from(VALUES),
                       st.text(max_size=8)), max_size=6),
).map(lambda t: [*t[0], *t[1]])


@settings(derandomize=True, max_examples=1000, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=argv_strategy)
def test_no_traceback_on_any_command_line(stubbed: None, argv: list[str]) -> None:
    res = run_cli(*argv, stdin=b"from stdin")
    check(argv, res.code, res.out, res.err)


SHELL_WORDS = ["ls", "get", "set", "create", "delete", "stat", "getAcl", "setAcl", "history",
               "redo", "connect", "printwatches", "help", "addauth", "addWatch", "sync",
               "whoami", "-s", "-w", "-v", "-R", "-o", "json", "--raw", "'", '"', "#", "\\"]
shell_line = st.lists(st.one_of(st.sampled_from(SHELL_WORDS), st.sampled_from(VALUES),
                                st.text(max_size=6)), max_size=5).map(" ".join)


@settings(derandomize=True, max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(shell_line, min_size=1, max_size=4))
def test_no_traceback_in_shell_scripts(stubbed: None, hosts: str, lines: list[str]) -> None:
    """The shell's lines go through the same commands: no line stops the shell with a
    traceback, and every failed line says why on stderr."""
    script = "\n".join(line for line in lines if "quit" not in line and "exit" not in line)
    res = run_cli("shell", hosts, stdin=(script + "\n").encode("utf-8", "surrogateescape"))
    check(["shell", script], res.code, res.out, res.err)
    assert res.code in (0, 1)


@pytest.mark.parametrize("argv", [
    ["get", "no-slash"],
    ["get", "--server", "localhost:notaport", "/"],
    ["serve", "--log-level", "loud"],
    ["serve", "--port", "-5"],
    ["set", "/a", "@/no/such/file"],
    ["create", "--ttl", "soon", "/a"],
    ["frobnicate"],
    ["get", "--frobnicate", "/"],
    ["cluster", "status", "host:port"],
    ["lock"],
])
def test_usage_errors_are_one_line_exit_2(hosts: str, argv: list[str]) -> None:
    res = run_cli(*argv)
    assert res.code == 2, res
    assert res.err.count("\n") == 1 and res.err.startswith("roost"), res.err
    assert "-h" in res.err  # where to look next


def test_refused_connection_fails_at_once_and_says_why() -> None:
    import time

    start = time.monotonic()
    res = run_cli("get", "--server", REFUSED, "/")
    took = time.monotonic() - start
    assert res.code == 1 and res.err == f"roost: cannot connect to {REFUSED}: Connection refused\n"
    assert took < 2.0  # not the 10 s connect timeout


def test_one_refusing_server_of_several_is_not_fatal(hosts: str) -> None:
    for order in (f"{REFUSED},{hosts}", f"{hosts},{REFUSED}"):
        res = run_cli("ls", "--server", order, "/")
        assert res.code == 0 and "zookeeper" in res.out.split(), (order, res)


def test_unresolvable_host_says_so() -> None:
    res = run_cli("ls", "--server", "no-such-host.invalid:2181", "/")
    assert res.code == 1 and res.err.startswith("roost: cannot connect to no-such-host.invalid")
    assert res.err.count("\n") == 1


def test_operational_errors_exit_1(hosts: str) -> None:
    assert run_cli("create", "/dup").code == 0
    res = run_cli("create", "/dup")
    assert (res.code, res.err) == (1, "roost: Node already exists: /dup\n")
    res = run_cli("delete", "/")
    assert res.code == 1 and res.err.count("\n") == 1
    res = run_cli("get", "/missing/node")
    assert (res.code, res.err) == (1, "roost: Node does not exist: /missing/node\n")


def test_help_everywhere() -> None:
    for path in COMMANDS:
        for flag in ("-h", "--help"):
            res = run_cli(*path, flag)
            assert res.code == 0 and res.out.startswith("Usage: roost"), (path, res)


def roost_subprocess(*args: str, server: str | None = None) -> subprocess.CompletedProcess[str]:
    env = None
    if server is not None:
        import os

        env = {**os.environ, "ROOST_SERVER": server}
    return subprocess.run([sys.executable, "-m", "roost", *args], capture_output=True,
                          text=True, timeout=60, env=env)


@pytest.mark.parametrize("argv,code", [
    (["-h"], 0),
    (["get", "relative"], 2),
    (["serve", "--log-level", "nope"], 2),
    (["get", "--server", REFUSED, "/"], 1),
    (["get", "/no/such/node"], 1),
    (["ls", "--output", "yaml", "/"], 2),
])
def test_real_subprocess(server: RoostServer, argv: list[str], code: int) -> None:
    proc = roost_subprocess(*argv, server=server.hosts)
    assert proc.returncode == code, proc
    assert "Traceback" not in proc.stdout + proc.stderr
    if code:
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("roost")


def test_connect_failure_reasons_read_the_same_on_any_event_loop() -> None:
    """asyncio's loop words a refusal "Connect call failed (...)", uvloop "Connection
    refused": the message names the errno either way."""
    import errno
    import socket

    from roost.client.hosts import failure_reason as _reason

    assert _reason(OSError(errno.ECONNREFUSED, "Connect call failed ('127.0.0.1', 1)")) == (
        "Connection refused")
    assert _reason(ConnectionRefusedError(errno.ECONNREFUSED, "x")) == "Connection refused"
    gai = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert _reason(gai) == "Name or service not known"
    assert _reason(TimeoutError()) == "no answer in time"


def test_help_after_the_commands_ran_on_their_own() -> None:
    """click caches each command's help option at its first use: a command first run on its
    own (as the bench and verify tests do) must still know -h when run under `roost`."""
    from click.testing import CliRunner

    from roost.bench.cli import bench
    from roost.verify import verify

    for command in (bench, verify):
        assert CliRunner().invoke(command, ["--help"]).exit_code == 0
    for name in ("bench", "verify"):
        res = run_cli(name, "-h")
        assert res.code == 0 and res.out.startswith("Usage: roost"), (name, res)
