"""`roost cluster up` (a local ensemble for development) and `roost cluster status`."""

from __future__ import annotations

import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from roost.client.connection import parse_hosts
from roost.cmd.env import server_value
from roost.cmd.format import to_json


def _four_letter(host: str, port: int, cmd: str, timeout: float = 1.0) -> str:
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(cmd.encode())
        chunks = []
        while b := s.recv(65536):
            chunks.append(b)
    return b"".join(chunks).decode()


def member_status(host: str, port: int) -> dict[str, str]:
    """srvr + mntr of one server as a dict ({"mode": "down"} if it does not answer)."""
    try:
        srvr = _four_letter(host, port, "srvr")
        mntr = _four_letter(host, port, "mntr")
    except OSError:
        return {"mode": "down"}
    out: dict[str, str] = {}
    for line in srvr.splitlines():
        key, _, value = line.partition(": ")
        out[key.strip().lower()] = value.strip()
    for line in mntr.splitlines():
        key, _, value = line.partition("\t")
        out[key.removeprefix("zk_")] = value
    return out


def write_member_configs(
    folder: Path, voters: int, observers: int, base_port: int, secret: str
) -> list[Path]:
    n = voters + observers
    members = []
    for i in range(n):
        role = "voter" if i < voters else "observer"
        members.append(
            f'[[members]]\nid = {i + 1}\nhost = "127.0.0.1"\n'
            f"client_port = {base_port + i}\npeer_port = {base_port + 100 + i}\n"
            f'role = "{role}"\n'
        )
    paths = []
    for i in range(n):
        p = folder / f"member{i + 1}.toml"
        p.write_text(
            f'[server]\nserver_id = {i + 1}\nhost = "127.0.0.1"\nport = {base_port + i}\n'
            f'data_dir = "{folder / f"member{i + 1}"}"\npeer_secret = "{secret}"\n\n'
            + "\n".join(members)
        )
        paths.append(p)
    return paths


@click.group()
def cluster() -> None:
    """Run and inspect a local ensemble."""


@cluster.command()
@click.option("-n", "voters", default=3, show_default=True, help="voting members")
@click.option("--observers", default=0, show_default=True, help="non-voting members")
@click.option(
    "--base-port",
    default=2181,
    show_default=True,
    help="client ports from here; peer ports from here + 100",
)
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path),
    default=Path("roost-cluster"),
    show_default=True,
    help="configs and data dirs",
)
def up(voters: int, observers: int, base_port: int, folder: Path) -> None:
    """Start a local ensemble on loopback; Ctrl-C stops every member cleanly."""
    if voters < 1 or observers < 0 or voters + observers > 255:
        raise click.UsageError("need 1..255 members")
    folder.mkdir(parents=True, exist_ok=True)
    secret_file = folder / "peer-secret"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_hex(16))
    configs = write_member_configs(
        folder, voters, observers, base_port, secret_file.read_text().strip()
    )
    procs = []
    for i, cfg in enumerate(configs):
        log = open(folder / f"member{i + 1}.log", "ab")  # noqa: SIM115 - lives with the process
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "roost.cli", "serve", "--config", str(cfg)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    hosts = ",".join(f"127.0.0.1:{base_port + i}" for i in range(len(configs)))
    click.echo(f"connect string: {hosts}")
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    deadline = time.monotonic() + 30
    shown = False
    while not stop:
        dead = [i for i, p in enumerate(procs) if p.poll() is not None]
        if dead:
            click.echo(
                f"member {dead[0] + 1} exited; see {folder}/member{dead[0] + 1}.log", err=True
            )
            break
        if not shown:
            modes = [
                member_status("127.0.0.1", base_port + i).get("mode", "down")
                for i in range(len(procs))
            ]
            if "leader" in modes or time.monotonic() > deadline:
                for i, mode in enumerate(modes):
                    click.echo(f"  member {i + 1}: 127.0.0.1:{base_port + i} {mode}")
                click.echo("Ctrl-C stops the ensemble")
                shown = True
        time.sleep(0.2)
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
    click.echo("stopped")


@cluster.command()
@click.option("-o", "--output", "--write-out", "output_format",
              type=click.Choice(["text", "json"], case_sensitive=False), default="text",
              help="text (a table, default) or json")
@click.option("--json", "as_json", is_flag=True, help="same as -o json")
@click.argument("hosts", callback=server_value)
def status(hosts: str, output_format: str, as_json: bool) -> None:
    """Show each member's role, term, commit/applied index and the followers' lag.

    HOSTS is host:port[,host:port...]. Exit code 1 if no member answers."""
    members: list[dict[str, Any]] = []
    for host, port in parse_hosts(hosts)[0]:
        st = member_status(host, port)
        lags = {k.split("_")[2]: _number(v) for k, v in st.items()
                if k.startswith("raft_follower_")}
        members.append({
            "member": f"{host}:{port}",
            "mode": st.get("mode", "?"),
            "term": _number(st.get("raft_term")),
            "commit": _number(st.get("raft_commit_index")),
            "applied": _number(st.get("raft_applied_index")),
            "zxid": st.get("zxid"),
            "follower_lag": lags,
        })
    if as_json or output_format.lower() == "json":
        click.echo(to_json({"members": members}))
    else:
        columns = ("member", "mode", "term", "commit", "applied", "zxid")
        rows: list[list[str]] = [[*columns, "follower lag"]]
        for m in members:
            lag = ", ".join(f"{k}:{v}" for k, v in m["follower_lag"].items()) or "-"
            rows.append([*("-" if m[k] is None else str(m[k]) for k in columns), lag])
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    if all(m["mode"] == "down" for m in members):
        sys.exit(1)


def _number(value: str | None) -> int | str | None:
    """Numbers from srvr/mntr as ints; anything else as it came (None if absent)."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return value
