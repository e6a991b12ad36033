"""`roost cluster up` (a local ensemble for development) and `roost cluster status`."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from roost.client.hosts import parse_hosts
from roost.cmd.env import CONTEXT, server_value
from roost.cmd.format import to_json


def _four_letter(host: str, port: int, cmd: str, timeout: float = 1.0) -> str:
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(cmd.encode())
        chunks = []
        while b := s.recv(65536):
            chunks.append(b)
    return b"".join(chunks).decode()


#: srvr's answer on a server that serves no client (ZooKeeper's words)
NOT_SERVING = "not currently serving requests"


def member_status(host: str, port: int, timeout: float = 1.0) -> dict[str, str]:
    """srvr + mntr of one server as a dict ({"mode": "down"} if it does not answer). A
    server that answers but serves no client has the mode "not serving: <why>"."""
    try:
        srvr = _four_letter(host, port, "srvr", timeout)
        mntr = _four_letter(host, port, "mntr", timeout)
    except OSError:
        return {"mode": "down"}
    out: dict[str, str] = {}
    for line in srvr.splitlines():
        key, _, value = line.partition(": ")
        out[key.strip().lower()] = value.strip()
    for line in mntr.splitlines():
        key, _, value = line.partition("\t")
        out[key.removeprefix("zk_")] = value
    if NOT_SERVING in srvr or out.get("serving") == "0":
        out["mode"] = f"not serving: {out.get('not_serving_reason', 'unknown reason')}"
    return out


def member_mode(host: str, port: int, timeout: float = 0.5) -> str:
    """The `Mode:` line of srvr ("down" if the server does not answer)."""
    try:
        srvr = _four_letter(host, port, "srvr", timeout)
    except OSError:
        return "down"
    for line in srvr.splitlines():
        if line.startswith("Mode: "):
            return line.removeprefix("Mode: ").strip()
    return "?"


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


#: where `roost cluster start|stop|restart` leave requests for the supervising `cluster up`
REQUESTS = "requests"
ACTIONS = ("start", "stop", "restart")


class Supervisor:
    """The members of `roost cluster up`: one process each, started, stopped and restarted
    on request; a member that exits is reported and the others keep running."""

    def __init__(self, folder: Path, configs: list[Path], base_port: int) -> None:
        self.folder = folder
        self.configs = configs
        self.base_port = base_port
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * len(configs)
        #: members that should be running (a member that exits on its own leaves it)
        self.wanted: set[int] = set()
        self.leader: int | None = None
        self._last_poll = 0.0

    def log_path(self, i: int) -> Path:
        return self.folder / f"member{i + 1}.log"

    def pid_path(self, i: int) -> Path:
        return self.folder / f"member{i + 1}.pid"

    def start(self, i: int) -> None:
        running = self.procs[i]
        if running is not None and running.poll() is None:
            return
        with open(self.log_path(i), "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "roost.cli", "serve", "--config", str(self.configs[i])],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.procs[i] = proc
        self.pid_path(i).write_text(f"{proc.pid}\n")
        self.wanted.add(i)

    def stop(self, i: int, timeout: float = 30.0) -> None:
        self.wanted.discard(i)
        proc = self.procs[i]
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs[i] = None
        self.pid_path(i).unlink(missing_ok=True)

    def stop_all(self) -> None:
        for i, p in enumerate(self.procs):
            if p is not None and p.poll() is None:
                self.wanted.discard(i)
                p.send_signal(signal.SIGTERM)
        for i in range(len(self.procs)):
            self.stop(i)

    def exited(self) -> list[tuple[int, int]]:
        """(member index, exit code) of every wanted member that has exited since last asked."""
        out = []
        for i in sorted(self.wanted):
            p = self.procs[i]
            if p is not None and p.poll() is not None:
                self.wanted.discard(i)
                self.procs[i] = None
                self.pid_path(i).unlink(missing_ok=True)
                out.append((i, p.returncode))
        return out

    def modes(self) -> list[str]:
        return [
            member_mode("127.0.0.1", self.base_port + i) if self.procs[i] is not None else "stopped"
            for i in range(len(self.procs))
        ]

    def requests(self) -> list[tuple[str, int, Path]]:
        """Pending `roost cluster start|stop|restart N` requests (oldest first)."""
        folder = self.folder / REQUESTS
        out = []
        for f in sorted(folder.glob("*.req")) if folder.is_dir() else []:
            action, _, member = f.read_text().strip().partition(" ")
            if action in ACTIONS and member.isdigit() and 1 <= int(member) <= len(self.procs):
                out.append((action, int(member) - 1, f))
            else:
                f.unlink(missing_ok=True)
        return out


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _log_tail(path: Path, lines: int = 5) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@click.group(context_settings=CONTEXT)
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
@click.option(
    "--start-timeout",
    default=30.0,
    show_default=True,
    help="seconds to wait for a leader at start-up",
)
def up(voters: int, observers: int, base_port: int, folder: Path, start_timeout: float) -> None:
    """Start a local ensemble on loopback and supervise it.

    A member that exits is reported and the others keep running (kill the leader to watch a
    failover); `roost cluster restart N` (or start/stop N) acts on one member. Ctrl-C stops
    every member cleanly. Exits 1 if a member cannot start."""
    if voters < 1 or observers < 0 or voters + observers > 255:
        raise click.UsageError("need 1..255 members")
    folder.mkdir(parents=True, exist_ok=True)
    if _supervisor_pid(folder) is not None:
        raise click.UsageError(f"a `roost cluster up` is already running in {folder}")
    secret_file = folder / "peer-secret"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_hex(16))
    configs = write_member_configs(
        folder, voters, observers, base_port, secret_file.read_text().strip()
    )
    (folder / REQUESTS).mkdir(exist_ok=True)
    for stale in (folder / REQUESTS).glob("*.req"):
        stale.unlink()
    (folder / "cluster.pid").write_text(f"{os.getpid()}\n")
    sup = Supervisor(folder, configs, base_port)
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    code = 0
    try:
        for i in range(len(configs)):
            sup.start(i)
        hosts = ",".join(f"127.0.0.1:{base_port + i}" for i in range(len(configs)))
        click.echo(f"connect string: {hosts}")
        code = _supervise(sup, start_timeout, lambda: stop)
    finally:
        sup.stop_all()
        (folder / "cluster.pid").unlink(missing_ok=True)
    click.echo("stopped")
    sys.exit(code)


def _supervise(sup: Supervisor, start_timeout: float, stopping: Callable[[], bool]) -> int:
    """Run until asked to stop (0) or until a member fails to start (1)."""
    n = len(sup.procs)
    deadline = time.monotonic() + start_timeout
    started = False
    restarting: dict[int, float] = {}  # member -> deadline to answer after a (re)start
    while not stopping():
        for i, code in sup.exited():
            log = sup.log_path(i)
            if not started or i in restarting:
                click.echo(
                    f"member {i + 1} could not start ({_exit_text(code)}); see {log}:\n"
                    + _log_tail(log),
                    err=True,
                )
                restarting.pop(i, None)
                if not started:
                    return 1
            else:
                click.echo(
                    f"member {i + 1} exited ({_exit_text(code)}); the others keep running. "
                    f"`roost cluster start {i + 1} --dir {sup.folder}` starts it again",
                    err=True,
                )
        for action, i, req in sup.requests():
            if action in ("stop", "restart"):
                click.echo(f"stopping member {i + 1}")
                sup.stop(i)
            if action in ("start", "restart"):
                click.echo(f"starting member {i + 1}")
                sup.start(i)
                restarting[i] = time.monotonic() + start_timeout
            req.unlink(missing_ok=True)
        modes = sup.modes()
        for i, until in list(restarting.items()):
            if modes[i] not in ("down", "stopped"):
                click.echo(f"member {i + 1} is back: {modes[i]}")
                del restarting[i]
            elif time.monotonic() > until:
                click.echo(f"member {i + 1} does not answer; see {sup.log_path(i)}", err=True)
                del restarting[i]
        leader = modes.index("leader") if "leader" in modes else None
        if not started:
            if leader is not None or time.monotonic() > deadline:
                for i, mode in enumerate(modes):
                    click.echo(f"  member {i + 1}: 127.0.0.1:{sup.base_port + i} {mode}")
                if leader is None:
                    click.echo("no leader yet", err=True)
                click.echo("Ctrl-C stops the ensemble")
                started = True
                sup.leader = leader
        elif leader != sup.leader:
            if leader is None:
                click.echo("no leader")
            else:
                click.echo(f"leader: member {leader + 1} (127.0.0.1:{sup.base_port + leader})")
            sup.leader = leader
        time.sleep(0.2 if n < 8 else 0.5)
    return 0


def _supervisor_pid(folder: Path) -> int | None:
    """The pid of the `roost cluster up` supervising `folder`, if it runs."""
    try:
        pid = int((folder / "cluster.pid").read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _request(action: str, member: int, folder: Path, timeout: float) -> None:
    if _supervisor_pid(folder) is None:
        raise click.ClickException(f"no `roost cluster up` is running in {folder}")
    if not (folder / f"member{member}.toml").exists():
        raise click.ClickException(f"no member {member} in {folder}")
    req = folder / REQUESTS / f"{time.time_ns()}-{os.getpid()}.req"
    tmp = req.with_suffix(".tmp")
    tmp.write_text(f"{action} {member}\n")
    tmp.rename(req)
    deadline = time.monotonic() + timeout
    while req.exists():
        if time.monotonic() > deadline or _supervisor_pid(folder) is None:
            req.unlink(missing_ok=True)
            raise click.ClickException("the supervising `roost cluster up` did not answer")
        time.sleep(0.05)
    if action == "stop":
        click.echo(f"member {member} stopped")
        return
    port = int(_port_of(folder / f"member{member}.toml"))
    while time.monotonic() < deadline:
        mode = member_mode("127.0.0.1", port)
        if mode != "down":
            click.echo(f"member {member}: {mode}")
            return
        time.sleep(0.1)
    raise click.ClickException(
        f"member {member} does not answer; see {folder}/member{member}.log"
    )


def _port_of(config: Path) -> int:
    from roost.server.configload import load_toml

    return load_toml(config).listen_port


def _member_command(action: str) -> click.Command:
    @click.argument("member", type=int)
    @click.option(
        "--dir",
        "folder",
        type=click.Path(path_type=Path),
        default=Path("roost-cluster"),
        show_default=True,
        help="the directory of the `roost cluster up` to act on",
    )
    @click.option("--timeout", default=30.0, show_default=True, help="seconds")
    def command(member: int, folder: Path, timeout: float) -> None:
        _request(action, member, folder, timeout)

    command.__doc__ = f"{action.capitalize()} one member of a running `roost cluster up`."
    return cluster.command(name=action)(command)


for _action in ACTIONS:
    _member_command(_action)


def _healthy(statuses: list[dict[str, str]]) -> bool:
    """Every member answers and, in an ensemble, one leads with every other member in
    contact (the leader's synced followers and observers)."""
    modes = [st.get("mode", "down") for st in statuses]
    if any(m == "down" or m.startswith("not serving") for m in modes):
        return False
    if modes == ["standalone"]:
        return True
    leaders = [st for st in statuses if st.get("mode") == "leader"]
    if len(leaders) != 1:
        return False
    lead = leaders[0]
    try:
        synced = int(lead.get("synced_followers", "0")) + int(lead.get("synced_observers", "0"))
    except ValueError:
        return False
    return synced >= len(statuses) - 1


@cluster.command()
@click.option("-o", "--output", "--write-out", "output_format",
              type=click.Choice(["text", "json"], case_sensitive=False), default="text",
              help="text (a table, default) or json")
@click.option("--json", "as_json", is_flag=True, help="same as -o json")
@click.option("--wait", "wait_s", type=float, default=None,
              help="wait up to this many seconds for every member to answer with one leader "
              "in contact with all the others; exit 1 if that does not happen")
@click.argument("hosts", callback=server_value)
def status(hosts: str, output_format: str, as_json: bool, wait_s: float | None) -> None:
    """Show each member's role, term, commit/applied index and the followers' lag.

    HOSTS is host:port[,host:port...]. Exit code 1 if no member answers (with --wait: if
    the members are not all up with one leader in time)."""
    addrs = parse_hosts(hosts)[0]
    statuses = [member_status(host, port) for host, port in addrs]
    if wait_s is not None:
        deadline = time.monotonic() + wait_s
        while not _healthy(statuses) and time.monotonic() < deadline:
            time.sleep(0.2)
            statuses = [member_status(host, port) for host, port in addrs]
    members: list[dict[str, Any]] = []
    for (host, port), st in zip(addrs, statuses, strict=True):
        lags = {k.split("_")[2]: _number(v) for k, v in st.items()
                if k.startswith("raft_follower_") and k.endswith("_lag")}
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
    if all(m["mode"] == "down" for m in members) or (
        wait_s is not None and not _healthy(statuses)
    ):
        sys.exit(1)

        sys.exit(1)


def _number(value: str | None) -> int | str | None:
    """Numbers from srvr/mntr as ints; anything else as it came (None if absent)."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return value
