"""`roost shell` on a pseudo-terminal, typed at as a person would: Tab completion of a path
read from the server, history (zkCli's `history`/`redo`, Ctrl-R, a history file that the
next session reads), and a watch event that arrives while a line is half typed."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from roost.client import SyncClient
from roost.testing.proxy import TcpProxy
from roost.testing.server import RoostServer

from .conftest import run_cli

TIMEOUT = 30


@contextlib.contextmanager
def shell(hosts: str, history: Path) -> Iterator[pexpect.spawn]:
    """`roost shell HOSTS` on a pseudo-terminal, closed on leaving. If the block fails, the
    whole transcript read from the terminal (escape sequences shown) is printed, with what
    the last expect had not matched, so that a failure says what the shell drew."""
    env = {**os.environ, "ROOST_HISTORY": str(history), "TERM": "xterm",
           "PROMPT_TOOLKIT_NO_CPR": "1"}  # the test terminal answers no cursor queries
    child = pexpect.spawn(sys.executable, ["-m", "roost", "shell", hosts], env=env,
                          encoding="utf-8", timeout=TIMEOUT, dimensions=(24, 200))
    transcript = io.StringIO()
    child.logfile_read = transcript
    try:
        yield child
    except BaseException:
        print(f"--- terminal transcript ---\n{transcript.getvalue()!r}\n"
              f"--- not matched: before={child.before!r} buffer={child.buffer!r}")
        raise
    finally:
        child.close(force=True)


def prompt(child: pexpect.spawn, n: int) -> None:
    # The prompt is drawn with cursor movements between its characters' runs, so match
    # its visible core only.
    child.expect(rf"\(CONNECTED\) {n}\]")


@pytest.fixture
def tree(hosts: str) -> str:
    run_cli("delete", "-R", "/comp")  # each test starts from the same two nodes
    for name, value in (("alpha", "A"), ("beta", "B")):
        assert run_cli("create", f"/comp/{name}", value).code == 0
    return hosts


def test_completion_history_and_a_watch_while_typing(tree: str, tmp_path: Path) -> None:
    history = tmp_path / "history"
    with shell(tree, history) as child:
        prompt(child, 0)
        # Tab completes the path from the server's children of /comp.
        child.send("get /comp/al\t")
        child.expect_exact("pha")
        child.send("\r")
        child.expect_exact("A\r\n")
        prompt(child, 1)
        # zkCli's history and redo
        child.send("history\r")
        child.expect_exact("0 - get /comp/alpha")
        prompt(child, 2)
        child.send("redo 0\r")
        child.expect_exact("A\r\n")
        prompt(child, 3)
        # A watch fires while a line is half typed: the event prints above the prompt
        # and the line survives intact.
        child.send("get -w /comp/beta\r")
        child.expect_exact("B\r\n")
        prompt(child, 4)
        child.send("ls /com")
        child.expect_exact("ls /com")
        with SyncClient(tree) as zk:
            zk.set("/comp/beta", b"B2")
        child.expect_exact("WatchedEvent state:SyncConnected type:NodeDataChanged "
                           "path:/comp/beta")
        child.send("p\r")  # finish the line typed before the event
        child.expect_exact("[alpha, beta]")
        prompt(child, 5)
        # Ctrl-R finds the earlier command; Enter runs it (as in bash).
        child.send("\x12get /comp/a")
        child.expect_exact("reverse-i-search")
        child.send("\r")
        child.expect_exact("A\r\n")
        prompt(child, 6)
        child.send("quit\r")
        child.expect(pexpect.EOF)
    assert child.exitstatus == 0
    assert "+get /comp/alpha" in history.read_text()

    # The next session starts with the saved history: Up brings back the last command.
    with shell(tree, history) as child:
        prompt(child, 0)
        child.send("\x1b[A")  # Up
        child.expect_exact("quit")
        child.send("\x1b[A")
        child.expect_exact("get /comp/alpha")  # the one Ctrl-R ran last
        child.send("\r")
        child.expect_exact("A\r\n")
        prompt(child, 1)
        child.sendeof()  # Ctrl-D leaves, like quit
        child.expect(pexpect.EOF)
    assert child.exitstatus == 0


def test_errors_and_printwatches_on_a_terminal(tree: str, tmp_path: Path) -> None:
    with shell(tree, tmp_path / "history") as child:
        prompt(child, 0)
        child.send("get /comp/nope\r")
        child.expect_exact("Node does not exist: /comp/nope")
        prompt(child, 1)
        child.send("printwatches off\r")
        prompt(child, 2)
        child.send("get -w /comp/alpha\r")
        prompt(child, 3)
        with SyncClient(tree) as zk:
            zk.set("/comp/alpha", b"A2")
        child.send("printwatches\r")
        child.expect_exact("printwatches is off")
        prompt(child, 4)
        assert "WatchedEvent" not in (child.before or "")
        child.send("connect 127.0.0.1:1\r")  # refused: the old session stays
        child.expect_exact("cannot connect to 127.0.0.1:1: Connection refused")
        prompt(child, 5)
        child.send(f"connect {tree}\r")
        prompt(child, 6)
        child.send("get /comp/alpha\r")
        child.expect_exact("A2\r\n")
        child.send("quit\r")
        child.expect(pexpect.EOF)
    assert child.exitstatus == 0


def test_the_prompt_after_the_connection_drops_and_comes_back(
        tree: str, server: RoostServer, tmp_path: Path) -> None:
    # The session's link drops (SUSPENDED) and comes back on the same session: the change
    # prints above the prompt, and the prompt says CONNECTED again, as zkCli's does (it
    # said RECONNECTED for good, so a blip while a test ran left no prompt it expected).
    with TcpProxy((server.host, server.port)) as proxy, \
            shell(proxy.hosts, tmp_path / "history") as child:
        prompt(child, 0)
        proxy.cut()
        child.expect_exact("[state: SUSPENDED]")
        child.expect(r"\(SUSPENDED\) 0\]")
        proxy.heal()
        child.expect_exact("[state: RECONNECTED]")
        prompt(child, 0)
        child.send("get /comp/alpha\r")  # the same session goes on
        child.expect_exact("A\r\n")
        prompt(child, 1)
        child.send("quit\r")
        child.expect(pexpect.EOF)
    assert child.exitstatus == 0
