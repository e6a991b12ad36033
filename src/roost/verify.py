"""`roost verify`: run the nemesis harness against a local ensemble and print a verdict."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

import click

from roost.cmd.env import CONTEXT


@click.command(context_settings=CONTEXT)
@click.option("--members", type=click.IntRange(3, 9), default=3, show_default=True,
              help="ensemble size (separate processes on 127.0.0.1)")
@click.option("--seconds", type=click.FloatRange(1, 3600), default=60, show_default=True,
              help="how long the clients run under faults")
@click.option("--seed", type=int, default=1, show_default=True,
              help="seeds the fault schedule and the clients' operations")
@click.option("--nemesis", "kinds", default="kill,pause,partition", show_default=True,
              help="comma-separated fault kinds: kill, pause, partition, slowdisk, clock")
@click.option("--clients", type=click.IntRange(1, 32), default=4, show_default=True)
@click.option("--lock-clients", type=click.IntRange(0, 32), default=4, show_default=True,
              help="clients contending for a Lock and a LeaderLatch with fencing tokens")
@click.option("--keys", type=click.IntRange(1, 100), default=5, show_default=True)
@click.option("--runs", type=click.IntRange(1, 10_000), default=1, show_default=True,
              help="repeat with seeds SEED, SEED+1, ...")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="keep each history (and a violation's timeline) in this directory")
@click.option("--show-faults", is_flag=True, help="list every injected fault after a run")
@click.option("--unsafe-skip-read-barrier", is_flag=True,
              help="run the deliberately broken build option (the harness must fail)")
def verify(members: int, seconds: float, seed: int, kinds: str, clients: int,
           lock_clients: int, keys: int, runs: int, out_dir: Path | None, show_faults: bool,
           unsafe_skip_read_barrier: bool) -> None:
    """Run clients against an ensemble under seeded faults and check the results."""
    logging.basicConfig(level=logging.ERROR)
    # stop cleanly (members stopped, temp dirs removed) on SIGTERM, and on SIGINT even when
    # started in the background
    old = {sig: signal.signal(sig, _exit_on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        _verify(members, seconds, seed, kinds, clients, lock_clients, keys, runs, out_dir,
                show_faults, unsafe_skip_read_barrier)
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _verify(members: int, seconds: float, seed: int, kinds: str, clients: int,
            lock_clients: int, keys: int, runs: int, out_dir: Path | None,
            show_faults: bool, unsafe_skip_read_barrier: bool) -> None:
    from roost.testing.nemesis import VerifyConfig, parse_kinds, run

    try:
        nemesis = parse_kinds(kinds)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--nemesis") from e
    server = {"unsafe_skip_read_barrier": True} if unsafe_skip_read_barrier else {}
    failed = 0
    totals = {"ops": 0, "faults": 0, "anomalies": 0}
    try:
        for n in range(runs):
            config = VerifyConfig(members=members, seconds=seconds, seed=seed + n,
                                  nemesis=nemesis, clients=clients, keys=keys,
                                  lock_clients=lock_clients, server=server, out_dir=out_dir)
            try:
                result = run(config)
            except Exception as e:  # the harness could not finish this run: say so, go on
                click.echo(f"seed {seed + n}: harness error {type(e).__name__}: {e}\n"
                           "VERDICT: FAIL")
                failed += 1
                continue
            click.echo(result.summary())
            if show_faults:
                click.echo("\n".join(f"  fault: {line}" for line in result.journal))
            failed += not result.ok
            totals["ops"] += sum(result.ops.values()) + result.acked_appends
            totals["faults"] += sum(result.faults.values())
            totals["anomalies"] += result.anomalies
    except (SystemExit, KeyboardInterrupt):
        # the ensemble of the current run is stopped by now; client threads may linger
        click.echo("roost verify: interrupted", err=True)
        sys.stdout.flush()
        os._exit(130)
    if runs > 1:
        click.echo(f"{runs} runs: {totals['ops']} operations, {totals['faults']} faults, "
                   f"{totals['anomalies']} anomalies, {failed} failed runs")
    sys.exit(1 if failed else 0)


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)
