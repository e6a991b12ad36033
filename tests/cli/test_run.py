"""`roost watch`, `roost lock PATH -- CMD` and `roost elect PATH -- CMD`, as real processes
(they are about signals, child processes and losing a session)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from roost.client import SyncClient
from roost.testing.server import RoostServer
from roost.testing.wait import wait_until

from .conftest import run_cli

DEADLINE = 30.0


def roost(*args: str, server: str, **kwargs: Any) -> subprocess.Popen[str]:
    env = {**os.environ, "ROOST_SERVER": server}
    return subprocess.Popen([sys.executable, "-m", "roost", *args], env=env, text=True,
                            **kwargs)


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"process did not end: {out!r} {err!r}") from None
    return proc.returncode, out or "", err or ""


def read_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the watch prints each event at once (one line)
    assert line, "watch ended early"
    return line


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_watch_streams_events_until_signalled(hosts: str, sig: int) -> None:
    base = f"/watch{sig}"
    proc = roost("watch", "-r", "-o", "json", "--data", base, server=hosts,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    assert proc.stderr.readline().startswith(f"watching {base} and below")
    run_cli("create", f"{base}/a", "one")
    run_cli("set", f"{base}/a", "two")
    run_cli("delete", "-R", base)
    events = [json.loads(read_line(proc)) for _ in range(5)]
    assert [(e["type"], e["path"]) for e in events] == [
        ("NodeCreated", base), ("NodeCreated", f"{base}/a"), ("NodeDataChanged", f"{base}/a"),
        ("NodeDeleted", f"{base}/a"), ("NodeDeleted", base),
    ]
    assert events[1].get("data_utf8") in ("one", "two")  # read after the event: may be newer
    assert events[2]["data_utf8"] == "two"
    proc.send_signal(sig)
    code, _, err = finish(proc)
    assert code == 0 and "Traceback" not in err


def test_lock_runs_cmd_with_a_growing_fencing_token(hosts: str, tmp_path: Path) -> None:
    out = tmp_path / "env"
    script = f'echo "$ROOST_FENCING_TOKEN $ROOST_LOCK_PATH $ROOST_LOCK_NODE" >> {out}; exit 3'
    assert run_cli("lock", "/locks/t", "--", "sh", "-c", script).code == 3  # CMD's code
    assert run_cli("lock", "/locks/t", "sh", "-c", script).code == 3  # no -- needed
    first, second = (line.split() for line in out.read_text().splitlines())
    assert int(first[0]) < int(second[0])
    assert first[1] == "/locks/t" and first[2].startswith("/locks/t/")
    assert run_cli("ls", "/locks/t").out == ""  # released
    assert run_cli("lock", "/locks/t", "no-such-command-here").code == 127


def test_lock_excludes_and_hands_over(hosts: str, tmp_path: Path) -> None:
    release = tmp_path / "release"
    wait_release = f"while [ ! -e {release} ]; do sleep 0.02; done"
    a = roost("lock", "/locks/x", "--", "sh", "-c",
              f"echo $ROOST_FENCING_TOKEN > {tmp_path / 'a'}; {wait_release}", server=hosts)
    wait_until(lambda: (tmp_path / "a").exists(), 30, what="holder A to start")
    b = roost("lock", "/locks/x", "--", "sh", "-c",
              f"echo $ROOST_FENCING_TOKEN > {tmp_path / 'b'}", server=hosts)
    wait_until(lambda: len(run_cli("ls", "/locks/x").out.split()) == 2, 30, what="B to queue")
    assert not (tmp_path / "b").exists()  # B waits while A holds the lock
    release.touch()
    assert finish(a)[0] == 0 and finish(b)[0] == 0
    token_a = int((tmp_path / "a").read_text())
    token_b = int((tmp_path / "b").read_text())
    assert token_b > token_a


def test_lock_lost_when_its_node_is_deleted(hosts: str, tmp_path: Path) -> None:
    started = tmp_path / "started"
    proc = roost("lock", "--grace", "5", "/locks/lost", "--", "sh", "-c",
                 f"echo $ROOST_LOCK_NODE > {started}; while true; do sleep 0.02; done",
                 server=hosts, stderr=subprocess.PIPE)
    wait_until(lambda: started.exists() and started.read_text().strip(), 30, what="CMD to start")
    assert run_cli("delete", started.read_text().strip()).code == 0
    code, _, err = finish(proc)
    assert code == 75 and "lost the lock /locks/lost" in err


def test_lock_lost_with_the_session_stops_cmd(tmp_path: Path) -> None:
    """The server goes away: once the session may have expired, CMD is stopped (before
    anyone else could be granted the lock) and roost exits 75."""
    with RoostServer(tick_ms=100) as srv:  # sessions of at most 2 s
        started = tmp_path / "started"
        proc = roost("lock", "/locks/s", "--", "sh", "-c",
                     f"touch {started}; while true; do sleep 0.02; done", server=srv.hosts,
                     stderr=subprocess.PIPE)
        wait_until(started.exists, 30, what="CMD to start")
        t0 = time.monotonic()
    # the server has stopped
    code, _, err = finish(proc)
    assert code == 75 and "lost the lock" in err, err
    assert time.monotonic() - t0 < 15


def test_lock_passes_sigterm_on_and_releases(hosts: str, tmp_path: Path) -> None:
    started, stopped = tmp_path / "started", tmp_path / "stopped"
    proc = roost("lock", "/locks/term", "--", "sh", "-c",
                 f"trap 'touch {stopped}; exit 0' TERM; touch {started}; "
                 "while true; do sleep 0.02; done", server=hosts)
    wait_until(started.exists, 30, what="CMD to start")
    proc.send_signal(signal.SIGTERM)
    assert finish(proc)[0] == 128 + signal.SIGTERM
    assert stopped.exists()  # CMD got the signal
    assert run_cli("ls", "/locks/term").out == ""


def test_lock_wait_gives_up(hosts: str, tmp_path: Path) -> None:
    release = tmp_path / "release"
    holder = roost("lock", "/locks/w", "--", "sh", "-c",
                   f"touch {tmp_path / 'held'}; while [ ! -e {release} ]; do sleep 0.02; done",
                   server=hosts)
    wait_until((tmp_path / "held").exists, 30, what="holder to start")
    res = run_cli("lock", "--wait", "0.3", "/locks/w", "true")
    assert res.code == 1 and res.err == "roost: lock /locks/w: not granted within 0.3 s\n"
    release.touch()
    assert finish(holder)[0] == 0


def test_elect_runs_cmd_while_leader(hosts: str, tmp_path: Path) -> None:
    release = tmp_path / "release"
    first = roost("elect", "--id", "first", "/elections/e", "--", "sh", "-c",
                  f'echo "$ROOST_FENCING_TOKEN $ROOST_ELECTION_PATH" > {tmp_path / "first"}; '
                  f"while [ ! -e {release} ]; do sleep 0.02; done", server=hosts)
    wait_until((tmp_path / "first").exists, 30, what="the first leader")
    second = roost("elect", "--id", "second", "/elections/e", "--", "sh", "-c",
                   f"echo $ROOST_FENCING_TOKEN > {tmp_path / 'second'}", server=hosts)
    with SyncClient(hosts) as zk:
        wait_until(lambda: len(zk.children("/elections/e")) == 2, 30, what="the second to join")
        ids = sorted(zk.get(f"/elections/e/{k}")[0] for k in zk.children("/elections/e"))
    assert ids == [b"first", b"second"]
    assert not (tmp_path / "second").exists()
    release.touch()
    assert finish(first)[0] == 0 and finish(second)[0] == 0
    token1, path = (tmp_path / "first").read_text().split()
    assert path == "/elections/e" and int((tmp_path / "second").read_text()) > int(token1)


def test_one_shot_watch_flag_waits_for_the_event(hosts: str) -> None:
    run_cli("create", "/ow", "v1")
    proc = roost("get", "-w", "/ow", server=hosts, stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE)
    assert read_line(proc) == "v1\n"  # the data first; the watch is set with the read
    run_cli("set", "/ow", "v2")
    code, out, err = finish(proc)
    assert code == 0, err
    assert "WatchedEvent state:SyncConnected type:NodeDataChanged path:/ow" in out


def test_lock_without_cmd_holds_until_ctrl_c(hosts: str) -> None:
    proc = roost("lock", "/locks/hold", server=hosts, stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE)
    node, token = read_line(proc).split()
    assert node.startswith("/locks/hold/") and token.startswith("token=")
    assert run_cli("ls", "/locks/hold").out.strip() == node.rsplit("/", 1)[1]
    proc.send_signal(signal.SIGINT)
    code, _, err = finish(proc)
    assert code == 0, err
    assert run_cli("ls", "/locks/hold").out == ""


def test_elect_stops_cmd_when_its_node_goes(hosts: str, tmp_path: Path) -> None:
    started = tmp_path / "started"
    proc = roost("elect", "--grace", "5", "/elections/lost", "--", "sh", "-c",
                 f"echo $ROOST_ELECTION_NODE > {started}; while true; do sleep 0.02; done",
                 server=hosts, stderr=subprocess.PIPE)
    wait_until(lambda: started.exists() and started.read_text().strip(), 30, what="CMD to start")
    assert run_cli("delete", started.read_text().strip()).code == 0
    code, _, err = finish(proc)
    assert code == 75 and "lost the leadership of /elections/lost" in err
