"""python -m roost.testing.sim --nodes 5 --seed 123 [--minutes M] [--bug NAME] [--trace]
[--seeds N] [--jobs J] [--timing production|compressed] [--network stream|datagram]"""

from __future__ import annotations

import logging
import time

import click

from .cluster import SimCluster
from .network import DEFAULT_NETWORK, NETWORKS
from .runner import run_seeds
from .stats import SimStats
from .timing import DEFAULT as DEFAULT_TIMING
from .timing import TIMINGS


def _summary(st: SimStats) -> str:
    return (
        f"seed {st.seed} n{st.nodes}: ok; {st.elapsed_ms} ms simulated, {st.events} events, "
        f"{st.applied} applies, {st.terms} leaders, {st.crashes} crashes, "
        f"{st.partitions} partitions, {st.disk_errors} disk errors, "
        f"{st.conf_changes} conf changes, {st.acked} acked creates, "
        f"{st.sessions} sessions ({st.expired} expired), "
        f"{st.watch_events} watch events ({st.watched_replies} before their write's reply), "
        f"{st.cas} cas ({st.bad_versions} bad versions), {st.multis} multis "
        f"({st.failed_multis} failed), {st.sync_reads} sync reads, "
        f"{st.lock_grants + st.latch_grants} lock grants, "
        f"{st.reads_served} reads, {st.epochs} epochs, liveness in {st.liveness_ms} ms, "
        f"{st.checks} checks"
    )


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--nodes", default=3, show_default=True, help="cluster size")
@click.option("--seed", default=0, show_default=True, help="the seed (the first one with --seeds)")
@click.option("--seeds", "--count", "count", default=1, show_default=True,
              help="number of seeds from --seed")
@click.option("--minutes", default=0.0, show_default=True,
              help="simulated length: epochs of faults, healing and calm until then "
                   "(0: one epoch, about 5-10 simulated seconds at production timing)")
@click.option("--bug", "bugs", multiple=True, help="planted bug to switch on")
@click.option("--trace", is_flag=True,
              help="print the run's events (a failing run: its last ones, which a single "
                   "failing seed prints anyway)")
@click.option("--jobs", default=1, show_default=True,
              help="worker processes for --seeds (the runs are the same on any number)")
@click.option("--timing", default=DEFAULT_TIMING, show_default=True,
              type=click.Choice(list(TIMINGS)),
              help="time scale: production's 50 ms ticks and sessions of seconds, or the "
                   "five times faster compressed one (seeds found before 2026-12-08)")
@click.option("--network", default=DEFAULT_NETWORK, show_default=True,
              type=click.Choice(list(NETWORKS)),
              help="peer links: production's (a connection per direction, in order, lost "
                   "only by breaking) or datagrams (each message its own delay, loss and "
                   "duplicates; the only network before 2026-12-08)")
def main(nodes: int, seed: int, count: int, minutes: float, bugs: tuple[str, ...],
         trace: bool, jobs: int, timing: str, network: str) -> None:
    # the replicas log what a server would (removals, membership steps): not for a run's output
    logging.getLogger("roost").setLevel(logging.ERROR)
    if jobs < 1:
        raise click.BadParameter("must be at least 1", param_hint="--jobs")
    if trace and count == 1:  # the whole trace of one run
        cluster = SimCluster(nodes, seed, frozenset(bugs), trace=True, minutes=minutes,
                             timing=timing, network=network)
        try:
            st = cluster.run()
        except Exception:
            pass  # replayed below for the failure message
        else:
            click.echo("\n".join(cluster.trace or []))
            click.echo(_summary(st))
            raise SystemExit(0)
    failures = 0
    simulated = 0
    cpu = 0.0
    wall = time.monotonic()
    # one seed: traced, so that a failure shows its last events
    for r in run_seeds(nodes, range(seed, seed + count), frozenset(bugs), minutes, jobs,
                       trace or count == 1, timing, network):
        cpu += r.cpu_s
        if r.stats is None:
            failures += 1
            click.echo(r.failure)
            continue
        simulated += r.stats.elapsed_ms
        click.echo(_summary(r.stats))
    wall = time.monotonic() - wall
    if count > 1 and cpu > 0:
        click.echo(f"{count} seeds, {failures} failed; {simulated / 60000:.2f} simulated "
                   f"minutes in {cpu:.1f} s of CPU ({wall:.1f} s wall, {jobs} jobs): "
                   f"{simulated / 60000 / cpu:.2f} simulated minutes per CPU second")
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
