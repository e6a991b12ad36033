"""The test harnesses never hand out one port twice (an ensemble asks for dozens)."""

from __future__ import annotations

from roost.testing import server, zookeeper
from roost.testing.ports import free_port


def test_ports_are_never_handed_out_twice() -> None:
    ports = [free_port() for _ in range(500)]
    assert len(set(ports)) == len(ports)


def test_every_harness_uses_the_one_allocator() -> None:
    assert server.free_port is free_port and zookeeper.free_port is free_port
