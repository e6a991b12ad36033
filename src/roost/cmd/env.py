"""What every client command shares: the connection, the common options, argument types
and the one way errors are reported.

A command is a click command whose callback receives an `Env` first. The one-shot CLI
(`roost get /a`) builds a fresh `Env` per run and connects on first use; the shell keeps
one `Env` (and its connection) for the whole session and runs the same commands in it.

This module is imported by every `roost` command, `roost --help` included: the client (and
the rest of roost) is imported where a command first needs it, not here.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from roost.client import ConnectionLossError, SyncClient, WatchedEvent

DEFAULT_SERVER = "127.0.0.1:2181"
DEFAULT_TIMEOUT = 10.0
CONTEXT = {"help_option_names": ["-h", "--help"]}
#: the options `client_command` adds to every command
COMMON_OPTIONS = frozenset({"server", "timeout", "output_format", "as_json"})

F = TypeVar("F", bound=Callable[..., Any])


class CommandError(click.ClickException):
    """An operational failure (the server said no, no connection...): exit code 1."""

    exit_code = 1


class Env:
    """The state one or more commands run in: server address, connection, output mode.

    ``interactive`` is True inside the shell: lists print zkCli-style, errors carry no
    ``roost:`` prefix, and a watch set with ``-w`` prints its event whenever it fires
    (one-shot commands instead wait for the event, print it and exit).
    """

    def __init__(self, server: str | None = None, timeout: float = DEFAULT_TIMEOUT, *,
                 interactive: bool = False) -> None:
        self.server = server or os.environ.get("ROOST_SERVER", DEFAULT_SERVER)
        self.timeout = timeout
        self.interactive = interactive
        self.print_watches = True
        self.output: str | None = None  # a default output format (the shell's)
        self._zk: SyncClient | None = None
        self._fired = threading.Event()
        self._watch_set = False
        self._json_events = False

    # --- the connection -------------------------------------------------------------------
    def client(self) -> SyncClient:
        """The connected client (connecting now if this is the first use)."""
        if self._zk is None:
            self._zk = connect(check_server(self.server), self.timeout)
        return self._zk

    @property
    def connected_client(self) -> SyncClient | None:
        return self._zk

    def replace_client(self, zk: SyncClient, server: str) -> None:
        """Switch to another connection (the shell's ``connect``); the old one is closed."""
        self.close()
        self._zk, self.server = zk, server

    def close(self) -> None:
        zk, self._zk = self._zk, None
        if zk is not None:
            with contextlib.suppress(Exception):
                zk.close()

    # --- watches ----------------------------------------------------------------------------
    def watcher(self, fmt: str = "text") -> Callable[[WatchedEvent], None]:
        """A watch callback that prints the event (as zkCli does, or one JSON line)."""
        self._watch_set = True
        self._json_events = fmt == "json"
        return self._on_event

    def _on_event(self, ev: WatchedEvent) -> None:
        from roost.cmd.format import event_json, format_event, to_json

        if self.print_watches or not self.interactive:
            click.echo(to_json(event_json(ev)) if self._json_events else format_event(ev))
        self._fired.set()

    def wait_for_watch(self) -> None:
        """One-shot commands: after a ``-w``, wait for the event (Ctrl-C ends the wait)."""
        if self.interactive or not self._watch_set:
            return
        from roost.client import ClientState

        self._watch_set = False
        while not self._fired.wait(0.2):
            zk = self._zk
            if zk is None or zk.state is ClientState.CLOSED:
                return

    # --- errors -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        """Turn what a command can run into (server errors, bad values, unreadable files)
        into `CommandError`: one line, exit code 1."""
        from roost.client import ConnectionLossError, KeeperError
        from roost.recipes import RecipeError

        try:
            yield
        except click.ClickException:
            raise
        except ConnectionLossError as e:
            raise CommandError(connection_message(e, self.server)) from None
        except (KeeperError, RecipeError, ValueError) as e:
            raise CommandError(str(e)) from None
        except OSError as e:
            raise CommandError(os_message(e)) from None


def connection_message(e: ConnectionLossError, server: str) -> str:
    from roost.client import ClientClosedError

    detail = getattr(e, "detail", "")
    if detail.startswith("cannot connect"):
        return str(detail)
    if isinstance(e, ClientClosedError):
        return f"not connected to {server}"
    return f"{e} (server {server})"


def os_message(e: OSError) -> str:
    where = f"{e.filename}: " if e.filename else ""
    return f"{where}{e.strerror or e}"


def connect(server: str, timeout: float) -> SyncClient:
    """A started client. Fails at once (`ConnectionLossError` saying why, per address) when
    every server refuses or cannot be reached; ``timeout`` also bounds each request."""
    from roost.client import SyncClient

    zk = SyncClient(server, request_timeout=timeout)
    try:
        zk.start(timeout=timeout, fail_fast=True)
    except BaseException:
        zk.close()
        raise
    return zk


# --- argument types ---------------------------------------------------------------------------


def check_server(value: str) -> str:
    """Validate ``host:port[,host:port...][/chroot]`` (raises ValueError saying what is wrong)."""
    from roost.client.client import check_path
    from roost.client.hosts import parse_hosts

    if not value.strip():
        raise ValueError("empty server address")
    try:
        servers, chroot = parse_hosts(value)
    except ValueError:
        raise ValueError(f"{value!r} is not host:port[,host:port...][/chroot]") from None
    for host, port in servers:
        if not host:
            raise ValueError(f"missing host in {value!r}")
        if not 0 < port < 65536:
            raise ValueError(f"port {port} out of range in {value!r}")
    if chroot:
        check_path(chroot)
    return value


def _param_name(param: click.Parameter | None) -> str:
    return param.human_readable_name if param is not None else "value"


def server_value(ctx: click.Context | None, param: click.Parameter | None,
                 value: str | None) -> str | None:
    """click callback: a valid ``host:port[,host:port...][/chroot]`` (None passes)."""
    if value is None:
        return None
    try:
        return check_server(value)
    except ValueError as e:
        raise click.BadParameter(str(e), ctx, param) from None


def path_value(ctx: click.Context | None, param: click.Parameter | None,
               value: str | None, *, sequence: bool = False) -> str | None:
    """click callback: a znode path, checked as ZooKeeper's client checks it."""
    if value is None:
        return None
    from roost.client.client import check_path

    try:
        return check_path(value, sequence=sequence)
    except ValueError as e:
        raise click.BadParameter(str(e), ctx, param) from None


def sequence_path_value(ctx: click.Context | None, param: click.Parameter | None,
                        value: str | None) -> str | None:
    """`path_value` for a sequential create (the path may end in '/')."""
    return path_value(ctx, param, value, sequence=True)


def data_value(ctx: click.Context | None, param: click.Parameter | None,
               value: str | None) -> bytes | None:
    """click callback: a znode value. The text itself (UTF-8), ``-`` for standard input,
    ``@FILE`` for a file's bytes; ``\\@...`` is the literal text starting with ``@``."""
    if value is None:
        return None
    env = ctx.find_object(Env) if ctx is not None else None
    if value == "-":
        if env is not None and env.interactive:
            raise click.BadParameter("'-' (standard input) is not available in the shell",
                                     ctx, param)
        stdin = click.get_binary_stream("stdin")
        return stdin.read()
    if value.startswith("@"):
        try:
            with open(value[1:], "rb") as f:
                return f.read()
        except OSError as e:
            raise click.BadParameter(f"cannot read {value[1:]!r}: {e.strerror or e}",
                                     ctx, param) from None
    if value.startswith("\\@"):
        value = value[1:]
    return os.fsencode(value)  # UTF-8; undecodable argv bytes come back as they were


# --- the command decorator -------------------------------------------------------------------


class CommandGroup(click.Group):
    """Finds its subcommands whatever their case (``getacl`` is zkCli's ``getAcl``).

    The subcommands in ``lazy`` (name -> ("module:attribute", the first paragraph of the
    command's help)) are imported when one is run or asked for its help: the group's own
    help lists them from that paragraph, so ``roost --help`` or ``roost --version`` imports
    none of them (tests/cli/test_lazy.py checks each paragraph against the command's own)."""

    def __init__(self, *args: Any, lazy: Mapping[str, tuple[str, str]] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})
        self._listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = self._command(cmd_name)
        if found is not None:
            return found
        matches = [n for n in self.list_commands(ctx) if n.lower() == cmd_name.lower()]
        return self._command(matches[0]) if len(matches) == 1 else None

    def _command(self, name: str) -> click.Command | None:
        found = self.commands.get(name)
        if found is not None or name not in self.lazy:
            return found
        where, summary = self.lazy[name]
        if self._listing:  # the group's help: the summary is all it shows
            return click.Command(name, help=summary)
        module, _, attribute = where.partition(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        self.add_command(command, name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self._listing = False


def timeout_option(default: float | None) -> Callable[[F], F]:
    return click.option(
        "--timeout", type=click.FloatRange(min=0.01, max=3600), default=default,
        help=f"seconds allowed to connect and for each reply (default {DEFAULT_TIMEOUT:g})")


output_choice = click.Choice(["text", "json"], case_sensitive=False)


def client_command(name: str, *, output: bool = True, **settings: Any) -> Callable[[F], Any]:
    """Make ``fn(env, ..., fmt=...)`` a click command with ``--server``/``--timeout``
    (and ``-o/--output``, ``--json`` when ``output``); errors become one line."""

    def decorate(fn: F) -> click.Command:
        @functools.wraps(fn)
        def run(*args: Any, server: str | None = None, timeout: float | None = None,
                output_format: str | None = None, as_json: bool = False,
                **kwargs: Any) -> Any:
            env = click.get_current_context().ensure_object(Env)
            if server is not None or timeout is not None:
                if env.interactive:
                    raise click.UsageError("--server and --timeout are set with 'connect' "
                                           "in the shell")
                env.server = server or env.server
                env.timeout = timeout if timeout is not None else env.timeout
            if output:
                kwargs["fmt"] = "json" if as_json else (output_format or env.output or "text")
            with env.errors():
                result = fn(env, *args, **kwargs)
                env.wait_for_watch()
                return result

        cmd = run
        if output:
            cmd = click.option("--json", "as_json", is_flag=True, help="same as -o json")(cmd)
            cmd = click.option("-o", "--output", "--write-out", "output_format",
                               type=output_choice, default=None,
                               help="text (default) or json")(cmd)
        cmd = timeout_option(None)(cmd)
        cmd = click.option("--server", metavar="HOST:PORT", callback=server_value, default=None,
                           help=f"host:port[,host:port][/chroot] (env ROOST_SERVER, default "
                                f"{DEFAULT_SERVER})")(cmd)
        command: click.Command = click.command(name, cls=click.Command, **settings)(cmd)
        command.params.sort(key=lambda p: p.name in COMMON_OPTIONS)  # the command's own first
        return command

    return decorate
