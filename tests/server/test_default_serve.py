"""The README's first command: `roost serve` with no arguments and no config file.

It listens on the fixed default ports (2181, 8500), so the check runs in a network
namespace of its own (loopback only, no other process): a server somewhere else on the
machine can neither collide with it nor answer in its place. Where no namespace can be
made, it runs on the machine's loopback and first checks that the two ports are free."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve()
UNSHARE = ["unshare", "--user", "--map-root-user", "--net"]


def _loopback_up() -> None:
    sys.path.insert(0, str(HERE.parents[1] / "repo"))
    from docrun import loopback_up  # the doc-block runner's ioctl helper

    loopback_up()


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def check_default_serve(cwd: Path) -> str | None:
    """Start `roost serve` in `cwd`, check its defaults, stop it; None or what is wrong."""
    from roost.testing.server import four_letter
    from roost.testing.wait import WaitTimeout, wait_until

    def ruok() -> str:
        try:
            return four_letter("127.0.0.1", 2181, "ruok", 0.5)
        except OSError:
            return ""

    def health() -> int:
        try:
            with urllib.request.urlopen("http://127.0.0.1:8500/health", timeout=2) as r:
                return int(r.status)
        except OSError:
            return 0

    proc = subprocess.Popen([sys.executable, "-m", "roost.cli", "serve"], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    problem: str | None = None
    try:
        with contextlib.suppress(WaitTimeout):  # what is missing is said below
            wait_until(lambda: proc.poll() is not None or (ruok() == "imok" and health() == 200),
                       30, what="the server to answer")
        answer, status = ruok(), health()
        if answer != "imok":
            problem = "no server on 127.0.0.1:2181"
        elif not (cwd / "roost-data").is_dir():
            problem = "no ./roost-data directory"
        elif status != 200:
            problem = "no HTTP API on 127.0.0.1:8500"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    if problem is None and proc.returncode != 0:
        problem = f"exit code {proc.returncode} after SIGTERM"
    return None if problem is None else f"{problem}\n{out}"


def test_roost_serve_with_no_arguments(tmp_path: Path) -> None:
    probe = subprocess.run([*UNSHARE, "true"], capture_output=True, check=False)
    if probe.returncode == 0:
        run = subprocess.run([*UNSHARE, sys.executable, str(HERE), str(tmp_path)],
                             capture_output=True, text=True, timeout=120, check=False)
        assert run.returncode == 0, run.stdout + run.stderr
        return
    if not (_port_free(2181) and _port_free(8500)):
        pytest.fail("no network namespace here, and 127.0.0.1:2181 or :8500 is taken")
    problem = check_default_serve(tmp_path)
    assert problem is None, problem


if __name__ == "__main__":  # inside the namespace
    _loopback_up()
    trouble = check_default_serve(Path(sys.argv[1]))
    if trouble is not None:
        print(trouble)
    sys.exit(0 if trouble is None else 1)
