"""`roost member add|remove`: change a running ensemble's membership (ZooKeeper's reconfig).

The change itself is one write of the member registry (/zookeeper/config), acknowledged as
soon as it commits; the leader then moves raft's configuration towards it one server at a
time (a joiner first as a non-voting learner, promoted once caught up; several removals one
after the other). The command then follows that work on the leader (`mntr`'s
``raft_follower_<id>_*`` rows) and reports each step on stderr until it is done, or fails
after ``--wait`` seconds.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import click

from roost.client.client import Client
from roost.cluster import member_status
from roost.cmd.env import CONTEXT, server_value
from roost.replica.member import Member
from roost.replica.membership import parse_config
from roost.wire.errors import KeeperError
from roost.wire.opcodes import Op
from roost.wire.records import GetDataResponse, ReconfigRequest

#: a learner this close to the leader's log is promoted (the leader's own rule)
CAUGHT_UP = 100
#: ``member 4: receiving the leader's snapshot``: how often a step's figures are repeated
REPEAT_S = 2.0


async def reconfig(hosts: str, joining: str | None, leaving: str | None,
                   auth: tuple[str, ...]) -> str:
    creds = [("digest", a) for a in auth]
    client = Client(hosts, auth=creds)
    await client.start(15.0, fail_fast=True)  # a refused connection fails at once
    try:
        rec = await client.conn.request(Op.RECONFIG,
                                        ReconfigRequest(joining, leaving, None, -1), "")
    finally:
        await client.close()
    assert isinstance(rec, GetDataResponse) and rec.data is not None
    return rec.data.decode()


@dataclass(frozen=True)
class Step:
    """Where one member's change stands, as the leader sees it."""

    text: str
    done: bool = False
    #: figures that change within the step (repeated at most every REPEAT_S)
    detail: str = ""


def leader_of(members: dict[int, Member], first: int | None = None,
              status: Callable[[str, int], dict[str, str]] = member_status
              ) -> tuple[int, dict[str, str]] | None:
    """The member that leads, with its srvr+mntr rows (None while none does)."""
    order = sorted(members, key=lambda i: (i != first, i))
    for sid in order:
        m = members[sid]
        st = status(m.host, m.client_port)
        if st.get("mode") == "leader":
            return sid, st
    return None


def joining_step(sid: int, voter: bool, lead: tuple[int, dict[str, str]] | None,
                 own: dict[str, str]) -> Step:
    """How far joiner `sid` got: the leader's progress rows, then its own srvr."""
    if lead is None:
        return Step("no leader among the members yet")
    _lid, st = lead
    state = st.get(f"raft_follower_{sid}_state")
    if state is None:
        return Step("in the member list; the leader has not started replicating to it yet")
    if state == "probe":
        return Step("waiting for it to answer the leader (is it running, with join = true "
                    "and this member list?)")
    if state == "snapshot":
        return Step("receiving the leader's snapshot")
    lag = int(st.get(f"raft_follower_{sid}_lag", "0"))
    if voter and st.get(f"raft_follower_{sid}_voter") != "1":
        return Step("catching up with the leader's log (non-voting until it has)",
                    detail=f"{lag} entries behind")
    if not voter and lag > CAUGHT_UP:
        return Step("catching up with the leader's log", detail=f"{lag} entries behind")
    role = "follower" if voter else "observer"
    if own.get("mode") != role:
        return Step(f"caught up; waiting for it to serve clients as {role}")
    return Step(f"caught up and serving as {role}" + (" (a voter)" if voter else ""),
                done=True)


def leaving_step(sid: int, lead: tuple[int, dict[str, str]] | None) -> Step:
    if lead is None:
        return Step("no leader among the remaining members yet")
    _lid, st = lead
    if f"raft_follower_{sid}_state" in st:
        return Step("out of the member list; waiting for the leader to take it out of "
                    "the vote")
    return Step("out of the ensemble: stop its process", done=True)


def follow(members: dict[int, Member], joining: dict[int, Member], leaving: list[int],
           wait_s: float, say: Callable[[str], None],
           status: Callable[[str, int], dict[str, str]] = member_status,
           clock: Callable[[], float] = time.monotonic,
           sleep: Callable[[float], None] = time.sleep) -> bool:
    """Report every member's step as it changes until all are done (True) or `wait_s`
    passed (False, after saying where each one stands)."""
    deadline = clock() + wait_s
    said: dict[int, tuple[str, str, float]] = {}
    lid: int | None = None
    while True:
        lead = leader_of(members, lid, status)
        lid = lead[0] if lead is not None else None
        steps = {sid: joining_step(sid, m.voter, lead, status(m.host, m.client_port))
                 for sid, m in joining.items()}
        steps.update({sid: leaving_step(sid, lead) for sid in leaving})
        now = clock()
        for sid, step in sorted(steps.items()):
            text, detail, at = said.get(sid, ("", "", 0.0))
            if step.text != text or (step.detail != detail and now - at >= REPEAT_S):
                say(f"member {sid}: {step.text}" + (f": {step.detail}" if step.detail else ""))
                said[sid] = (step.text, step.detail, now)
        if all(s.done for s in steps.values()):
            return True
        if now >= deadline:
            for sid, step in sorted(steps.items()):
                if not step.done:
                    say(f"member {sid}: not done after {wait_s:g} s: {step.text}")
            return False
        sleep(0.2)


def _run(hosts: str, joining: str | None, leaving: str | None, auth: tuple[str, ...],
         wait_s: float) -> None:
    try:
        text = asyncio.run(reconfig(hosts, joining, leaving, auth))
    except KeeperError as e:
        click.echo(f"roost member: {e}", err=True)
        sys.exit(1)
    except OSError as e:
        click.echo(f"roost member: cannot reach {hosts}: {e}", err=True)
        sys.exit(1)
    click.echo(text)
    if wait_s <= 0:
        return
    members = parse_config(text)
    joined = {sid: members[sid] for sid in parse_config((joining or "").replace(",", "\n"))
              if sid in members}
    left = [int(x) for x in (leaving or "").split(",") if x]

    def say(line: str) -> None:
        click.echo(line, err=True)

    if not follow(members, joined, left, wait_s, say):
        sys.exit(1)


@click.group(context_settings=CONTEXT)
def member() -> None:
    """Add or remove ensemble members while clients keep working."""


_servers = click.option("--server", "hosts", envvar="ROOST_SERVER", default="127.0.0.1:2181",
                        show_default=True, callback=server_value,
                        help="any member(s) of the ensemble")
_auth = click.option("--auth", multiple=True, metavar="USER:PASSWORD",
                     help="digest identity with WRITE on /zookeeper/config (e.g. super)")
_wait = click.option("--wait", "wait_s", type=float, default=120.0, show_default=True,
                     help="follow the change until it is done, reporting each step on "
                     "stderr; exit 1 if it is not done in this many seconds (0: do not "
                     "follow)")


@member.command()
@click.argument("member_id", type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--client-port", type=int, required=True)
@click.option("--peer-port", type=int, required=True)
@click.option("--observer", is_flag=True, help="a non-voting member")
@_servers
@_auth
@_wait
def add(member_id: int, host: str, client_port: int, peer_port: int, observer: bool,
        hosts: str, auth: tuple[str, ...], wait_s: float) -> None:
    """Add MEMBER_ID (start it first, with `join = true` and the full member list).

    Prints the new member list, then follows the new member on the leader: contact,
    snapshot, log catch-up, promotion to voter, serving clients."""
    role = "observer" if observer else "participant"
    spec = f"server.{member_id}={host}:{peer_port}:{peer_port}:{role};{host}:{client_port}"
    _run(hosts, spec, None, auth, wait_s)


@member.command()
@click.argument("member_ids", type=int, nargs=-1, required=True)
@_servers
@_auth
@_wait
def remove(member_ids: tuple[int, ...], hosts: str, auth: tuple[str, ...],
           wait_s: float) -> None:
    """Remove members (a leader being removed hands leadership over first).

    Several ids make one change of the member list; the leader then takes them out of the
    vote one at a time. Prints the new member list, then follows until each one is out."""
    _run(hosts, None, ",".join(str(i) for i in member_ids), auth, wait_s)
