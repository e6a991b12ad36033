"""The znode commands (zkCli's set): one implementation each, for `roost CMD` and the shell.

Flags follow zkCli (``get -s -w``, ``set -v``, ``create -s -e -c -t``, ``ls -R``); every
read command also takes ``-o json`` (or ``--json``); ``get --raw`` writes the exact bytes.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import click

from roost.client import NoNodeError, SyncClient
from roost.cmd.env import (
    Env,
    client_command,
    data_value,
    path_value,
    sequence_path_value,
)
from roost.cmd.format import (
    acl_json,
    data_json,
    format_acl,
    format_data,
    format_list,
    format_stat,
    parse_acl,
    stat_json,
    to_json,
)
from roost.wire.records import Stat


def emit(fmt: str, obj: dict[str, Any], text: str | None) -> None:
    """Print ``obj`` as one JSON line, or ``text`` (nothing when None)."""
    if fmt == "json":
        click.echo(to_json(obj))
    elif text is not None:
        click.echo(text)


def walk(zk: SyncClient, root: str) -> list[str]:
    """Every path of the subtree, root first, breadth-first (zkCli's ``ls -R`` order)."""
    out: list[str] = []
    queue = deque([root])
    while queue:
        path = queue.popleft()
        out.append(path)
        base = path.rstrip("/")
        try:
            kids = zk.children(path)
        except NoNodeError:
            if path == root:
                raise
            continue  # deleted while we walked
        queue.extend(f"{base}/{k}" for k in sorted(kids))
    return out


stat_flag = click.option("-s", "--stat", "with_stat", is_flag=True,
                         help="also print the node's Stat")
watch_flag = click.option("-w", "--watch", is_flag=True,
                          help="leave a watch (one-shot: wait for its event and print it)")
version_option = click.option("-v", "--version", type=int, default=-1,
                              help="expected version (default: any)")


@client_command("ls")
@stat_flag
@watch_flag
@click.option("-R", "--recursive", is_flag=True, help="every path of the subtree")
@click.argument("path", callback=path_value)
def ls(env: Env, path: str, with_stat: bool, watch: bool, recursive: bool, fmt: str) -> None:
    """List the children of PATH (sorted)."""
    zk = env.client()
    if recursive:
        paths = walk(zk, path)
        emit(fmt, {"path": path, "paths": paths}, "\n".join(paths))
        return
    cb = env.watcher(fmt) if watch else None
    stat: Stat | None = None
    if with_stat:
        kids, stat = zk.children_with_stat(path, cb)
    else:
        kids = zk.children(path, cb)
    kids = sorted(kids)
    obj: dict[str, Any] = {"path": path, "children": kids}
    text = format_list(kids) if env.interactive else "\n".join(kids)
    if stat is not None:
        obj["stat"] = stat_json(stat)
        text = f"{text}\n{format_stat(stat)}" if text else format_stat(stat)
    emit(fmt, obj, text if text or env.interactive else None)


@client_command("get")
@stat_flag
@watch_flag
@click.option("--raw", is_flag=True, help="write the exact bytes, no newline")
@click.argument("path", callback=path_value)
def get(env: Env, path: str, with_stat: bool, watch: bool, raw: bool, fmt: str) -> None:
    """Print the data of PATH."""
    data, stat = env.client().get(path, env.watcher(fmt) if watch else None)
    if raw and fmt != "json":
        out = click.get_binary_stream("stdout")
        out.write(data or b"")
        out.flush()
        return
    text = format_data(data) + (f"\n{format_stat(stat)}" if with_stat else "")
    emit(fmt, {"path": path, **data_json(data), "stat": stat_json(stat)}, text)


@client_command("set")
@stat_flag
@version_option
@click.argument("path", callback=path_value)
@click.argument("data", callback=data_value)
def set_(env: Env, path: str, data: bytes, with_stat: bool, version: int, fmt: str) -> None:
    """Set the data of PATH. DATA is the text, - for standard input or @FILE."""
    stat = env.client().set(path, data, version)
    emit(fmt, {"path": path, "stat": stat_json(stat)}, format_stat(stat) if with_stat else None)


@client_command("create")
@click.option("-s", "--sequential", is_flag=True, help="append a sequence number")
@click.option("-e", "--ephemeral", is_flag=True, help="deleted when this session ends")
@click.option("-c", "--container", is_flag=True, help="deleted once its last child goes")
@click.option("-t", "--ttl", type=click.IntRange(min=1), default=None,
              help="TTL node: deleted after this many ms without change or children")
@click.option("--parents/--no-parents", "-p/-P", default=True,
              help="create missing ancestors (default) or fail as zkCli does")
@click.option("--acl", "acl_opt", default=None, help="ACL, e.g. world:anyone:cdrwa")
@click.argument("path", callback=sequence_path_value)
@click.argument("data", callback=data_value, required=False)
@click.argument("acl", required=False)
def create(env: Env, path: str, data: bytes | None, acl: str | None, sequential: bool,
           ephemeral: bool, container: bool, ttl: int | None, parents: bool,
           acl_opt: str | None, fmt: str) -> None:
    """Create PATH holding DATA (null without) and print its path. DATA is the text, - for
    standard input or @FILE; ACL (or --acl) uses zkCli's syntax."""
    if acl and acl_opt:
        raise click.UsageError("give the ACL once (positional or --acl)")
    acl_text = acl or acl_opt
    acls = parse_acl(acl_text) if acl_text else None
    created = env.client().create(path, data, acls, ephemeral=ephemeral, sequence=sequential,
                                  container=container, ttl=ttl, make_parents=parents)
    emit(fmt, {"path": created}, f"Created {created}" if env.interactive else created)


@client_command("delete", output=False)
@version_option
@click.option("-R", "--recursive", is_flag=True, help="delete the whole subtree")
@click.argument("path", callback=path_value)
def delete(env: Env, path: str, version: int, recursive: bool) -> None:
    """Delete PATH (it must have no children unless -R)."""
    env.client().delete(path, version, recursive=recursive)


@client_command("deleteall", output=False)
@click.argument("path", callback=path_value)
def deleteall(env: Env, path: str) -> None:
    """Delete PATH and everything below it."""
    env.client().delete(path, recursive=True)


@client_command("stat")
@watch_flag
@click.argument("path", callback=path_value)
def stat(env: Env, path: str, watch: bool, fmt: str) -> None:
    """Print the Stat of PATH (zkCli's format)."""
    st = env.client().exists(path, env.watcher(fmt) if watch else None)
    if st is None:
        env.wait_for_watch()  # `stat -w` on a missing node waits for its creation
        raise NoNodeError(path)
    emit(fmt, {"path": path, "stat": stat_json(st)}, format_stat(st))


@client_command("getAcl")
@stat_flag
@click.argument("path", callback=path_value)
def get_acl(env: Env, path: str, with_stat: bool, fmt: str) -> None:
    """Print the ACL of PATH."""
    acls, st = env.client().get_acl(path)
    text = format_acl(acls) + (f"\n{format_stat(st)}" if with_stat else "")
    emit(fmt, {"path": path, "acl": acl_json(acls), "stat": stat_json(st)}, text)


@client_command("setAcl")
@stat_flag
@version_option
@click.argument("path", callback=path_value)
@click.argument("acl")
def set_acl(env: Env, path: str, acl: str, with_stat: bool, version: int, fmt: str) -> None:
    """Set the ACL of PATH (zkCli's syntax: scheme:id:perms[,...])."""
    st = env.client().set_acl(path, parse_acl(acl), version)
    emit(fmt, {"path": path, "stat": stat_json(st)}, format_stat(st) if with_stat else None)


@client_command("whoami")
def whoami(env: Env, fmt: str) -> None:
    """Print the identities this session is authenticated as."""
    ids = env.client().who_am_i()
    text = "\n".join(["Auth scheme: User", *(f"{s}: {u}" for s, u in ids)])
    emit(fmt, {"identities": [{"scheme": s, "user": u} for s, u in ids]}, text)


@client_command("getEphemerals")
@click.argument("path", callback=path_value, default="/")
def get_ephemerals(env: Env, path: str, fmt: str) -> None:
    """List the ephemeral nodes of this session under PATH (default /)."""
    eph = sorted(env.client().ephemerals(path))
    text = format_list(eph) if env.interactive else "\n".join(eph)
    emit(fmt, {"path": path, "ephemerals": eph}, text if text or env.interactive else None)


@client_command("getAllChildrenNumber")
@click.argument("path", callback=path_value)
def count(env: Env, path: str, fmt: str) -> None:
    """Print how many nodes lie below PATH."""
    n = env.client().count_descendants(path)
    emit(fmt, {"path": path, "count": n}, str(n))


@client_command("sync")
@click.argument("path", callback=path_value)
def sync(env: Env, path: str, fmt: str) -> None:
    """Make the connected server catch up with the leader for PATH."""
    env.client().sync(path)
    emit(fmt, {"path": path, "synced": True}, "Sync is OK")


@client_command("addauth", output=False)
@click.argument("scheme")
@click.argument("auth")
def addauth(env: Env, scheme: str, auth: str) -> None:
    """Add credentials to the session (e.g. addauth digest user:password)."""
    env.client().add_auth(scheme, auth)


@client_command("addWatch", output=False)
@click.option("-m", "--mode", type=click.Choice(["PERSISTENT", "PERSISTENT_RECURSIVE"],
                                                 case_sensitive=False),
              default="PERSISTENT_RECURSIVE", show_default=True)
@click.argument("path", callback=path_value)
def add_watch(env: Env, path: str, mode: str) -> None:
    """Add a persistent watch on PATH (recursive by default)."""
    env.client().add_watch(path, env.watcher(), recursive=mode.upper() == "PERSISTENT_RECURSIVE")


#: the commands both `roost` and the shell offer
CLIENT_COMMANDS = [ls, get, set_, create, delete, deleteall, stat, get_acl, set_acl, whoami,
                   get_ephemerals, count, sync]
#: commands that only make sense on a session that lives on (the shell)
SESSION_COMMANDS = [addauth, add_watch]
