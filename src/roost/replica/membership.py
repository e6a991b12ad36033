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
from roost.replica.member import Member
from roost.tree import DataTree, WatchEvent
from roost.wire.opcodes import EventType

#: where ZooKeeper keeps the ensemble's configuration (watchable, readable by all)
CONFIG_PATH = "/zookeeper/config"


class ReconfigError(ValueError):
    pass


class StaleConfigError(ReconfigError):
    """The reconfig named a configuration version that is no longer the current one."""


@dataclass(frozen=True)
class Change:
    add: tuple[Member, ...] = ()
    remove: tuple[int, ...] = ()
    #: the configuration version (the zxid of the change that made it, 0 for the founding
    #: one) the change was computed from; -1: any (ZooKeeper's curConfigId)
    version: int = -1

    def to_bytes(self) -> bytes:
        raw: list[object] = [
            [[m.id, m.host, m.client_port, m.peer_port, m.role] for m in self.add],
            list(self.remove),
        ]
        if self.version != -1:
            raw.append(self.version)
        out: bytes = msgpack.packb(raw)
        return out

    @classmethod
    def from_bytes(cls, raw: bytes) -> Change:
        add, remove, *rest = msgpack.unpackb(raw)
        version = int(rest[0]) if rest else -1
        return cls(tuple(Member(*m) for m in add), tuple(int(i) for i in remove), version)


def _parse_server(spec: str) -> Member:
    """`server.4=host:peerPort:electionPort[:participant|:observer];[clientHost:]clientPort`"""
    key, _, value = spec.strip().partition("=")
    try:
        sid = int(key.removeprefix("server."))
        addr, _, client = value.partition(";")
        parts = addr.split(":")
        role = "observer" if len(parts) > 3 and parts[3] == "observer" else "voter"
        return Member(sid, parts[0], int(client.rsplit(":", 1)[-1]), int(parts[1]), role)
    except (ValueError, IndexError):
        raise ReconfigError(f"cannot parse server {spec!r}") from None


def parse_zk_reconfig(
    joining: str | None,
    leaving: str | None,
    new_members: str | None = None,
    current: dict[int, Member] | None = None,
    version: int = -1,
) -> Change:
    """ZooKeeper's reconfig strings as a Change of the registry `current`.

    Incremental: joining `server.4=host:peerPort:electionPort[:role];[clientHost:]clientPort`
    (comma separated), leaving `4,5`. Non-incremental: `new_members`, the whole new list in
    the joining format (also comma separated); the change adds, removes and re-addresses
    what differs from `current`. `version` (curConfigId) is checked when the change applies.
    """
    if new_members:
        if joining or leaving:
            raise ReconfigError("newMembers cannot be combined with joining or leaving servers")
        wanted = {m.id: m for m in map(_parse_server, filter(None, new_members.split(",")))}
        now = current or {}
        changed = [sid for sid, m in now.items() if sid in wanted and wanted[sid] != m]
        add = tuple(m for sid, m in sorted(wanted.items()) if now.get(sid) != m)
        remove = tuple(sorted({sid for sid in now if sid not in wanted} | set(changed)))
        if not add and not remove:
            raise ReconfigError("the new member list is the current one")
        return Change(add, remove, version)
    joins = tuple(_parse_server(spec) for spec in filter(None, (joining or "").split(",")))
    try:
        leaves = tuple(int(x) for x in filter(None, (leaving or "").split(",")))
    except ValueError:
        raise ReconfigError(f"cannot parse leaving servers {leaving!r}") from None
    if not joins and not leaves:
        raise ReconfigError("nothing to change")
    return Change(joins, leaves, version)


def config_version(tree: DataTree) -> int:
    """The version of the configuration in `tree`: the zxid of the change that made it."""
    node = tree.get(CONFIG_PATH)
    return node.mzxid if node is not None else 0


def apply_change(
    members: dict[int, Member], change: Change, version: int = -1
) -> dict[int, Member]:
    """The registry after `change`, or ReconfigError (deterministic: same on every member);
    `version` is the current configuration's (see `config_version`)."""
    if change.version != -1 and change.version != version:
        raise StaleConfigError(
            f"the change was made for configuration 0x{change.version:x}, now 0x{version:x}"
        )
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
    """The registry in ZooKeeper's /zookeeper/config format: one
    `server.N=host:peerPort:electionPort:role;clientHost:clientPort` line per member (roost
    has one peer port: it stands for both), then `version=` and the version in hex."""
    lines = [
        f"server.{m.id}={m.host}:{m.peer_port}:{m.peer_port}:"
        f"{'participant' if m.voter else 'observer'};{m.host}:{m.client_port}"
        for m in sorted(members.values(), key=lambda m: m.id)
    ]
    return ("\n".join([*lines, f"version={version:x}"])).encode()


def parse_config(text: str) -> dict[int, Member]:
    """The members listed in /zookeeper/config's text (the inverse of `config_text`)."""
    out = {}
    for line in text.splitlines():
        if line.startswith("server."):
            m = _parse_server(line)
            out[m.id] = m
    return out


def write_config(
    tree: DataTree, members: dict[int, Member], zxid: int = 0, time_ms: int = 0
) -> list[WatchEvent]:
    """Put the registry into /zookeeper/config. At zxid 0 (the founding registry, or a tree
    from a roost that left the node empty) the node's stat is kept; a change at `zxid`
    writes it as a setData would, and returns the event for its data watches."""
    node = tree.get(CONFIG_PATH)
    if node is None:
        return []
    if not zxid:
        text = config_text(members, node.mzxid)
        tree.add_data_size(len(text) - node.data_length)
        node.data = text
        return []
    tree.set_node_data(node, config_text(members, zxid), zxid, time_ms)
    return [WatchEvent(EventType.NODE_DATA_CHANGED, CONFIG_PATH, node.acl)]


def plan(
    members: dict[int, Member],
    conf: ConfState,
    leader: int,
    caught_up: set[int],
    informed: set[int] | None = None,
) -> ConfChange | int | None:
    """The next single-server change that moves raft's `conf` towards `members`.

    Returns a ConfChange, or the id of a voter to hand leadership to (when the leader
    itself must go), or None when nothing is left to do (or nothing can be done yet). New
    voters join as learners first and are promoted once `caught_up`; a leaving member is
    taken out once `informed` (None: at once), i.e. it holds the registry change that
    removed it, so that it learns it was removed.
    """
    current = conf.voters | conf.learners
    for sid in sorted(current - set(members)):
        if sid == leader:
            others = sorted(v for v in conf.voters if v != leader and v in members)
            return others[0] if others else None
        if informed is not None and sid not in informed:
            continue
        return ConfChange(ConfChangeType.REMOVE, sid)
    for sid, m in sorted(members.items()):
        if sid not in current:
            return ConfChange(ConfChangeType.ADD_LEARNER, sid)
        if m.voter and sid in conf.learners and sid in caught_up:
            return ConfChange(ConfChangeType.ADD_VOTER, sid)
        if not m.voter and sid in conf.voters and sid != leader:
            return ConfChange(ConfChangeType.ADD_LEARNER, sid)
    return None


def refusal(
    members: dict[int, Member], conf: ConfState, version: int, peer: int
) -> int | None:
    """What a member whose registry is `members` (at configuration `version`, raft's
    configuration `conf`) answers `peer`, which asks for a link but is in neither: the
    version, to name in the refusal (the peer decides with `told_removed` whether that means
    it was removed). None when `peer` is in either (the host has not caught up yet)."""
    if peer in members or peer in conf.voters or peer in conf.learners:
        return None
    return version


def told_removed(me: int, members: dict[int, Member], mine: int, theirs: int) -> bool:
    """A member refused us: its configuration, of version `theirs`, does not have us. That
    is our removal when our own registry (at version `mine`) has us and theirs is the newer:
    configuration versions are zxids, so a peer with a newer one applied a change we have
    not, and as of that change we are no member. Not a removal: a joiner not yet added (our
    registry lacks us; the peer has not applied our addition, or we have not), or a peer that
    lags behind us (`theirs` <= `mine`: it has not applied the change that added us)."""
    return me in members and theirs > mine
