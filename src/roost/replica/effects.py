"""What a `ReplicaCore` asks its host to do: its outputs, as values.

Each input of the core (propose, resend_all, barrier, receive, tick, peer_up, refused,
ready, early, persisted, advance, settle, unsent, fence) appends its effects to the core's
outbox in the order it decides them; the host takes them after the input
(`ReplicaCore.take_effects`) and performs them in that order before its next input. An
effect can make the host call the core again (a reply whose client sends its next request
at once): it takes the effects of that call first, as it would for any input.

The records are slotted and carry only what the host needs: `Send` is one message on a
peer channel, `Messages` one batch of raft's (one record per batch, not per message).
A `Send` the host could not queue (no link to that member now, its queue full) goes back
to the core as an input, `ReplicaCore.unsent`: the core keeps what it would have kept
had it known (a liveness report to send again, a member not yet told).

Not here, on purpose: what happens *while* committed entries apply. `ReplicaState`
calls its `applied` sink (watches, session table) and then the proposal's `done` (the
client's reply) for each txn as it applies it (roost.replica.order), and `on_members`
when an applied reconfig changed the registry. Those calls see the tree as of that txn's
zxid (the server's event history records the tree's time and nodes as of that txn, the
simulator checks each txn's time against the node it stamped), and a batch of entries
interleaves one txn's reply with the next txn's watch events in zxid order; as values
taken after the batch, they would see the tree of its last entry and put every event
before every reply. A reply the core itself decides (no leader and no room, a timeout:
`LOST`) is an effect (`Reply`), handed the proposal's `done` back.
"""

from __future__ import annotations

from dataclasses import dataclass

from roost.raft import Message, Role
from roost.replica.log import Done
from roost.tree.txn import TxnResult


@dataclass(slots=True)
class Send:
    """Queue `payload` for member `to` on peer channel `channel` (not raft's)."""

    to: int
    channel: int
    payload: bytes


@dataclass(slots=True)
class Messages:
    """Send raft's messages (channel 0; `Message.to` names each one's member)."""

    messages: tuple[Message, ...]


@dataclass(slots=True)
class RoleChanged:
    """This member's raft role or known leader changed (after the core's own work for it:
    proposals resent to the new leader, the grants word sent)."""

    role: Role
    leader: int


@dataclass(slots=True)
class Reset:
    """A leader's snapshot replaced the state (tree, dedupe marks, member registry): the
    host follows the registry (its peers), takes the snapshot's event history and drops
    its clients' connections (their watches may have missed changes). Comes before the
    entries after the snapshot apply (their `applied` calls)."""


@dataclass(slots=True)
class DropPeers:
    """This member is no longer in the ensemble: stop talking to the others."""


@dataclass(slots=True)
class Granted:
    """This member may answer these sessions now (a leader's liveness grant, or the
    leader does not gate): answer what waited for one."""

    sids: list[int]


@dataclass(slots=True)
class ReadReady:
    """The read barrier named `ctx` passed: everything committed before it is applied."""

    ctx: bytes


@dataclass(slots=True)
class ReadTimedOut:
    """The read barrier named `ctx` gave up (the request timeout, or storage failed)."""

    ctx: bytes


@dataclass(slots=True)
class Reply:
    """Answer a proposal whose outcome the core decided: `done(zxid, result)`."""

    done: Done
    zxid: int
    result: TxnResult


Effect = (
    Send | Messages | RoleChanged | Reset | DropPeers | Granted | ReadReady | ReadTimedOut | Reply
)

#: the field-less effects (one instance each: nothing to allocate)
RESET = Reset()
DROP_PEERS = DropPeers()
