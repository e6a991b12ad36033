"""`roost --help`, `roost --version` and `roost serve --help` import no client, server,
recipe or benchmark code (the subcommands defined elsewhere are imported when used), and the
command list `roost --help` prints from `roost.cli.LAZY` is what the commands themselves
would print."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import click
import pytest
from click.utils import make_default_short_help

from roost.cli import LAZY, cli

#: packages a cheap command must not import (each costs tens of milliseconds of CPU)
HEAVY = ("roost.client", "roost.server", "roost.recipes", "roost.bench", "roost.wire",
         "roost.tree", "roost.raft", "roost.replica", "roost.storage", "roost.http")

PROBE = """
import json, sys
from roost.cli import run
code = run(sys.argv[1:])
print(json.dumps([code, sorted(m for m in sys.modules if m.startswith("roost"))]),
      file=sys.stderr)
"""


def imported_by(*args: str) -> tuple[int, list[str]]:
    """Run `roost ARGS` in a fresh interpreter: its exit code and the roost modules loaded."""
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True,
                          text=True, timeout=60, check=False)
    code, modules = json.loads(proc.stderr.strip().splitlines()[-1])
    return code, modules


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["serve", "--help"], []])
def test_cheap_commands_import_no_heavy_module(args: list[str]) -> None:
    code, modules = imported_by(*args)
    assert code == 0
    heavy = [m for m in modules if m.startswith(HEAVY)]
    assert not heavy, heavy


def test_a_client_command_imports_its_module_when_run() -> None:
    code, modules = imported_by("get", "--help")
    assert code == 0
    assert "roost.cmd.znode" in modules and "roost.client" in modules
    assert not [m for m in modules if m.startswith(("roost.server", "roost.bench"))]


@pytest.mark.parametrize("name", sorted(LAZY))
def test_each_lazy_summary_is_the_commands_own(name: str) -> None:
    where, summary = LAZY[name]
    module, _, attribute = where.partition(":")
    command = getattr(importlib.import_module(module), attribute)
    assert isinstance(command, click.Command)
    assert command.name == name and not command.hidden and not command.short_help
    assert command.help is not None
    for limit in range(20, 200):  # every terminal width lists the same text
        assert make_default_short_help(summary, limit) == command.get_short_help_str(limit)


def test_help_lists_every_command_as_when_all_are_loaded() -> None:
    ctx = click.Context(cli, info_name="roost")
    lazy_help = cli.get_help(ctx)
    for name in cli.list_commands(ctx):
        cli.get_command(ctx, name)
    assert set(cli.commands) == set(LAZY) | {"serve", "digest"}
    assert cli.get_help(ctx) == lazy_help
