"""The simulator's stream network (roost.testing.sim.network): production's peer links,
one connection per direction, in order, lost only by breaking."""

from __future__ import annotations

import heapq
import random
from typing import Any

import pytest

import roost.testing.sim.network as sim_network
from roost.testing.sim import run_seed
from roost.testing.sim.network import DOWN, UP, LinkFaults, StreamNetwork
from roost.testing.sim.stats import replay_command

STREAM, LINK = 1, 2


class Host:
    """Two started members and an event heap, as the run's (cluster.py)."""

    def __init__(self) -> None:
        self.now = 0
        self.events: list[tuple[int, int, int, Any]] = []
        self.seq = 0
        self.started = {1, 2}
        self.told: list[tuple[int, int, int, bool]] = []
        self.got: list[object] = []

    def schedule(self, delay: int, kind: int, arg: Any = None) -> None:
        self.seq += 1
        heapq.heappush(self.events, (self.now + delay, self.seq, kind, arg))

    def link_started(self, nid: int) -> bool:
        return nid in self.started

    def link_changed(self, viewer: int, peer: int, up: bool) -> None:
        self.told.append((self.now, viewer, peer, up))

    def run(self, net: StreamNetwork, until: int) -> None:
        while self.events and self.events[0][0] <= until:
            self.now, _, kind, arg = heapq.heappop(self.events)
            if kind == LINK:
                net.on_link(arg)
            elif net.deliverable(arg[0], arg[1], arg[2]):
                self.got.append(arg[3])
        self.now = until


def network(**faults: Any) -> tuple[Host, StreamNetwork]:
    host = Host()
    net = StreamNetwork(random.Random(7), LinkFaults(**faults), host, STREAM, LINK,
                        stable=1000, backoff=(50, 2000))
    net.started(1, [])
    net.started(2, [1])
    host.run(net, 100)
    assert net.links[(1, 2)].state == UP and net.links[(2, 1)].state == UP
    assert sorted((v, p, up) for _, v, p, up in host.told) == [(1, 2, True), (2, 1, True)]
    host.told.clear()
    return host, net


def test_a_link_delivers_in_send_order_and_a_slow_message_holds_the_rest() -> None:
    host, net = network(max_delay=10, slow=0.3, slow_min=100, slow_delay=500)
    for i in range(200):
        assert net.post(1, 2, i)
        host.run(net, host.now + 1)
    host.run(net, host.now + 2000)
    assert host.got == list(range(200))


def test_a_break_loses_what_is_in_flight_and_both_ends_are_told(
        monkeypatch: pytest.MonkeyPatch) -> None:
    host, net = network(max_delay=10, loss=1.0)
    monkeypatch.setattr(sim_network, "BREAK_SHARE", 1.0)
    assert net.post(1, 2, "lost")  # breaks the connection: lost, nobody knows yet
    net.faults.loss = 0.0
    assert net.post(1, 2, "into the broken connection")  # accepted, and lost
    host.run(net, host.now + 10)  # the break is noticed a hop later
    assert net.links[(1, 2)].state == DOWN
    assert sorted((v, p, up) for _, v, p, up in host.told) == [(1, 2, False), (2, 1, False)]
    assert not net.post(1, 2, "refused")  # a send on a link that is down: the host's unsent
    host.run(net, host.now + 100)  # a stable connection is dialed again at once
    assert net.links[(1, 2)].state == UP and host.told[-1][3]
    assert net.post(1, 2, "after")
    host.run(net, host.now + 100)
    assert host.got == ["after"]


def test_a_partition_breaks_the_links_it_cuts_until_it_heals() -> None:
    host, net = network(max_delay=10)
    assert net.post(2, 1, "in flight")
    net.split([1], [2], one_way=True)  # 1 -> 2 only
    host.run(net, host.now + 3000)
    assert net.links[(1, 2)].state == DOWN and net.links[(2, 1)].state == UP
    assert host.got == ["in flight"]  # the other direction's connection lives on
    net.heal()
    host.run(net, host.now + 2100)  # the dialer's backoff grew while it failed: <= 2 s
    assert net.links[(1, 2)].state == UP


def test_a_stopped_member_breaks_its_links_and_they_come_back_when_it_starts() -> None:
    host, net = network(max_delay=10)
    host.started.discard(2)
    net.stopped(2)
    host.run(net, host.now + 500)
    assert net.links[(1, 2)].state == DOWN and net.links[(2, 1)].state == DOWN
    assert (1, 2, False) in [(v, p, up) for _, v, p, up in host.told]
    host.started.add(2)
    net.started(2, [1])
    host.run(net, host.now + 3000)
    assert net.links[(1, 2)].state == UP and net.links[(2, 1)].state == UP


def test_the_datagram_network_replays_its_seeds_and_names_itself() -> None:
    a = run_seed(3, 5, network="datagram")
    assert a == run_seed(3, 5, network="datagram") and a != run_seed(3, 5)
    assert "--network" not in replay_command(3, 5, frozenset())
    assert replay_command(3, 5, frozenset(), network="datagram").endswith(
        "--seed 5 --network datagram")
    with pytest.raises(ValueError, match="unknown network"):
        run_seed(3, 5, network="udp")
