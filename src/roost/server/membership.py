"""The ensemble's member registry: replicated addresses and roles of every member.

Raft's configuration only knows member ids; how to reach a member (and whether it
should vote) lives here, changed by RECONFIG txns so every member learns the same
thing at the same zxid. The leader then moves raft's configuration towards the
registry one single-server change at a time (`plan`).
"""

from __future__ import annotations

from dataclasses import dataclass

import msgpack

from roost.raft import ConfChange, ConfChangeType, ConfState
from roost.server.config import Member


class ReconfigError(ValueError):
    pass


@dataclass(frozen=True)
class Change:
    add: tuple[Member, ...] = ()
    remove: tuple[int, ...] = ()

    def to_bytes(self) -> bytes:
        out: bytes = msgpack.packb(
            [
                [[m.id, m.host, m.client_port, m.peer_port, m.role] for m in self.add],
                list(self.remove),
            ]
        )
        return out

    @classmethod
    def from_bytes(cls, raw: bytes) -> Change:
        add, remove = msgpack.unpackb(raw)
        return cls(tuple(Member(*m) for m in add), tuple(int(i) for i in remove))


def parse_zk_reconfig(joining: str | None, leaving: str | None) -> Change:
    """ZooKeeper's incremental reconfig strings: joining
    `server.4=host:peerPort:electionPort[:participant|:observer];[clientHost:]clientPort`
    (comma separated), leaving `4,5`."""
    add = []
    for spec in filter(None, (joining or "").split(",")):
        key, _, value = spec.strip().partition("=")
        try:
            sid = int(key.removeprefix("server."))
            addr, _, client = value.partition(";")
            parts = addr.split(":")
            role = "observer" if len(parts) > 3 and parts[3] == "observer" else "voter"
            member = Member(sid, parts[0], int(client.rsplit(":", 1)[-1]), int(parts[1]), role)
        except (ValueError, IndexError):
            raise ReconfigError(f"cannot parse joining server {spec!r}") from None
        add.append(member)
    try:
        remove = tuple(int(x) for x in filter(None, (leaving or "").split(",")))
    except ValueError:
        raise ReconfigError(f"cannot parse leaving servers {leaving!r}") from None
    if not add and not remove:
        raise ReconfigError("nothing to change (non-incremental reconfig is not supported)")
    return Change(tuple(add), remove)


def apply_change(members: dict[int, Member], change: Change) -> dict[int, Member]:
    """The registry after `change`, or ReconfigError (deterministic: same on every member)."""
    out = dict(members)
    for sid in change.remove:
        if sid not in out:
            raise ReconfigError(f"server {sid} is not a member")
        del out[sid]
    for m in change.add:
        if m.id in out and out[m.id] != m:
            raise ReconfigError(f"server {m.id} is already a member with another address")
        if not 1 <= m.id <= 255:
            raise ReconfigError(f"server id {m.id} out of range 1..255")
        out[m.id] = m
    if not any(m.voter for m in out.values()):
        raise ReconfigError("the change would leave no voter")
    return out


def config_text(members: dict[int, Member], version: int) -> bytes:
    """The registry in ZooKeeper's /zookeeper/config format."""
    lines = [
        f"server.{m.id}={m.host}:{m.peer_port}:{m.peer_port}:"
        f"{'participant' if m.voter else 'observer'};{m.host}:{m.client_port}"
        for m in sorted(members.values(), key=lambda m: m.id)
    ]
    return ("\n".join([*lines, f"version={version:x}"])).encode()


def plan(
    members: dict[int, Member], conf: ConfState, leader: int, caught_up: set[int]
) -> ConfChange | int | None:
    """The next single-server change that moves raft's `conf` towards `members`.

    Returns a ConfChange, or the id of a voter to hand leadership to (when the leader
    itself must go), or None when nothing is left to do. New voters join as learners
    first and are promoted once `caught_up`.
    """
    current = conf.voters | conf.learners
    for sid in sorted(current - set(members)):
        if sid == leader:
            others = sorted(v for v in conf.voters if v != leader and v in members)
            return others[0] if others else None
        return ConfChange(ConfChangeType.REMOVE, sid)
    for sid, m in sorted(members.items()):
        if sid not in current:
            return ConfChange(ConfChangeType.ADD_LEARNER, sid)
        if m.voter and sid in conf.learners and sid in caught_up:
            return ConfChange(ConfChangeType.ADD_VOTER, sid)
        if not m.voter and sid in conf.voters and sid != leader:
            return ConfChange(ConfChangeType.ADD_LEARNER, sid)
    return None
