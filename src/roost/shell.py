"""`roost shell` (a zkCli-like interactive shell) and the one-shot `roost get/set/ls/...`.

The shell reads commands from the terminal (with readline history in
``~/.roost_history`` when readline is available) or, when stdin is not a TTY,
line by line from stdin, so it can be scripted. A failed command prints one
line (``Node does not exist: /a``) and the shell goes on; in script mode the
exit code is 1 if any command failed.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import click

from roost.client import ACL, Id, KeeperError, NoNodeError, SyncClient, WatchedEvent
from roost.client.events import StateChange
from roost.wire.opcodes import EventType, KeeperState, Perm
from roost.wire.records import Stat

DEFAULT_SERVER = "127.0.0.1:2181"
HISTORY_FILE = Path("~/.roost_history")
_PERM_CHARS = (("c", Perm.CREATE), ("d", Perm.DELETE), ("r", Perm.READ), ("w", Perm.WRITE),
               ("a", Perm.ADMIN))


class UsageError(Exception):
    """A command line the shell cannot parse; the message is the usage text."""


class Quit(Exception):
    """The user asked to leave the shell."""


# --- formatting (zkCli's output shapes) ---------------------------------------------------


def format_time(ms: int) -> str:
    return time.strftime("%a %b %d %H:%M:%S %Z %Y", time.localtime(ms / 1000))


def format_stat(stat: Stat) -> str:
    rows = [
        ("cZxid", hex(stat.czxid)),
        ("ctime", format_time(stat.ctime)),
        ("mZxid", hex(stat.mzxid)),
        ("mtime", format_time(stat.mtime)),
        ("pZxid", hex(stat.pzxid)),
        ("cversion", stat.cversion),
        ("dataVersion", stat.version),
        ("aclVersion", stat.aversion),
        ("ephemeralOwner", hex(stat.ephemeralOwner)),
        ("dataLength", stat.dataLength),
        ("numChildren", stat.numChildren),
    ]
    return "\n".join(f"{k} = {v}" for k, v in rows)


def format_data(data: bytes | None) -> str:
    return "null" if data is None else data.decode("utf-8", errors="replace")


def format_list(items: list[str]) -> str:
    return "[" + ", ".join(items) + "]"


def perm_string(perms: int) -> str:
    return "".join(ch for ch, bit in _PERM_CHARS if perms & bit)


def parse_perms(text: str) -> int:
    perms = 0
    for ch in text:
        bits = [bit for c, bit in _PERM_CHARS if c == ch]
        if not bits:
            raise ValueError(f"unknown permission {ch!r} (use c, d, r, w, a)")
        perms |= bits[0]
    return perms


def format_acl(acls: list[ACL]) -> str:
    return "\n".join(f"'{a.id.scheme},'{a.id.id}\n: {perm_string(a.perms)}" for a in acls)


def parse_acl(text: str) -> list[ACL]:
    """zkCli's ACL syntax: ``scheme:id:perms[,scheme:id:perms...]`` (the id may hold ':')."""
    acls = []
    for item in text.split(","):
        first, last = item.find(":"), item.rfind(":")
        if first < 0 or first == last:
            raise ValueError(f"invalid ACL {item!r}: expected scheme:id:perms")
        acls.append(ACL(parse_perms(item[last + 1 :]), Id(item[:first], item[first + 1 : last])))
    return acls


def format_event(ev: WatchedEvent) -> str:
    state = {KeeperState.SYNC_CONNECTED: "SyncConnected", KeeperState.EXPIRED: "Expired"}.get(
        ev.state, ev.state.name)
    etype = "".join(w.capitalize() for w in ev.type.name.split("_"))
    if ev.type == EventType.NONE:
        etype = "None"
    return f"WATCHER::\n\nWatchedEvent state:{state} type:{etype} path:{ev.path}"


def parse_args(args: list[str], flags: str, valued: str = "") -> tuple[dict[str, str], list[str]]:
    """Split ``-x`` flags (``valued`` ones take the next word) from positional words."""
    opts: dict[str, str] = {}
    rest: list[str] = []
    it = iter(args)
    for word in it:
        if len(word) == 2 and word[0] == "-" and word[1].isalpha():
            name = word[1]
            if name in valued:
                value = next(it, None)
                if value is None:
                    raise UsageError(f"option -{name} needs a value")
                opts[name] = value
            elif name in flags:
                opts[name] = ""
            else:
                raise UsageError(f"unknown option -{name}")
        else:
            rest.append(word)
    return opts, rest


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{what} must be a number: {text!r}") from None


# --- the shell ------------------------------------------------------------------------------

Handler = Callable[["Shell", list[str]], None]
#: command -> (handler, usage); filled by the `command` decorator
COMMANDS: dict[str, tuple[Handler, str]] = {}


def command(name: str, usage: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        COMMANDS[name] = (fn, usage)
        return fn

    return register


class Shell:
    """Runs shell command lines against a connected `SyncClient`."""

    def __init__(self, zk: SyncClient, out: Callable[[str], None] = click.echo,
                 err: Callable[[str], None] | None = None) -> None:
        self.zk = zk
        self.out = out
        self.err = err or (lambda s: click.echo(s, err=True))

    def execute(self, line: str) -> bool:
        """Run one line; False if it failed (the error was printed). Raises `Quit`."""
        try:
            words = shlex.split(line, comments=True)
        except ValueError as e:
            self.err(f"syntax error: {e}")
            return False
        if not words:
            return True
        entry = COMMANDS.get(words[0])
        if entry is None:
            self.err(f"unknown command: {words[0]} (try 'help')")
            return False
        handler, usage = entry
        try:
            handler(self, words[1:])
        except UsageError as e:
            self.err(f"{e}\nusage: {words[0]} {usage}")
            return False
        except KeeperError as e:
            self.err(str(e))
            return False
        except ValueError as e:
            self.err(str(e))
            return False
        return True

    def watcher(self, ev: WatchedEvent) -> None:
        self.out(format_event(ev))

    def path(self, rest: list[str], usage_count: int = 1) -> str:
        if len(rest) != usage_count:
            raise UsageError("wrong number of arguments")
        return rest[0]


@command("ls", "[-s] [-w] [-R] path")
def _ls(sh: Shell, args: list[str]) -> None:
    opts, rest = parse_args(args, "swR")
    path = sh.path(rest)
    watch = sh.watcher if "w" in opts else None
    if "R" in opts:
        for p in _walk(sh.zk, path):
            sh.out(p)
        return
    if "s" in opts:
        kids, stat = sh.zk.children_with_stat(path, watch)
        sh.out(format_list(sorted(kids)))
        sh.out(format_stat(stat))
    else:
        sh.out(format_list(sorted(sh.zk.children(path, watch))))


def _walk(zk: SyncClient, root: str) -> list[str]:
    """Breadth-first paths of the subtree, root first (zkCli's ls -R order)."""
    out, queue = [], [root]
    while queue:
        path = queue.pop(0)
        out.append(path)
        base = path.rstrip("/")
        queue.extend(f"{base}/{k}" for k in sorted(zk.children(path)))
    return out


@command("get", "[-s] [-w] path")
def _get(sh: Shell, args: list[str]) -> None:
    opts, rest = parse_args(args, "sw")
    data, stat = sh.zk.get(sh.path(rest), sh.watcher if "w" in opts else None)
    sh.out(format_data(data))
    if "s" in opts:
        sh.out(format_stat(stat))


@command("set", "[-s] [-v version] path data")
def _set(sh: Shell, args: list[str]) -> None:
    opts, rest = parse_args(args, "s", "v")
    if len(rest) != 2:
        raise UsageError("wrong number of arguments")
    stat = sh.zk.set(rest[0], rest[1].encode(), _int(opts.get("v", "-1"), "version"))
    if "s" in opts:
        sh.out(format_stat(stat))


@command("create", "[-s] [-e] [-c] [-t ttl] path [data] [acl]")
def _create(sh: Shell, args: list[str]) -> None:
    opts, rest = parse_args(args, "sec", "t")
    if not 1 <= len(rest) <= 3:
        raise UsageError("wrong number of arguments")
    data = rest[1].encode() if len(rest) > 1 else None
    acl = parse_acl(rest[2]) if len(rest) > 2 else None
    ttl = _int(opts["t"], "ttl") if "t" in opts else None
    created = sh.zk.create(rest[0], data, acl, ephemeral="e" in opts, sequence="s" in opts,
                           container="c" in opts, ttl=ttl)
    sh.out(f"Created {created}")


@command("delete", "[-v version] path")
def _delete(sh: Shell, args: list[str]) -> None:
    opts, rest = parse_args(args, "", "v")
    sh.zk.delete(sh.path(rest), _int(opts.get("v", "-1"), "version"))


@command("deleteall", "path")
def _deleteall(sh: Shell, args: list[str]) -> None:
    _, rest = parse_args(args, "")
    sh.zk.delete(sh.path(rest), recursive=True)


@command("stat", "[-w] path")
def _stat(sh: Shell, args: list[str]) -> None:
    opts, rest = parse_args(args, "w")
    path = sh.path(rest)
    stat = sh.zk.exists(path, sh.watcher if "w" in opts else None)
    if stat is None:
        raise NoNodeError(path)
    sh.out(format_stat(stat))


@command("getAcl", "[-s] path")
def _get_acl(sh: Shell, args: list[str]) -> None:
    opts, rest = parse_args(args, "s")
    acls, stat = sh.zk.get_acl(sh.path(rest))
    sh.out(format_acl(acls))
    if "s" in opts:
        sh.out(format_stat(stat))


@command("setAcl", "[-s] [-v version] path acl")
def _set_acl(sh: Shell, args: list[str]) -> None:
    opts, rest = parse_args(args, "s", "v")
    if len(rest) != 2:
        raise UsageError("wrong number of arguments")
    stat = sh.zk.set_acl(rest[0], parse_acl(rest[1]), _int(opts.get("v", "-1"), "version"))
    if "s" in opts:
        sh.out(format_stat(stat))


@command("addauth", "scheme auth")
def _addauth(sh: Shell, args: list[str]) -> None:
    if len(args) != 2:
        raise UsageError("wrong number of arguments")
    sh.zk.add_auth(args[0], args[1])


@command("whoami", "")
def _whoami(sh: Shell, args: list[str]) -> None:
    if args:
        raise UsageError("whoami takes no arguments")
    sh.out("Auth scheme: User")
    for scheme, user in sh.zk.who_am_i():
        sh.out(f"{scheme}: {user}")


@command("getEphemerals", "[path]")
def _get_ephemerals(sh: Shell, args: list[str]) -> None:
    if len(args) > 1:
        raise UsageError("wrong number of arguments")
    sh.out(format_list(sorted(sh.zk.ephemerals(args[0] if args else "/"))))


@command("getAllChildrenNumber", "path")
def _count(sh: Shell, args: list[str]) -> None:
    sh.out(str(sh.zk.count_descendants(sh.path(args))))


@command("sync", "path")
def _sync(sh: Shell, args: list[str]) -> None:
    sh.zk.sync(sh.path(args))
    sh.out("Sync is OK")


@command("addWatch", "[-m mode] path  (mode: PERSISTENT or PERSISTENT_RECURSIVE)")
def _add_watch(sh: Shell, args: list[str]) -> None:
    opts, rest = parse_args(args, "", "m")
    mode = opts.get("m", "PERSISTENT_RECURSIVE").upper()
    if mode not in ("PERSISTENT", "PERSISTENT_RECURSIVE"):
        raise UsageError(f"unknown mode {mode}")
    sh.zk.add_watch(sh.path(rest), sh.watcher, recursive=mode == "PERSISTENT_RECURSIVE")


@command("help", "")
def _help(sh: Shell, args: list[str]) -> None:
    sh.out("roost shell commands:")
    for name in sorted(COMMANDS, key=str.lower):
        sh.out(f"\t{name} {COMMANDS[name][1]}".rstrip())


@command("quit", "")
def _quit(sh: Shell, args: list[str]) -> None:
    raise Quit()


# --- running the shell --------------------------------------------------------------------


def _setup_history() -> Callable[[], None]:
    """Load readline history; return the function that saves it (a no-op without readline)."""
    try:
        import readline
    except ImportError:
        return lambda: None
    path = HISTORY_FILE.expanduser()
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    readline.set_history_length(1000)

    def save() -> None:
        with contextlib.suppress(OSError):
            readline.write_history_file(path)

    return save


def run_interactive(sh: Shell, server: str) -> int:
    save = _setup_history()
    n = 0
    try:
        while True:
            prompt = f"[roost: {server}({sh.zk.state.value}) {n}] "
            try:
                line = input(prompt)
            except EOFError:
                sh.out("")
                return 0
            except KeyboardInterrupt:
                sh.out("")
                continue
            n += 1
            try:
                sh.execute(line)
            except Quit:
                return 0
    finally:
        save()


def run_script(sh: Shell, lines: list[str]) -> int:
    failed = False
    for line in lines:
        try:
            if not sh.execute(line):
                failed = True
        except Quit:
            break
    return 1 if failed else 0


def connect(server: str, timeout: float) -> SyncClient:
    """A started SyncClient, or exit 1 with a one-line error.

    ``timeout`` bounds the connect and every request, so a command never hangs
    on a server that went away (it fails with "Operation timed out").
    """
    zk = SyncClient(server, request_timeout=timeout)
    try:
        zk.start(timeout=timeout)
    except KeeperError:
        zk.close()
        click.echo(f"roost: cannot connect to {server}", err=True)
        sys.exit(1)
    return zk


def _state_printer(change: StateChange) -> None:
    if change.previous.value != "CONNECTING":
        click.echo(f"\n[state: {change.state.value}]", err=True)


@click.command("shell", context_settings={"ignore_unknown_options": True})
@click.argument("server", default=lambda: os.environ.get("ROOST_SERVER", DEFAULT_SERVER))
@click.argument("cmd", nargs=-1, type=click.UNPROCESSED)
@click.option("--timeout", default=15.0, show_default=True,
              help="seconds to wait for the connection and for each request")
def shell_command(server: str, cmd: tuple[str, ...], timeout: float) -> None:
    """An interactive zkCli-like shell on SERVER (host:port[,host:port][/chroot]).

    With CMD, run that one command and exit. When stdin is not a terminal, read
    commands from it, one per line.
    """
    zk = connect(server, timeout)
    sh = Shell(zk)
    try:
        if cmd:
            code = run_script(sh, [shlex.join(cmd)])
        elif sys.stdin.isatty():
            zk.add_listener(_state_printer)
            code = run_interactive(sh, server)
        else:
            code = run_script(sh, sys.stdin.read().splitlines())
    finally:
        zk.close()
    sys.exit(code)


# --- one-shot script commands ---------------------------------------------------------------

server_option = click.option(
    "--server",
    envvar="ROOST_SERVER",
    default=DEFAULT_SERVER,
    show_default=True,
    help="host:port[,host:port][/chroot] (env ROOST_SERVER)",
)
timeout_option = click.option("--timeout", default=10.0, show_default=True,
                              help="seconds to wait for the connection and the reply")


@contextlib.contextmanager
def session(server: str, timeout: float) -> Iterator[SyncClient]:
    """A connected client; a ZooKeeper error becomes one line on stderr and exit code 1."""
    zk = connect(server, timeout)
    try:
        yield zk
    except (KeeperError, ValueError) as e:
        click.echo(f"roost: {e}", err=True)
        sys.exit(1)
    finally:
        zk.close()


@click.command("get")
@server_option
@timeout_option
@click.option("--stat", "show_stat", is_flag=True, help="also print the node's Stat")
@click.argument("path")
def get_command(server: str, timeout: float, show_stat: bool, path: str) -> None:
    """Print the data of PATH."""
    with session(server, timeout) as zk:
        data, stat = zk.get(path)
        click.echo(format_data(data))
        if show_stat:
            click.echo(format_stat(stat))


@click.command("set")
@server_option
@timeout_option
@click.option("--version", type=int, default=-1, help="expected data version")
@click.argument("path")
@click.argument("data")
def set_command(server: str, timeout: float, version: int, path: str, data: str) -> None:
    """Set the data of PATH to DATA."""
    with session(server, timeout) as zk:
        zk.set(path, data.encode(), version)


@click.command("ls")
@server_option
@timeout_option
@click.option("--recursive", "-R", is_flag=True, help="every path of the subtree")
@click.argument("path")
def ls_command(server: str, timeout: float, recursive: bool, path: str) -> None:
    """List the children of PATH, one per line."""
    with session(server, timeout) as zk:
        for name in _walk(zk, path)[1:] if recursive else sorted(zk.children(path)):
            click.echo(name)


@click.command("create")
@server_option
@timeout_option
@click.option("--ephemeral", "-e", is_flag=True)
@click.option("--sequential", "-s", is_flag=True)
@click.option("--container", "-c", is_flag=True)
@click.option("--ttl", type=int, default=None, help="TTL in milliseconds")
@click.option("--parents", "-p", is_flag=True, help="create missing ancestors")
@click.option("--acl", default=None, help="zkCli ACL, e.g. world:anyone:cdrwa")
@click.argument("path")
@click.argument("data", required=False)
def create_command(server: str, timeout: float, ephemeral: bool, sequential: bool,
                   container: bool, ttl: int | None, parents: bool, acl: str | None, path: str,
                   data: str | None) -> None:
    """Create PATH (with DATA; null data without) and print the created path."""
    with session(server, timeout) as zk:
        created = zk.create(path, data.encode() if data is not None else None,
                            parse_acl(acl) if acl else None, ephemeral=ephemeral,
                            sequence=sequential, container=container, ttl=ttl,
                            make_parents=parents)
        click.echo(created)


@click.command("delete")
@server_option
@timeout_option
@click.option("--version", type=int, default=-1, help="expected data version")
@click.option("--recursive", "-R", is_flag=True, help="delete the whole subtree")
@click.argument("path")
def delete_command(server: str, timeout: float, version: int, recursive: bool,
                   path: str) -> None:
    """Delete PATH."""
    with session(server, timeout) as zk:
        zk.delete(path, version, recursive=recursive)


@click.command("stat")
@server_option
@timeout_option
@click.argument("path")
def stat_command(server: str, timeout: float, path: str) -> None:
    """Print the Stat of PATH (zkCli format)."""
    with session(server, timeout) as zk:
        stat = zk.exists(path)
        if stat is None:
            raise NoNodeError(path)
        click.echo(format_stat(stat))


COMMAND_LIST = [shell_command, get_command, set_command, ls_command, create_command,
                delete_command, stat_command]


def register(group: click.Group) -> None:
    """Add the shell and the one-shot commands to the `roost` group."""
    for cmd in COMMAND_LIST:
        group.add_command(cmd)
