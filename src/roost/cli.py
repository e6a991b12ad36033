"""The `roost` command."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from roost.server.config import ConfigError, ServerConfig, load_toml, load_zoo_cfg


@click.group()
@click.version_option(package_name="roost")
def main() -> None:
    """roost: a coordination service speaking the ZooKeeper protocol."""


@main.command()
@click.option(
    "--config", "config_path", type=click.Path(path_type=Path), help="roost.toml configuration file"
)
@click.option(
    "--zoo-cfg",
    "zoo_cfg",
    type=click.Path(path_type=Path),
    help="read ZooKeeper's zoo.cfg keys that apply",
)
@click.option("--host", default=None, help="address to listen on (default 127.0.0.1)")
@click.option("--port", type=int, default=None, help="client port (default 2181)")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="data directory (default ./roost-data)",
)
@click.option(
    "--http-port",
    type=int,
    default=None,
    help="HTTP API, metrics and dashboard (default: 8500 without a config file, else off)",
)
@click.option("--no-http", is_flag=True, help="no HTTP API")
@click.option("--log-level", default="INFO", show_default=True)
def serve(
    config_path: Path | None,
    zoo_cfg: Path | None,
    host: str | None,
    port: int | None,
    data_dir: Path | None,
    http_port: int | None,
    no_http: bool,
    log_level: str,
) -> None:
    """Run a server: standalone, or an ensemble member when the config lists members.

    With no config file this is the development default: clients on 127.0.0.1:2181, data
    in ./roost-data, the HTTP API and dashboard on 127.0.0.1:8500."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        cfg = ServerConfig()
        if zoo_cfg is not None:
            cfg = load_zoo_cfg(zoo_cfg, cfg)
        if config_path is not None:
            cfg = load_toml(config_path, cfg)
        overrides: dict[str, object] = {
            k: v
            for k, v in (("host", host), ("port", port), ("data_dir", data_dir))
            if v is not None
        }
        if no_http:
            overrides["http_port"] = None
        elif http_port is not None:
            overrides["http_port"] = http_port
        elif config_path is None and zoo_cfg is None:
            overrides["http_port"] = 8500  # the development default
        cfg = cfg.replace(**overrides)
    except ConfigError as e:
        click.echo(f"roost: bad configuration: {e}", err=True)
        sys.exit(2)
    from roost.node import run_server
    from roost.storage import StorageError

    try:
        run_server(cfg)
    except StorageError as e:
        click.echo(f"roost: cannot start: {e}", err=True)
        sys.exit(1)
    except ConfigError as e:
        click.echo(f"roost: bad configuration: {e}", err=True)
        sys.exit(2)
    except OSError as e:
        click.echo(f"roost: cannot start: {e}", err=True)
        sys.exit(1)


from roost.cluster import cluster as _cluster  # noqa: E402

main.add_command(_cluster)

from roost.member import member as _member  # noqa: E402

main.add_command(_member)


# `roost shell` and the one-shot client commands: get, set, ls, create, delete, stat.
from roost.shell import register as _register_shell  # noqa: E402

_register_shell(main)

from roost.verify import verify as _verify  # noqa: E402

main.add_command(_verify)

from roost.bench.cli import bench as _bench  # noqa: E402

main.add_command(_bench)


if __name__ == "__main__":
    main()
