"""The Java client re-registers its watches after its TCP connection drops.

The client talks to the server through a `TcpProxy`. While the proxy is cut, kazoo (connected
directly) changes every watched node; when the proxy is healed, the Java client reconnects
to the same session and re-sends its watches (SetWatches, then SetWatches2 once a persistent
watch exists), and the server must report what the client missed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from roost.testing.proxy import TcpProxy

from .conftest import Backend, JavaClient
from .procs import LineProcess

pytestmark = pytest.mark.compat

BASE = "/interop-java-reconnect"


def events_and_states(lines: list[str]) -> tuple[list[str], list[str]]:
    """Watch events, and state changes with repeats collapsed (each failed reconnect
    attempt during the cut reports Disconnected again)."""
    events = [line for line in lines if line.startswith("event ")]
    states: list[str] = []
    for line in lines:
        if line.startswith("state ") and (not states or states[-1] != line):
            states.append(line)
    return events, states


def cut_and_change(
    proc: LineProcess, proxy: TcpProxy, start: int, change: Callable[[], None]
) -> None:
    """Cut the proxy, wait until the client noticed, run `change`, heal the proxy."""
    proxy.cut()
    proc.wait_for(r"^state Disconnected$", start)
    change()
    proxy.heal()


def test_watches_survive_a_dropped_connection(
    backend: Backend, admin: KazooClient, java_client: JavaClient, tmp_path: Path
) -> None:
    p = f"{BASE}/reconnect"
    with (
        TcpProxy((backend.host, backend.port)) as proxy,
        open(tmp_path / "java-stderr.log", "wb") as err,
        LineProcess(java_client.command(proxy.hosts, BASE, ["reconnect"]), stderr=err) as proc,
    ):
        ready1, _ = proc.wait_for(r"^ready 1$")
        _, first_session = proc.wait_for(r"^session (0x[0-9a-f]+)$")

        def missed_one_shot_changes() -> None:
            admin.set(f"{p}/data", b"v1")
            admin.create(f"{p}/created")
            admin.create(f"{p}/parent/c2")
            admin.delete(f"{p}/doomed")
            alice = KazooClient(hosts=backend.hosts, auth_data=[("digest", "alice:secret")])
            alice.start(timeout=20)
            try:
                alice.set(f"{p}/secret", b"s1")
            finally:
                alice.stop()
                alice.close()

        cut_and_change(proc, proxy, ready1, missed_one_shot_changes)
        ready2, _ = proc.wait_for(r"^ready 2$", ready1)

        def missed_persistent_changes() -> None:
            admin.set(f"{p}/data", b"v2")
            admin.create(f"{p}/parent/missed")

        cut_and_change(proc, proxy, ready2, missed_persistent_changes)
        proc.wait_for(r"^event data2 NodeDataChanged", ready2)
        admin.create(f"{p}/parent/c3")
        _, last_session = proc.wait_for(r"^session (0x[0-9a-f]+)$", ready2)
        code = proc.finish()
        lines = list(proc.lines)
    stderr = (tmp_path / "java-stderr.log").read_text(errors="replace")
    assert code == 0, f"{proc.output()}\n{stderr[-6000:]}"
    assert "### end reconnect" in lines
    assert last_session.group(1) == first_session.group(1)
    assert proxy.accepted >= 3, "the client never reconnected through the proxy"

    events, states = events_and_states(lines[ready1:ready2])
    assert states == ["state Disconnected", "state SyncConnected"]
    # SetWatches: what the client missed is reported as soon as it is back
    assert sorted(events) == [
        "event child NodeChildrenChanged ~/parent",
        "event data NodeDataChanged ~/data",
        "event doomed NodeDeleted ~/doomed",
        "event exists NodeCreated ~/created",
        "event secret NodeDataChanged ~/secret",
    ]
    assert "secret after reconnect: ok 's1'" in lines[ready1:ready2]

    events, states = events_and_states(lines[ready2:])
    assert states == ["state Disconnected", "state SyncConnected"]
    # SetWatches2: the one-shot watch reports the missed change; the persistent recursive
    # watch is re-added without replaying ~/parent/missed, then sees the next change
    assert events == [
        "event data2 NodeDataChanged ~/data",
        "event recursive NodeCreated ~/parent/c3",
    ]
