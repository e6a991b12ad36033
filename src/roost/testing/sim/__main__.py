"""python -m roost.testing.sim --nodes 5 --seed 123 [--bug NAME] [--trace] [--count N]"""

from __future__ import annotations

import logging

import click

from .cluster import SimFailure
from .runner import run_seed


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--nodes", default=3, show_default=True, help="cluster size")
@click.option("--seed", default=0, show_default=True, help="first seed")
@click.option("--count", default=1, show_default=True, help="number of seeds from --seed")
@click.option("--bug", "bugs", multiple=True, help="planted bug to switch on")
@click.option("--trace", is_flag=True, help="print the last events of a failing run")
def main(nodes: int, seed: int, count: int, bugs: tuple[str, ...], trace: bool) -> None:
    # the replicas log what a server would (removals, membership steps): not for a run's output
    logging.getLogger("roost").setLevel(logging.ERROR)
    failures = 0
    for s in range(seed, seed + count):
        try:
            st = run_seed(nodes, s, frozenset(bugs), trace)
        except SimFailure as exc:
            failures += 1
            click.echo(str(exc))
            continue
        click.echo(
            f"seed {s} n{nodes}: ok; {st.elapsed_ms} ms simulated, {st.events} events, "
            f"{st.applied} applies, {st.terms} leaders, {st.crashes} crashes, "
            f"{st.partitions} partitions, {st.disk_errors} disk errors, "
            f"{st.conf_changes} conf changes, {st.acked} acked creates, "
            f"{st.sessions} sessions ({st.expired} expired), "
            f"{st.reads_served} reads, liveness in {st.liveness_ms} ms, {st.checks} checks"
        )
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
