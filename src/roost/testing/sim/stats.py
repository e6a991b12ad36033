"""A run's figures (`SimStats`), a failed seed (`SimFailure`) and the command that
replays a seed."""

from __future__ import annotations

from dataclasses import dataclass

from .network import DEFAULT_NETWORK
from .timing import DEFAULT as DEFAULT_TIMING


def replay_command(nodes: int, seed: int, bugs: frozenset[str], minutes: float = 0,
                   timing: str = DEFAULT_TIMING, network: str = DEFAULT_NETWORK) -> str:
    cmd = f"python -m roost.testing.sim --nodes {nodes} --seed {seed}"
    if minutes:
        cmd += f" --minutes {minutes:g}"
    if timing != DEFAULT_TIMING:
        cmd += f" --timing {timing}"
    if network != DEFAULT_NETWORK:
        cmd += f" --network {network}"
    return cmd + "".join(f" --bug {b}" for b in sorted(bugs))


class SimFailure(AssertionError):
    """A seed failed; the message ends with the command that replays it."""


@dataclass
class SimStats:
    seed: int
    nodes: int
    elapsed_ms: int = 0
    liveness_ms: int = 0
    events: int = 0
    applied: int = 0
    terms: int = 0
    crashes: int = 0
    partitions: int = 0
    conf_changes: int = 0
    snapshots_sent: int = 0
    reads_served: int = 0
    messages: int = 0
    checks: int = 0
    disk_errors: int = 0  # failed writes and fsyncs (each stopped its member)
    acked: int = 0  # creates whose client got a reply (all checked durable at the end)
    sessions: int = 0  # sessions created by the simulated clients
    expired: int = 0  # of which expired
    lease_renewals: int = 0  # pings answered under a liveness grant (the client's lease)
    watch_events: int = 0  # watch events the clients received (each checked)
    watched_replies: int = 0  # writes whose reply came after the event they fired for their client
    watches_set: int = 0  # watches the clients' reads set
    reregistered: int = 0  # watches re-registered by setWatches after a client moved
    client_moves: int = 0  # connections the clients moved to another member
    epochs: int = 0  # storm, heal and calm rounds (one unless the run is long)
    cas: int = 0  # the clients' setData/delete with a version, answered (each checked)
    bad_versions: int = 0  # of which answered BadVersion
    multis: int = 0  # multis answered (each checked)
    failed_multis: int = 0  # of which none applied
    sync_reads: int = 0  # sync-then-reads (each checked)
    lock_grants: int = 0  # the lock recipe's grants (each checked against the others)
    replies: int = 0  # replies the clients got, each checked to be in request order
    persistent_set: int = 0  # persistent and recursive watches the clients added
    persistent_events: int = 0  # events they got (each checked: the next change, in order)
    replies_waited: int = 0  # reads and pings answered after a write queued before them
    output_held: int = 0  # times a member's gate held a connection's output
    watch_removes: int = 0  # removeWatches and checkWatches answered (each checked)
    watches_removed: int = 0  # of which removeWatches answered Ok
    reattach_held: int = 0  # reattaches a member held until a leader confirmed the session
    told_expired: int = 0  # reattaches answered "session expired"
    held_closes: int = 0  # connections a member closed after L without a grant
    sessions_lost: int = 0  # sessions a client gave up (suspended past its timeout)
    latch_grants: int = 0  # the leader latch's
    #: a session's writes that applied after one it sent later through another member
    #: (counted, not checked: checks.py `_check_session_order`)
    moved_out_of_order: int = 0
