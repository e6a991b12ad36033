"""LeaderLatch: leader election with Apache Curator's LeaderLatch semantics.

Every participant keeps an ephemeral sequential node ``_c_<guid>-latch-<seq>`` (data: its
id) under the latch path. The smallest sequence leads; every other participant watches only
the node just before its own. Leadership is held until `close()` or a connection problem:

- ``lose_on="suspended"`` (Curator's standard policy): leadership ends at once when the
  connection drops (SUSPENDED). On RECONNECTED, if the session and its node survived and the
  node is still first, leadership comes back (with the same token: nobody else can have led
  in between, since nobody had a smaller node).
- ``lose_on="lost"`` (Curator 5's session policy): a dropped connection keeps leadership
  while the client's session lease (docs/client.md) has not run out; once it has,
  leadership ends, before the ensemble can have expired the session and let someone else
  lead.

LOST (session expired) always ends leadership; the latch then joins again with a new node.

    latch = LeaderLatch(zk, "/app/leader", "node-1")
    latch.add_listener(is_leader=lambda: print("leading"), not_leader=lambda: print("not"))
    await latch.start()
    if await latch.await_leadership(timeout=5):
        write(token=latch.token)
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass

from roost.client import (
    Client,
    ClientClosedError,
    ClientState,
    NoNodeError,
    StateChange,
    WatchedEvent,
)
from roost.recipes._base import (
    RETRYABLE,
    Hook,
    RecipeError,
    basename,
    cancel_and_wait,
    delete_quietly,
    join,
    new_guid,
    notify,
    protected_create,
    sort_sequential,
    wait_connected,
)
from roost.recipes.fencing import lease_valid


class CloseMode(enum.Enum):
    SILENT = "silent"  # close() does not call not_leader
    NOTIFY_LEADER = "notify_leader"  # close() calls not_leader if we were leading


@dataclass(frozen=True, slots=True)
class Participant:
    id: str
    is_leader: bool
    node: str


async def read_participants(client: Client, path: str) -> list[Participant]:
    """Participants of an election path in queue order; the first one leads."""
    try:
        kids = await client.children(path)
    except NoNodeError:
        return []
    out: list[Participant] = []
    for name in sort_sequential(kids):
        try:
            data, _ = await client.get(join(path, name))
        except NoNodeError:
            continue
        out.append(Participant((data or b"").decode("utf-8", "replace"), not out, name))
    return out


class LeaderLatch:
    """Join an election and hold leadership until closed; see the module docstring."""

    def __init__(self, client: Client, path: str, id: str = "", *,
                 close_mode: CloseMode = CloseMode.SILENT, lose_on: str = "suspended") -> None:
        if lose_on not in ("suspended", "lost"):
            raise ValueError("lose_on must be 'suspended' or 'lost'")
        self.client = client
        self.path = path.rstrip("/") or "/"
        self.id = id
        self.close_mode = close_mode
        self.lose_on = lose_on
        self._prefix = f"_c_{new_guid()}-latch-"
        self.node: str | None = None
        self.token: int | None = None
        self._leader = False
        self._leader_event = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lease_timer: asyncio.TimerHandle | None = None
        self._listeners: list[tuple[Hook | None, Hook | None]] = []
        self._closed = False

    # --- public API ---------------------------------------------------------------------
    def add_listener(self, is_leader: Hook | None = None, not_leader: Hook | None = None) -> None:
        """Call ``is_leader()`` / ``not_leader()`` on every change of leadership, in order."""
        self._listeners.append((is_leader, not_leader))

    async def start(self) -> None:
        """Join the election (returns once the node exists; leadership may come later)."""
        if self._task is not None:
            raise RecipeError("latch already started")
        self._loop = asyncio.get_running_loop()
        self.client.add_listener(self._on_state)
        await wait_connected(self.client)
        self.node = await protected_create(self.client, self.path, self._prefix, self.id.encode())
        stat = await self.client.exists(self.node)
        self.token = stat.czxid if stat is not None else None
        self._task = asyncio.get_running_loop().create_task(self._run(), name="roost-latch")

    async def close(self, close_mode: CloseMode | None = None) -> None:
        """Leave the election: delete our node; notify per ``close_mode``."""
        if self._closed:
            return
        self._closed = True
        self.client.remove_listener(self._on_state)
        self._cancel_lease_timer()
        self._wake.set()  # the loop sees _closed at once, even if a cancellation is lost
        await cancel_and_wait(self._task)
        notify_close = (close_mode or self.close_mode) is CloseMode.NOTIFY_LEADER
        self._set_leader(False, quiet=not notify_close)
        if self.node is not None and self.client.state is not ClientState.CLOSED:
            await delete_quietly(self.client, self.node)
        self.node = None

    def has_leadership(self) -> bool:
        """True while leading and the session is certainly alive (its lease,
        docs/client.md, has not run out)."""
        if not self._leader:
            return False
        loop = self._loop
        return loop is None or lease_valid(self.client, loop)

    async def await_leadership(self, timeout: float | None = None) -> bool:
        """Wait until we lead; False if ``timeout`` passes (or the latch closes) first."""
        if self._closed:
            return False
        try:
            await asyncio.wait_for(self._leader_event.wait(), timeout)
        except TimeoutError:
            return False
        return self._leader

    async def participants(self) -> list[Participant]:
        return await read_participants(self.client, self.path)

    async def leader(self) -> Participant | None:
        parts = await self.participants()
        return parts[0] if parts else None

    # --- state ---------------------------------------------------------------------------
    def _set_leader(self, value: bool, quiet: bool = False) -> None:
        if value == self._leader:
            return
        self._leader = value
        if value:
            self._leader_event.set()
        else:
            self._leader_event.clear()
        if quiet:
            return
        for is_leader, not_leader in self._listeners:
            notify(self.client, is_leader if value else not_leader)

    async def _on_state(self, change: StateChange) -> None:
        if self._closed:
            return
        if change.state is ClientState.SUSPENDED:
            if self.lose_on == "suspended":
                self._set_leader(False)
            else:
                self._arm_lease_timer()
        elif change.state is ClientState.LOST:
            self._cancel_lease_timer()
            self._set_leader(False)
        elif change.state.is_writable:  # CONNECTED or RECONNECTED
            self._cancel_lease_timer()
            self._wake.set()

    def _arm_lease_timer(self) -> None:
        self._cancel_lease_timer()
        loop = asyncio.get_running_loop()
        # the lease already allows for clock-rate differences (docs/client.md)
        self._lease_timer = loop.call_at(self.client.lease_deadline, self._lease_ran_out)

    def _cancel_lease_timer(self) -> None:
        if self._lease_timer is not None:
            self._lease_timer.cancel()
            self._lease_timer = None

    def _lease_ran_out(self) -> None:
        self._lease_timer = None
        if not self.client.state.is_writable:
            self._set_leader(False)

    # --- the election loop ---------------------------------------------------------------
    async def _run(self) -> None:
        while not self._closed:
            self._wake.clear()
            try:
                await self._step()
            except ClientClosedError:
                return
            except RETRYABLE as e:
                await wait_connected(self.client, after=e)
            except NoNodeError:
                self.node = None  # the latch path itself was removed: join again

    async def _step(self) -> None:
        """Make sure we have a node, then lead or wait on our predecessor."""
        client = self.client
        await wait_connected(client)
        if self.node is None:
            self.node = await protected_create(client, self.path, self._prefix, self.id.encode())
            stat = await client.exists(self.node)
            self.token = stat.czxid if stat is not None else None
        kids = sort_sequential(await client.children(self.path))
        name = basename(self.node)
        if name not in kids:
            self._set_leader(False)
            self.node = None  # our session expired and took the node with it
            return
        index = kids.index(name)
        if index == 0:
            if client.state.is_writable and self.token is not None:
                self._set_leader(True)
            watched = self.node  # wake if our own node is deleted under us
        else:
            self._set_leader(False)
            watched = join(self.path, kids[index - 1])
        # One callback object per latch: the client keeps it once per path, however often
        # we come back here (after reconnects), and any firing just means "look again".
        if await client.exists(watched, watch=self._on_watch) is not None and not self._closed:
            await self._wake.wait()

    async def _on_watch(self, _: WatchedEvent) -> None:
        self._wake.set()


__all__ = ["CloseMode", "LeaderLatch", "Participant", "read_participants"]
