"""A library that names its node from /v1/agent/self and registers itself in the catalog
(examples/consul_self_register.py, py-consul unmodified) starts, registers, and
deregisters when stopped."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from conftest import Served

from roost.testing.wait import wait_until

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "consul_self_register.py"


def test_self_registering_library(served: Served) -> None:
    c = served.consul()
    node = c.agent.self()["Config"]["NodeName"]
    proc = subprocess.Popen([sys.executable, str(EXAMPLE), f"127.0.0.1:{served.http_port}",
                             "--name", "selfreg", "--port", "8123"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert first == f"node {node} at 127.0.0.1", first
        registered = proc.stdout.readline().strip()
        assert registered == f"registered selfreg-{proc.pid} on {node}", registered
        _i, entries = c.catalog.service("selfreg")
        assert [(e["Node"], e["ServiceID"], e["ServicePort"]) for e in entries] == [
            (node, f"selfreg-{proc.pid}", 8123)]
        _i, healthy = c.health.service("selfreg", passing=True)
        assert len(healthy) == 1
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert out.strip() == f"deregistered selfreg-{proc.pid}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    wait_until(lambda: c.catalog.service("selfreg")[1] == [], what="deregistration")
