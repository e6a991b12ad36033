"""`roost member add|remove`: change a running ensemble's membership (ZooKeeper's reconfig)."""

from __future__ import annotations

import asyncio
import sys

import click

from roost.client.client import Client
from roost.cmd.env import CONTEXT, server_value
from roost.wire.errors import KeeperError
from roost.wire.opcodes import Op
from roost.wire.records import GetDataResponse, ReconfigRequest


async def reconfig(hosts: str, joining: str | None, leaving: str | None,
                   auth: tuple[str, ...]) -> str:
    creds = [("digest", a) for a in auth]
    client = Client(hosts, auth=creds)
    await client.start(15.0, fail_fast=True)  # a refused connection fails at once
    try:
        rec = await client.conn.request(Op.RECONFIG,
                                        ReconfigRequest(joining, leaving, None, -1), "")
    finally:
        await client.close()
    assert isinstance(rec, GetDataResponse) and rec.data is not None
    return rec.data.decode()


def _run(hosts: str, joining: str | None, leaving: str | None, auth: tuple[str, ...]) -> None:
    try:
        text = asyncio.run(reconfig(hosts, joining, leaving, auth))
    except KeeperError as e:
        click.echo(f"roost member: {e}", err=True)
        sys.exit(1)
    except OSError as e:
        click.echo(f"roost member: cannot reach {hosts}: {e}", err=True)
        sys.exit(1)
    click.echo(text)


@click.group(context_settings=CONTEXT)
def member() -> None:
    """Add or remove ensemble members while clients keep working."""


_servers = click.option("--server", "hosts", envvar="ROOST_SERVER", default="127.0.0.1:2181",
                        show_default=True, callback=server_value,
                        help="any member(s) of the ensemble")
_auth = click.option("--auth", multiple=True, metavar="USER:PASSWORD",
                     help="digest identity with WRITE on /zookeeper/config (e.g. super)")


@member.command()
@click.argument("member_id", type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--client-port", type=int, required=True)
@click.option("--peer-port", type=int, required=True)
@click.option("--observer", is_flag=True, help="a non-voting member")
@_servers
@_auth
def add(member_id: int, host: str, client_port: int, peer_port: int, observer: bool,
        hosts: str, auth: tuple[str, ...]) -> None:
    """Add MEMBER_ID (start it with `join = true` and the full member list)."""
    role = "observer" if observer else "participant"
    spec = f"server.{member_id}={host}:{peer_port}:{peer_port}:{role};{host}:{client_port}"
    _run(hosts, spec, None, auth)


@member.command()
@click.argument("member_ids", type=int, nargs=-1, required=True)
@_servers
@_auth
def remove(member_ids: tuple[int, ...], hosts: str, auth: tuple[str, ...]) -> None:
    """Remove members (a leader being removed hands leadership over first)."""
    _run(hosts, None, ",".join(str(i) for i in member_ids), auth)
