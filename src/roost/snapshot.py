"""`roost snapshot save|restore|inspect`: online backups and new data dirs seeded from them."""

from __future__ import annotations

import os
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path

import click

from roost.cmd.env import CONTEXT
from roost.server.backup import Backup, BackupError, read_backup, restore
from roost.server.config import ConfigError
from roost.server.configload import load
from roost.storage import StorageError
from roost.storage.fsutil import atomic_write


def _describe(b: Backup, size: int) -> str:
    return (
        f"zxid 0x{b.zxid:x}, {b.tree.node_count()} znodes, {len(b.tree.sessions)} sessions, "
        f"{size} bytes"
    )


@click.group(context_settings=CONTEXT)
def snapshot() -> None:
    """Back up a running server or ensemble, and seed new ones from a backup."""


@snapshot.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--http",
    "url",
    default="http://127.0.0.1:8500",
    show_default=True,
    help="the HTTP API of any member (https://... with TLS)",
)
@click.option("--token", default="", help="super:PASSWORD when the servers have a super_digest")
@click.option("--ca", type=click.Path(exists=True), help="CA file for an https:// address")
@click.option("--stale", is_flag=True, help="that member's state, without a leader round")
def save(file: Path, url: str, token: str, ca: str | None, stale: bool) -> None:
    """Save a consistent backup of the whole tree to FILE, through any member.

    The member first confirms with the leader that it has applied every write committed
    before the request (unless --stale), then sends its tree as of one zxid."""
    target = url.rstrip("/") + "/v1/snapshot" + ("?stale" if stale else "")
    req = urllib.request.Request(target, headers={"X-Consul-Token": token} if token else {})
    ctx = ssl.create_default_context(cafile=ca) if ca else None
    try:
        with urllib.request.urlopen(req, timeout=300, context=ctx) as resp:
            blob = resp.read()
    except urllib.error.HTTPError as e:
        detail = e.read().decode(errors="replace").strip()
        click.echo(f"roost snapshot: {url}: {e.code} {detail}", err=True)
        sys.exit(1)
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        click.echo(f"roost snapshot: cannot reach {url}: {reason}", err=True)
        sys.exit(1)
    try:
        backup = read_backup(blob, file)
        atomic_write(file, blob)
    except BackupError as e:
        click.echo(f"roost snapshot: the server sent a bad backup: {e}", err=True)
        sys.exit(1)
    except StorageError as e:
        click.echo(f"roost snapshot: cannot write {file}: {e}", err=True)
        sys.exit(1)
    click.echo(f"saved {file}: {_describe(backup, len(blob))}")


@snapshot.command(name="restore")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--data-dir", type=click.Path(path_type=Path), required=True, help="a new, empty data dir"
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="the new server's roost.toml: with [[members]], seeds that member of a new ensemble",
)
@click.option("--zoo-cfg", type=click.Path(path_type=Path), help="or its zoo.cfg")
def restore_(file: Path, data_dir: Path, config_path: Path | None, zoo_cfg: Path | None) -> None:
    """Seed a new data directory from the backup FILE.

    Without members in the configuration the data dir is a standalone server's. With
    members it is that member's in a NEW ensemble: restore every member from the same
    file, each with its own config, before starting any of them."""
    try:
        cfg = load(config_path, zoo_cfg, overrides={"data_dir": data_dir})
        backup = restore(file, cfg)
    except (ConfigError, BackupError) as e:
        click.echo(f"roost snapshot: {e}", err=True)
        sys.exit(1)
    size = os.stat(file).st_size
    kind = f"member {cfg.server_id} of a new ensemble" if cfg.members else "a standalone server"
    click.echo(f"restored {file} into {data_dir} for {kind}: {_describe(backup, size)}")
    if cfg.members:
        click.echo("restore every member of the new ensemble from this file before starting them")


@snapshot.command()
@click.argument("file", type=click.Path(path_type=Path))
def inspect(file: Path) -> None:
    """Verify a backup file and print what it holds."""
    try:
        blob = file.read_bytes()
        backup = read_backup(blob, file)
    except OSError as e:
        click.echo(f"roost snapshot: {file}: {e.strerror}", err=True)
        sys.exit(1)
    except BackupError as e:
        click.echo(f"roost snapshot: {e}", err=True)
        sys.exit(1)
    click.echo(f"{file}: {_describe(backup, len(blob))}")
