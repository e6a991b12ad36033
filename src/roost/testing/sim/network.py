"""The simulated network, in one of two modes (`NETWORKS`):

- `stream` (the default), production's peer links (roost.server.peers): one connection per
  direction between two started members, in order (a message is delivered no earlier than
  the one sent before it on that connection: a slow one stalls those behind it). What
  production sees as loss is a broken connection: what is in flight on it is lost, both
  ends are told the peer is down (`link_changed`), a send on a link that is down is
  refused (the host's `unsent`), and the sender dials again (at once after a connection
  that lived `stable` ms, else backed off as `PeerTransport._dial_loop` does); when it is
  up both ends are told. A partition breaks the connections it cuts and no dial crosses
  it until it heals; a member that stops (crash, removal) breaks its connections, and
  they come up again when it restarts. So messages are duplicated or reordered only by
  the layers above (a resend after a leader change or a reconnect). `StreamNetwork`.
- `datagram`: every message its own delay (so messages on a link overtake each other),
  lost or duplicated on its own, partitions dropping what they cut; the members are never
  told of a link's state. Raft must tolerate it (`SimNetwork`; the simulator's only
  network until 2026-12-08: seeds found before replay with `--network datagram`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass
class LinkFaults:
    loss: float = 0.0  # probability a message vanishes
    dup: float = 0.0  # probability a message is delivered twice
    max_delay: int = 5  # normal delay is uniform in [1, max_delay] ms
    slow: float = 0.0  # probability of an extra long delay (reordering)
    slow_min: int = 20  # the long delay is uniform in [slow_min, slow_delay] ms
    slow_delay: int = 200


def randint(rng: random.Random, a: int, b: int) -> int:
    """`rng.randint(a, b)`, draw for draw (CPython's: `getrandbits` of the width's bit
    length until one is below the width), without its argument checks and three calls:
    the simulator draws one per message (tests/raft/test_sim_draws.py checks the two
    agree)."""
    n = b - a + 1
    k = n.bit_length()
    getrandbits = rng.getrandbits
    r = getrandbits(k)
    while r >= n:
        r = getrandbits(k)
    return a + r


class SimNetwork:
    #: the `stream` network's: messages go through `post`, not `delays`
    streams = False

    def __init__(self, rng: random.Random, faults: LinkFaults) -> None:
        self.rng = rng
        self.faults = faults
        self.blocked: set[tuple[int, int]] = set()  # directed (from, to) links that drop
        self.sent = 0
        self.dropped = 0

    def delays(self, frm: int, to: int) -> list[int]:
        """Delivery delays for one message: [] if lost, two if duplicated."""
        self.sent += 1
        f = self.faults
        rng = self.rng
        if (frm, to) in self.blocked or (f.loss and rng.random() < f.loss):
            self.dropped += 1
            return []
        d = randint(rng, 1, f.max_delay)
        if f.slow and rng.random() < f.slow:
            d += randint(rng, f.slow_min, f.slow_delay)
        if f.dup and rng.random() < f.dup:
            return [d, self._delay()]
        return [d]

    # -- the stream network's (see StreamNetwork) --
    def post(self, frm: int, to: int, msg: object) -> bool:
        raise NotImplementedError("the datagram network sends through delays()")

    def deliverable(self, frm: int, to: int, gen: int) -> bool:
        raise NotImplementedError

    def on_link(self, arg: tuple[tuple[int, int], int, bool]) -> None:
        raise NotImplementedError

    def started(self, nid: int, others: list[int]) -> None:
        raise NotImplementedError

    def stopped(self, nid: int) -> None:
        raise NotImplementedError

    def _delay(self) -> int:
        f = self.faults
        d = randint(self.rng, 1, f.max_delay)
        if f.slow and self.rng.random() < f.slow:
            d += randint(self.rng, f.slow_min, f.slow_delay)
        return d

    # -- partitions --
    def heal(self) -> None:
        self.blocked.clear()

    def split(self, a: list[int], b: list[int], one_way: bool = False) -> None:
        """Cut every link from a to b (and b to a unless one_way)."""
        for x in a:
            for y in b:
                self.blocked.add((x, y))
                if not one_way:
                    self.blocked.add((y, x))

    def bridge(self, a: list[int], bridge: int, b: list[int]) -> None:
        """a and b cannot talk to each other; both still reach the bridge node."""
        self.split([x for x in a if x != bridge], [y for y in b if y != bridge])


NETWORKS = ("stream", "datagram")
DEFAULT_NETWORK = "stream"
#: a connection breaks, in the stream network, at a message with this share of the
#: profile's per-message loss rate (0.1-1.5 % of messages at loss 1-15 %)
BREAK_SHARE = 0.1
#: a link's states: carrying messages; broken and not noticed yet (what is sent on it is
#: lost); down (a send is refused)
UP, DEAD, DOWN = 0, 1, 2


class LinkHost(Protocol):
    """What the stream network asks of the run (cluster.py's `SimCluster`)."""

    now: int

    def schedule(self, delay: int, kind: int, arg: Any = None) -> None: ...

    def link_started(self, nid: int) -> bool: ...

    def link_changed(self, viewer: int, peer: int, up: bool) -> None: ...


@dataclass(slots=True)
class Link:
    """One direction's connection between two members (the sender dials it)."""

    #: the connection's number: a message of an older one is not delivered
    gen: int = 0
    state: int = DOWN
    #: the time the connection's last message is delivered at (the next one no earlier)
    last: int = 0
    born: int = 0
    down_since: int = 0
    #: connections in a row that broke younger than `stable` (production's backoff)
    flaps: int = 0
    #: a dial is under way (a LINK event will bring the link up)
    dialing: bool = False


class StreamNetwork(SimNetwork):
    """Production's peer links (see the module). Events: STREAM (a message on a link's
    connection: `deliverable`), LINK (a break noticed, a dial completed: `on_link`)."""

    streams = True

    def __init__(self, rng: random.Random, faults: LinkFaults, host: LinkHost,
                 stream: int, link: int, stable: int, backoff: tuple[int, int]) -> None:
        super().__init__(rng, faults)
        self.host = host
        self.stream_kind, self.link_kind = stream, link
        #: a connection that lived this long (ms) is dialed again at once when it breaks;
        #: else after a backoff in `backoff` (ms), doubling per young connection
        self.stable = stable
        self.backoff = backoff
        self.links: dict[tuple[int, int], Link] = {}
        #: (viewer, peer): the viewer was last told its peer is up
        self.seen: set[tuple[int, int]] = set()
        self.breaks = 0

    # -- sending --
    def post(self, frm: int, to: int, msg: object) -> bool:
        """Send `msg` on the link; False if the link is down (production's `send`
        refuses it, and the host calls the core's `unsent`)."""
        link = self.links.get((frm, to))
        self.sent += 1
        if link is None or link.state == DOWN:
            self.dropped += 1
            return False
        if link.state == DEAD:  # queued on a connection that broke: gone
            self.dropped += 1
            return True
        f = self.faults
        rng = self.rng
        if f.loss and rng.random() < f.loss * BREAK_SHARE:
            self.dropped += 1
            self._break((frm, to), link)
            return True
        d = randint(rng, 1, f.max_delay)
        if f.slow and rng.random() < f.slow:
            d += randint(rng, f.slow_min, f.slow_delay)
        host = self.host
        at = host.now + d
        if at < link.last:
            at = link.last  # (behind the one before it: same time, later in the heap)
        link.last = at
        host.schedule(at - host.now, self.stream_kind, (frm, to, link.gen, msg))
        return True

    def deliverable(self, frm: int, to: int, gen: int) -> bool:
        """A message of connection `gen` arrives: False if that connection broke."""
        link = self.links.get((frm, to))
        return link is not None and link.gen == gen and link.state == UP

    # -- connections --
    def _break(self, key: tuple[int, int], link: Link) -> None:
        """The connection breaks now: what is in flight is lost; both ends notice it a
        hop later."""
        if link.state != UP:
            return
        now = self.host.now
        self.breaks += 1
        link.gen += 1
        link.state = DEAD
        link.flaps = link.flaps + 1 if now - link.born < self.stable else 0
        self.host.schedule(randint(self.rng, 1, self.faults.max_delay), self.link_kind,
                           (key, link.gen, False))

    def on_link(self, arg: tuple[tuple[int, int], int, bool]) -> None:
        key, gen, up = arg
        link = self.links[key]
        if link.gen != gen:
            return
        frm, to = key
        host = self.host
        if not up:  # the break is noticed: the link is down, both ends are told
            if link.state != DEAD:
                return
            link.state = DOWN
            link.down_since = host.now
            self._report(frm, to, False)
            self._report(to, frm, False)
            self._dial(key, link)
            return
        link.dialing = False
        if link.state != DOWN or key in self.blocked or not (
                host.link_started(frm) and host.link_started(to)):
            return  # (the dial failed: the next one when what stopped it ends)
        link.state = UP
        link.last = link.born = host.now
        self._report(frm, to, True)
        self._report(to, frm, True)

    def _report(self, viewer: int, peer: int, up: bool) -> None:
        """Production's up/down per peer: down when either connection with it closes, up
        when a handshake with it completes, each said once."""
        key = (viewer, peer)
        if up == (key in self.seen):
            return
        if up:
            self.seen.add(key)
        else:
            self.seen.discard(key)
        self.host.link_changed(viewer, peer, up)

    def _dial(self, key: tuple[int, int], link: Link, backoff: int = -1) -> None:
        """The sender dials again, if it can now: the handshake (two round trips) after
        a pause (none after a stable connection, else production's doubling backoff;
        `backoff`: that many ms at most, of a dialer that kept failing)."""
        host = self.host
        if link.dialing or link.state != DOWN or key in self.blocked or not (
                host.link_started(key[0]) and host.link_started(key[1])):
            return
        rng = self.rng
        lo, hi = self.backoff
        pause = 0
        if backoff >= 0:
            pause = min(hi, max(lo, backoff))
        elif link.flaps:
            pause = min(hi, lo << min(link.flaps - 1, 16))
        if pause:
            pause = randint(rng, pause // 2, pause)
        hop = self.faults.max_delay
        link.dialing = True
        host.schedule(pause + randint(rng, 4, 4 * hop), self.link_kind, (key, link.gen, True))

    def started(self, nid: int, others: list[int]) -> None:
        """Member `nid`'s process started: it dials every started member `others`, and
        they dial it (after the backoff their failed dials grew to)."""
        now = self.host.now
        for o in others:
            for key in ((nid, o), (o, nid)):
                link = self.links.get(key)
                if link is None:
                    link = self.links[key] = Link(down_since=now)
                self._dial(key, link, -1 if key[0] == nid else now - link.down_since)

    def stopped(self, nid: int) -> None:
        """Member `nid` stopped (crashed, removed, dropped its peers): its connections
        break, and it forgets which peers were up."""
        for key, link in self.links.items():
            if nid in key:
                self._break(key, link)
        self.seen = {k for k in self.seen if k[0] != nid}

    # -- partitions --
    def split(self, a: list[int], b: list[int], one_way: bool = False) -> None:
        super().split(a, b, one_way)
        for key in sorted(self.blocked):
            link = self.links.get(key)
            if link is not None:
                self._break(key, link)

    def heal(self) -> None:
        cut = list(self.blocked)
        super().heal()
        now = self.host.now
        for key in sorted(cut):
            link = self.links.get(key)
            if link is not None:
                self._dial(key, link, now - link.down_since)
