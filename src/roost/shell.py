"""`roost shell`: a zkCli-like interactive shell.

Each line is one of the client commands of `roost.cmd` (the very commands `roost get`,
`roost ls`... run), parsed by the same click definitions, plus the shell's own: `history`,
`redo N`, `connect HOST:PORT`, `printwatches on|off`, `help`, `quit`.

On a terminal it uses prompt_toolkit: Tab completes commands, options and znode paths
(asked from the server), Up/Down and Ctrl-R search the history kept in ``~/.roost_history``
(``$ROOST_HISTORY`` overrides), and watch events print above the prompt without
disturbing the line being typed. When stdin is not a terminal it reads one command per
line, so it can be scripted; the exit code is then 1 if any command failed.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from roost.client import ClientState, StateChange, SyncClient

if TYPE_CHECKING:
    from prompt_toolkit.key_binding import KeyBindings
from roost.cmd.env import (
    COMMON_OPTIONS,
    CONTEXT,
    DEFAULT_TIMEOUT,
    CommandError,
    CommandGroup,
    Env,
    connect,
    server_value,
    timeout_option,
)
from roost.cmd.znode import CLIENT_COMMANDS, SESSION_COMMANDS

HISTORY_FILE = "~/.roost_history"


class Quit(Exception):
    """The user asked to leave the shell."""


class ShellEnv(Env):
    """The shell's `Env`: one connection for the session, plus the command history."""

    def __init__(self, server: str | None, timeout: float) -> None:
        super().__init__(server, timeout, interactive=True)
        self.history: list[str] = []


# --- the shell's own commands --------------------------------------------------------------

def _shell_env() -> ShellEnv:
    env = click.get_current_context().find_object(ShellEnv)
    if env is None:
        raise click.UsageError("only available in the shell")
    return env


@click.command("history")
@click.argument("count", type=click.IntRange(min=1), default=10)
def history_cmd(count: int) -> None:
    """List the last COUNT commands (default 10) with their numbers (for redo)."""
    hist = _shell_env().history
    for n in range(max(0, len(hist) - count), len(hist)):
        click.echo(f"{n} - {hist[n]}")


@click.command("redo")
@click.argument("number", type=click.IntRange(min=0))
def redo_cmd(number: int) -> None:
    """Run command NUMBER of the history again."""
    env = _shell_env()
    if number >= len(env.history):
        raise CommandError(f"no command {number} in the history")
    line = env.history[number]
    click.echo(line)
    if not Shell(env).execute(line):
        raise click.exceptions.Exit(1)


@click.command("connect")
@click.argument("server", callback=server_value)
def connect_cmd(server: str) -> None:
    """Close this session and connect to SERVER (host:port[,host:port][/chroot])."""
    env = _shell_env()
    with env.errors():
        zk = connect(server, env.timeout)
    env.replace_client(zk, server)


@click.command("printwatches")
@click.argument("mode", type=click.Choice(["on", "off"], case_sensitive=False), required=False)
def printwatches_cmd(mode: str | None) -> None:
    """Print watch events as they arrive (on, the default) or not (off)."""
    env = _shell_env()
    if mode is None:
        click.echo(f"printwatches is {'on' if env.print_watches else 'off'}")
    else:
        env.print_watches = mode.lower() == "on"


@click.command("quit")
def quit_cmd() -> None:
    """Leave the shell."""
    raise Quit()


@click.command("help")
def help_cmd() -> None:
    """List the commands."""
    ctx = click.get_current_context()
    click.echo("roost shell commands (read commands also take -o json; CMD -h for details):")
    for name in sorted(SHELL.commands, key=str.lower):
        click.echo(f"\t{name} {short_usage(SHELL.commands[name], ctx)}".rstrip())


def short_usage(cmd: click.Command, ctx: click.Context) -> str:
    """zkCli-style usage: ``[-s] [-v version] path [data]`` (common options left out)."""
    parts: list[str] = []
    for p in cmd.params:
        if isinstance(p, click.Option):
            if p.name in COMMON_OPTIONS or p.name == "help" or p.hidden:
                continue
            flag = min(p.opts, key=len)
            value = max(p.opts, key=len).lstrip("-")
            parts.append(f"[{flag}]" if p.is_flag else f"[{flag} {value}]")
        elif isinstance(p, click.Argument):
            name = (p.name or "").lower()
            parts.append(name if p.required else f"[{name}]")
    return " ".join(parts)


SHELL = CommandGroup("roost-shell", context_settings=CONTEXT)
for _cmd in [*CLIENT_COMMANDS, *SESSION_COMMANDS, history_cmd, redo_cmd, connect_cmd,
             printwatches_cmd, quit_cmd, help_cmd]:
    SHELL.add_command(_cmd)
SHELL.add_command(quit_cmd, "exit")


# --- running lines ----------------------------------------------------------------------------

class Shell:
    """Runs shell lines against a `ShellEnv`."""

    def __init__(self, env: ShellEnv) -> None:
        self.env = env

    def execute(self, line: str) -> bool:
        """Run one line; False if it failed (the error was printed). Raises `Quit`."""
        try:
            words = shlex.split(line, comments=True)
        except ValueError as e:
            click.echo(f"syntax error: {e}", err=True)
            return False
        if not words:
            return True
        if words[0] != "redo":
            self.env.history.append(line.strip())
        if SHELL.get_command(click.Context(SHELL), words[0]) is None:
            click.echo(f"unknown command: {words[0]} (try 'help')", err=True)
            return False
        try:
            rv = SHELL.main(args=words, prog_name="", standalone_mode=False, obj=self.env)
        except Quit:
            raise
        except click.UsageError as e:
            usage = e.ctx.command.get_usage(e.ctx) if e.ctx is not None else ""
            name = e.ctx.command.name if e.ctx is not None else words[0]
            click.echo(e.format_message(), err=True)
            if e.ctx is not None and usage:
                click.echo(f"usage: {name} {short_usage(e.ctx.command, e.ctx)}".rstrip(),
                           err=True)
            return False
        except click.ClickException as e:
            click.echo(e.format_message(), err=True)
            return False
        except click.Abort:
            click.echo("", err=True)
            return False
        return not (isinstance(rv, int) and rv != 0)

    def run_script(self, lines: Iterable[str]) -> int:
        failed = False
        for line in lines:
            try:
                if not self.execute(line):
                    failed = True
            except Quit:
                break
        return 1 if failed else 0

    def prompt(self) -> str:
        state = prompt_state(self.env.connected_client)
        return f"[roost: {self.env.server}({state}) {len(self.env.history)}] "


def prompt_state(zk: SyncClient | None) -> str:
    """The state the prompt shows. As zkCli's, it is the session's standing state: a live
    read-write session is CONNECTED, also after a reconnect (the change itself is printed
    above the prompt as ``[state: RECONNECTED]``); the other states keep their names."""
    if zk is None:
        return ClientState.CLOSED.value
    state = zk.state
    return ClientState.CONNECTED.value if state.is_writable else state.value


# --- the terminal -----------------------------------------------------------------------------

def history_path() -> Path:
    return Path(os.environ.get("ROOST_HISTORY") or HISTORY_FILE).expanduser()


def run_interactive(sh: Shell) -> int:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import ThreadedCompleter
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    from prompt_toolkit.patch_stdout import patch_stdout

    from roost.shell_complete import ShellCompleter

    path = history_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
        history: FileHistory | InMemoryHistory = FileHistory(str(path))
    except OSError as e:
        click.echo(f"history not saved: {path}: {e.strerror or e}", err=True)
        history = InMemoryHistory()
    session: PromptSession[str] = PromptSession(
        history=history, completer=ThreadedCompleter(ShellCompleter(sh.env, SHELL)),
        complete_while_typing=False, key_bindings=_key_bindings())

    def on_state(change: StateChange) -> None:
        if change.previous is not ClientState.CONNECTING:
            click.echo(f"[state: {change.state.value}]", err=True)
        if session.app.is_running:
            session.app.invalidate()  # the prompt shows the state

    listening = sh.env.connected_client
    if listening is not None:
        listening.add_listener(on_state)
    with patch_stdout(raw=True):
        while True:
            try:
                line = session.prompt(sh.prompt)
            except EOFError:
                return 0
            except KeyboardInterrupt:
                continue
            try:
                sh.execute(line)
            except Quit:
                return 0
            zk = sh.env.connected_client
            if zk is not listening and zk is not None:  # after `connect`
                zk.add_listener(on_state)
                listening = zk


def _key_bindings() -> KeyBindings:
    from prompt_toolkit import search
    from prompt_toolkit.filters import is_searching
    from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

    kb = KeyBindings()

    @kb.add("enter", filter=is_searching)
    def _run_found(event: KeyPressEvent) -> None:
        """Enter in a Ctrl-R search runs the line found (as bash does)."""
        search.accept_search()
        event.app.current_buffer.validate_and_handle()

    return kb


def _lines(stream: Iterable[str]) -> Iterator[str]:
    for line in stream:
        yield line.rstrip("\n")


@click.command("shell", context_settings={**CONTEXT, "allow_interspersed_args": False})
@timeout_option(DEFAULT_TIMEOUT)
@click.argument("server", callback=server_value, required=False)
@click.argument("cmd", nargs=-1, type=click.UNPROCESSED)
def shell_command(server: str | None, cmd: tuple[str, ...], timeout: float) -> None:
    """A zkCli-like shell on SERVER (host:port[,host:port][/chroot]; default
    $ROOST_SERVER or 127.0.0.1:2181).

    With CMD, run that one command and exit. When stdin is not a terminal, read
    commands from it, one per line."""
    env = ShellEnv(server, timeout)
    try:
        with env.errors():
            env.client()
        sh = Shell(env)
        if cmd:
            code = sh.run_script([shlex.join(cmd)])
        elif sys.stdin.isatty() and sys.stdout.isatty():
            code = run_interactive(sh)
        else:
            stdin = click.get_text_stream("stdin", encoding="utf-8", errors="replace")
            code = sh.run_script(_lines(stdin))
    finally:
        env.close()
    if code:
        raise click.exceptions.Exit(code)
