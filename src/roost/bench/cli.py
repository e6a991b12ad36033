"""`roost bench HOST:PORT[,...]` and `roost bench null-server --port P`."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Any

import click

from roost.cmd.env import CONTEXT

from .config import (
    STANDARD,
    WORKLOADS,
    Config,
    paced_workloads,
    parse_targets,
    parse_workloads,
    rate_problem,
)
from .results import Report, WorkloadResult
from .session import BenchError


class BenchGroup(click.Group):
    """A group whose default command is `run`: `roost bench HOST:PORT ...` runs the load."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=BenchGroup, context_settings=CONTEXT)
def bench() -> None:
    """Load-test a ZooKeeper-protocol server: `roost bench HOST:PORT[,...] [options]`.

    Also `roost bench null-server --port P`, a server that answers everything with OK,
    to measure the load generator's own ceiling."""


def _targets(ctx: click.Context, param: click.Parameter, value: str) -> list[tuple[str, int]]:
    try:
        return parse_targets(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def _workloads(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> list[str] | None:
    if value is None:
        return None
    try:
        return parse_workloads(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


@bench.command("run")
@click.argument("targets", callback=_targets, metavar="HOST:PORT[,...]")
@click.option(
    "--workloads",
    callback=_workloads,
    help=f"comma-separated, run in order (default: {','.join(STANDARD)}; with --rate "
    f"the same without watch-fanout and session-churn); from {', '.join(WORKLOADS)}",
)
@click.option("--processes", type=click.IntRange(1, 64), default=1, show_default=True,
              help="load-generator processes, each with its own loop and sessions")
@click.option("--clients", type=click.IntRange(1), default=4, show_default=True,
              help="sessions (connections) per process")
@click.option("--pipeline", type=click.IntRange(1), default=16, show_default=True,
              help="requests in flight per session (with --rate: the most in flight)")
@click.option("--rate", type=click.FloatRange(min=0.0, min_open=True), default=None,
              help="open loop: send requests on a fixed schedule at this many ops/s over all "
              "processes and sessions; latency from the scheduled send time")
@click.option("--ops", type=click.IntRange(1), default=10000, show_default=True,
              help="requests per workload, over all processes")
@click.option("--seconds", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              help="wall-clock cap per workload")
@click.option("--size", type=click.IntRange(0), default=1024, show_default=True,
              help="data size of the generic create/set/get/mixed workloads")
@click.option("--read-ratio", type=click.FloatRange(0.0, 1.0), default=0.9, show_default=True,
              help="reads in the generic mixed workload")
@click.option("--watchers", type=click.IntRange(1), default=1000, show_default=True,
              help="watcher sessions of watch-fanout, over all processes")
@click.option("--stall-seconds", type=float, default=30.0, show_default=True,
              help="give up when a connection gets no reply this long")
@click.option("--session-timeout", type=int, default=30000, show_default=True,
              help="requested session timeout, ms")
@click.option("--base", default=None, help="base node to create (default: a fresh name)")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--no-check", is_flag=True,
              help="do not check read data or NoNode answers (for the null server)")
@click.option("--no-uvloop", is_flag=True, help="use the default asyncio event loop")
@click.option("--json", "as_json", is_flag=True, help="print one JSON document")
def run_cmd(
    targets: list[tuple[str, int]],
    workloads: list[str] | None,
    processes: int,
    clients: int,
    pipeline: int,
    rate: float | None,
    ops: int,
    seconds: float,
    size: int,
    read_ratio: float,
    watchers: int,
    stall_seconds: float,
    session_timeout: int,
    base: str | None,
    seed: int,
    no_check: bool,
    no_uvloop: bool,
    as_json: bool,
) -> None:
    """Run the workloads against HOST:PORT[,...]; exit 1 on any error or failed check."""
    if workloads is None:
        workloads = list(STANDARD) if rate is None else paced_workloads(list(STANDARD))
    cfg = Config(
        targets=targets, processes=processes, clients=clients, pipeline=pipeline, ops=ops,
        size=size, workloads=workloads, read_ratio=read_ratio, watchers=watchers,
        max_seconds=seconds, stall_seconds=stall_seconds, session_timeout_ms=session_timeout,
        base=base, seed=seed, check=not no_check, rate=rate,
    )
    problem = rate_problem(cfg)
    if problem is not None:
        raise click.UsageError(problem)
    sys.exit(execute(cfg, as_json, not no_uvloop))


def execute(cfg: Config, as_json: bool, use_uvloop: bool = True) -> int:
    """Run, print the report; the exit status (1 on errors, failed checks or a failure)."""
    from .runner import run_bench

    show = None
    if not as_json:
        click.echo(
            f"roost bench {cfg.target_text} processes={cfg.processes} clients={cfg.clients} "
            f"pipeline={cfg.pipeline} ops={cfg.ops} watchers={cfg.watchers}"
            + ("" if cfg.rate is None else f" rate={cfg.rate:g}/s (open loop)")
        )

        def show(r: WorkloadResult) -> None:
            click.echo(r.line())

    try:
        report = run_bench(cfg, show, use_uvloop)
    except (BenchError, OSError, TimeoutError) as e:
        click.echo(f"roost bench: error: {e}", err=True)
        return 1
    if as_json:
        click.echo(json.dumps(report_dict(report), indent=2))
    else:
        click.echo(
            f"cleanup: deleted {report.cleanup_deleted} nodes and {report.base} "
            f"in {report.cleanup_seconds:.2f}s (not timed)"
        )
    for r in report.results:
        if r.failed:
            kinds = ", ".join(f"{k} x{v}" for k, v in r.error_kinds.items())
            click.echo(
                f"roost bench: {r.workload}: {r.errors} errors ({kinds}), "
                f"{r.check_failures} failed checks",
                err=True,
            )
    return 1 if report.errors else 0


def report_dict(report: Report) -> dict[str, Any]:
    d = asdict(report)
    d["errors"] = report.errors
    return d


@bench.command("null-server")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=2181, show_default=True)
@click.option("--reply-delay-ms", type=click.FloatRange(min=0.0), default=0.0,
              show_default=True, help="hold every reply back this long (a slow server)")
@click.option("--no-uvloop", is_flag=True, help="use the default asyncio event loop")
def null_server(host: str, port: int, reply_delay_ms: float, no_uvloop: bool) -> None:
    """Answer the handshake and every request with an empty OK (until interrupted)."""
    from .nullserver import serve_forever

    click.echo(f"roost bench null-server on {host}:{port}", err=True)
    try:
        serve_forever(host, port, not no_uvloop, reply_delay_ms / 1000)
    except OSError as e:
        raise click.ClickException(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
