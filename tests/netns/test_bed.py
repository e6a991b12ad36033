"""The bed itself: private addresses only inside its namespaces, no route out, partitions by
downing a link, and nothing left behind, also when the block fails."""

from __future__ import annotations

import socket
import subprocess

import pytest

from roost.testing.netns import NETNS_DIR, NetBed, unavailable
from roost.testing.wait import wait_until


def root_links() -> str:
    return subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout


def listen(bed: NetBed, host: str) -> socket.socket:
    with bed.inside(host):
        s = socket.socket()
        s.bind((bed.addr(host), 0))
        s.listen()
    return s


def reaches(bed: NetBed, src: str, addr: tuple[str, int]) -> bool:
    with bed.inside(src):
        try:
            socket.create_connection(addr, timeout=0.5).close()
            return True
        except OSError:
            return False


def test_hosts_reach_each_other_only_inside_and_partitions_heal() -> None:
    why = unavailable()
    if why is not None:
        pytest.skip(why)
    before = root_links()
    with NetBed() as bed:
        bed.add_host("a", "10.231.0.1")
        bed.add_host("b", "10.231.0.2")
        for name in ("a", "b"):
            routes = bed.routes(name)
            assert "default" not in routes
            assert "10.231.0.0/24 dev eth0" in routes
        assert root_links() == before  # nothing of the bed in the caller's namespace
        srv = listen(bed, "a")
        addr = srv.getsockname()
        assert reaches(bed, "b", addr)
        bed.link_down("a")
        assert not reaches(bed, "b", addr)
        bed.link_up("a")
        # after a heal the neighbour entry that failed meanwhile is resolved again: poll
        wait_until(lambda: reaches(bed, "b", addr), 10,
                   what="a connection after the link came back")
        srv.close()
        names = [h.ns for h in bed.hosts.values()] + [bed.hub]
    assert not any((NETNS_DIR / n).exists() for n in names)


def test_torn_down_when_the_block_fails() -> None:
    why = unavailable()
    if why is not None:
        pytest.skip(why)
    bed = NetBed()
    with pytest.raises(RuntimeError, match="boom"), bed:
        bed.add_host("a", "10.231.0.1")
        proc = bed.popen("a", ["sleep", "600"])
        ns = bed.host("a").ns
        raise RuntimeError("boom")
    assert proc.poll() is not None
    assert not (NETNS_DIR / ns).exists() and not (NETNS_DIR / bed.hub).exists()
