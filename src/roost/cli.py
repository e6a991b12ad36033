"""The `roost` command.

`main()` runs the click group `cli` and owns the error contract: a user's mistake is one
line on stderr and exit code 2 (a usage error) or 1 (the operation failed), never a
traceback. ``ROOST_DEBUG=1`` shows the traceback of an unexpected error.

Every command pays for what this module imports, so it imports only click and roost.cmd.env:
the subcommands defined elsewhere are imported when one of them runs (`LAZY`), and `serve`
imports the server inside its function.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from roost.cmd.env import CONTEXT, CommandGroup, Env

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
PORT = click.IntRange(0, 65535)

#: The subcommands defined in other modules, imported when used: name -> ("module:command",
#: the first sentence of its help, which `roost --help` lists). The client commands have
#: one implementation each, shared with `roost shell`.
LAZY: dict[str, tuple[str, str]] = {
    "cluster": ("roost.cluster:cluster", "Run and inspect a local ensemble."),
    "member": ("roost.member:member",
               "Add or remove ensemble members while clients keep working."),
    "snapshot": ("roost.snapshot:snapshot",
                 "Back up a running server or ensemble, and seed new ones from a backup."),
    "shell": ("roost.shell:shell_command",
              "A zkCli-like shell on SERVER (host:port[,host:port][/chroot]; default "
              "$ROOST_SERVER or 127.0.0.1:2181)."),
    "ls": ("roost.cmd.znode:ls", "List the children of PATH (sorted)."),
    "get": ("roost.cmd.znode:get", "Print the data of PATH."),
    "set": ("roost.cmd.znode:set_", "Set the data of PATH."),
    "create": ("roost.cmd.znode:create",
               "Create PATH holding DATA (null without) and print its path."),
    "delete": ("roost.cmd.znode:delete", "Delete PATH (it must have no children unless -R)."),
    "deleteall": ("roost.cmd.znode:deleteall", "Delete PATH and everything below it."),
    "stat": ("roost.cmd.znode:stat", "Print the Stat of PATH (zkCli's format)."),
    "getAcl": ("roost.cmd.znode:get_acl", "Print the ACL of PATH."),
    "setAcl": ("roost.cmd.znode:set_acl",
               "Set the ACL of PATH (zkCli's syntax: scheme:id:perms[,...])."),
    "whoami": ("roost.cmd.znode:whoami",
               "Print the identities this session is authenticated as."),
    "getEphemerals": ("roost.cmd.znode:get_ephemerals",
                      "List the ephemeral nodes of this session under PATH (default /)."),
    "getAllChildrenNumber": ("roost.cmd.znode:count", "Print how many nodes lie below PATH."),
    "sync": ("roost.cmd.znode:sync",
             "Make the connected server catch up with the leader for PATH."),
    "watch": ("roost.cmd.watch:watch",
              "Print each change to PATH as it happens, one line per event (`NodeDataChanged "
              "/a`, or a JSON object with -o json), until Ctrl-C or SIGTERM."),
    "lock": ("roost.cmd.run:lock",
             "Take the lock PATH, then run COMMAND while holding it (or, without COMMAND, "
             "print the lock node and hold it until Ctrl-C)."),
    "elect": ("roost.cmd.run:elect",
              "Join the election PATH, then run COMMAND while leader (or, without COMMAND, "
              "print the leadership and hold it until Ctrl-C)."),
    "verify": ("roost.verify:verify",
               "Run clients against an ensemble under seeded faults and check the results."),
    "bench": ("roost.bench.cli:bench",
              "Load-test a ZooKeeper-protocol server: `roost bench HOST:PORT[,...] "
              "[options]`."),
}


@click.group(cls=CommandGroup, context_settings=CONTEXT, lazy=LAZY)
@click.version_option(package_name="roost")
def cli() -> None:
    """roost: a coordination service speaking the ZooKeeper protocol.

    The client commands (get, set, ls, create, ...) take --server HOST:PORT (or
    $ROOST_SERVER; default 127.0.0.1:2181). `roost COMMAND -h` describes each command."""


def main(argv: Sequence[str] | None = None) -> None:
    """The `roost` entry point (exits with the command's code)."""
    sys.exit(run(argv))


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: sys.argv[1:]); return the exit code."""
    env = Env()
    # The client's own warnings (a failed connect attempt...) would reach stderr through
    # logging's last-resort handler; the command reports what matters in its one line.
    for name in ("roost.client", "roost.recipes"):
        logging.getLogger(name).addHandler(logging.NullHandler())
    try:
        rv: Any = cli.main(args=list(argv) if argv is not None else None, prog_name="roost",
                           standalone_mode=False, obj=env)
        return rv if isinstance(rv, int) else 0
    except click.exceptions.NoArgsIsHelpError as e:
        click.echo(e.ctx.get_help() if e.ctx is not None else e.format_message())
        return 0
    except click.UsageError as e:
        where = e.ctx.command_path if e.ctx is not None else "roost"
        click.echo(one_line(f"{where}: {e.format_message()} (see '{where} -h')"), err=True)
        return e.exit_code
    except click.ClickException as e:
        click.echo(one_line(f"roost: {e.format_message()}"), err=True)
        return e.exit_code
    except click.Abort:  # Ctrl-C or end of input at a prompt
        click.echo("", err=True)
        return 130
    except KeyboardInterrupt:
        return 130
    except SystemExit as e:  # a command's own sys.exit(code)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BrokenPipeError:  # `roost ls -R / | head`
        _silence_stdout()
        return 1
    except Exception as e:
        if os.environ.get("ROOST_DEBUG"):
            raise
        click.echo(one_line(f"roost: internal error: {type(e).__name__}: {e} "
                            "(ROOST_DEBUG=1 shows the traceback)"), err=True)
        return 70
    finally:
        env.close()


def one_line(text: str) -> str:
    """An error message on one line, whatever the user's values held."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush does not fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


@cli.command(context_settings=CONTEXT)
@click.option(
    "--config", "config_path", type=click.Path(path_type=Path), help="roost.toml configuration file"
)
@click.option(
    "--zoo-cfg",
    "zoo_cfg",
    type=click.Path(path_type=Path),
    help="read ZooKeeper's zoo.cfg keys that apply",
)
@click.option(
    "--host",
    default=None,
    help="client listen address (default: the member's host, else 127.0.0.1; * = every address)",
)
@click.option(
    "--port", type=PORT, default=None, help="client port (default: the member's, else 2181)"
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="data directory (default ./roost-data)",
)
@click.option(
    "--http-port",
    type=PORT,
    default=None,
    help="HTTP API, metrics and dashboard (default: 8500 without a config file, else off)",
)
@click.option("--http-host", default=None, help="HTTP listen address (default: --host)")
@click.option("--no-http", is_flag=True, help="no HTTP API")
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False),
              default="INFO", show_default=True)
def serve(
    config_path: Path | None,
    zoo_cfg: Path | None,
    host: str | None,
    port: int | None,
    data_dir: Path | None,
    http_port: int | None,
    http_host: str | None,
    no_http: bool,
    log_level: str,
) -> None:
    """Run a server: standalone, or an ensemble member when the config lists members.

    With no config file this is the development default: clients on 127.0.0.1:2181, data
    in ./roost-data, the HTTP API and dashboard on 127.0.0.1:8500. Every setting can also
    come from a ROOST_<KEY> environment variable (flags win over the environment, the
    environment over files); see docs/operations.md."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from roost.server.config import ConfigError, ServerConfig
    from roost.server.configload import load

    try:
        overrides: dict[str, object] = {
            k: v
            for k, v in (
                ("host", host),
                ("port", port),
                ("data_dir", data_dir),
                ("http_port", http_port),
                ("http_host", http_host),
            )
            if v is not None
        }
        if no_http:
            overrides["http_port"] = None
        base = ServerConfig()
        if config_path is None and zoo_cfg is None:
            base = ServerConfig(http_port=8500)  # the development default
        cfg = load(config_path, zoo_cfg, overrides=overrides, base=base)
    except ConfigError as e:
        click.echo(f"roost: bad configuration: {e}", err=True)
        sys.exit(2)
    from roost.node import run_server
    from roost.server import ServerCrashed
    from roost.storage import StorageError

    try:
        run_server(cfg)
    except ServerCrashed as e:  # its traceback is in the log
        click.echo(f"roost: {e}", err=True)
        sys.exit(1)
    except StorageError as e:
        click.echo(f"roost: cannot start: {e}", err=True)
        sys.exit(1)
    except ConfigError as e:
        click.echo(f"roost: bad configuration: {e}", err=True)
        sys.exit(2)
    except OSError as e:
        click.echo(f"roost: cannot start: {e}", err=True)
        sys.exit(1)


@cli.command(context_settings=CONTEXT)
@click.argument("user_password", metavar="USER:PASSWORD")
def digest(user_password: str) -> None:
    """Print the digest id of USER:PASSWORD (for super_digest and digest ACLs), as
    ZooKeeper's DigestAuthenticationProvider does."""
    from roost.tree.acl import digest_id

    if ":" not in user_password:
        raise click.BadParameter("expected USER:PASSWORD", param_hint="USER:PASSWORD")
    click.echo(digest_id(user_password))


if __name__ == "__main__":
    main()
