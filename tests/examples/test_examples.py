"""Run every program in examples/ against a live server and check what it prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from client.helpers import Backend

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(name: str, server: Backend, *args: str, timeout: float = 90) -> list[str]:
    proc = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), server.hosts, *args],
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout.splitlines()


def index(lines: list[str], line: str) -> int:
    assert line in lines, f"missing {line!r} in:\n" + "\n".join(lines)
    return lines.index(line)


def test_config_watch(server: Backend) -> None:
    lines = run("config_watch", server)
    for i in (1, 2, 3):
        waiting = index(lines, f"instance-{i}: /config/database_url does not exist yet, "
                               "waiting for it")
        first = index(lines, f"instance-{i}: reconnecting the database pool to "
                             "postgres://db0/app")
        # the operator prints after its create's reply; an instance may see the watch event
        # first (two sessions: ZooKeeper orders nothing between them), never before waiting
        assert waiting < first
        assert waiting < index(lines, "operator: created the value postgres://db0/app")
        applied = [ln.rsplit(" ", 1)[1] for ln in lines
                   if ln.startswith(f"instance-{i}: reconnecting")]
        assert applied[-1] == "postgres://db5/app"  # never misses the final value
        assert applied == sorted(applied)  # and never goes back
        assert any(ln.startswith(f"instance-{i}: current value is postgres://db5/app (read ")
                   for ln in lines)
    assert lines[-1] == "all instances ended on the last value"


def test_election(server: Backend) -> None:
    lines = run("election", server)
    assert lines[:6] == [
        "candidate-1: joined as node-0000000000",
        "candidate-1: I am the leader (node-0000000000)",
        "candidate-2: joined as node-0000000001",
        "candidate-2: watching my predecessor node-0000000000",
        "candidate-3: joined as node-0000000002",
        "candidate-3: watching my predecessor node-0000000001",  # not the leader: no herd
    ]
    crash = index(lines, "candidate-1 crashes: its connection goes silent")
    took = index(lines, "candidate-2: I am the leader (node-0000000001)")
    assert crash < took
    assert "candidate-2 took over within twice the session timeout" in lines
    assert not any(ln.startswith("candidate-3: predecessor") for ln in lines[:took])


def test_leader_config(server: Backend) -> None:
    lines = run("leader_config", server, "--unit", "0.1")
    leaders = [ln.split()[0] for ln in lines if ln.endswith("is the leader")]
    assert leaders == ["node-1", "node-2", "node-3"]
    for n, leader in enumerate(leaders):
        for k in (1, 2):
            value = f"postgres://db-{leader}-{k}/app"
            took_over = index(lines, f"{leader} is the leader")
            assert index(lines, f"{leader} (leader) wrote {value}") > took_over
            for follower in leaders[n + 1:]:  # still alive, still watching
                # (another session may get the change's event before the writer gets its
                # reply: ZooKeeper orders events and replies per session only, so a follower
                # can print the value just before the leader prints that it wrote it)
                assert index(lines, f"{follower} (follower) sees {value}") > took_over
    assert lines[-1] == "done"


def test_leader_latch(server: Backend) -> None:
    lines = run("leader_latch", server, "--unit", "0.25")
    leaders = [ln.split(":")[0] for ln in lines if ": is_leader" in ln]
    assert leaders == [f"client#{n}" for n in range(1, 6)]
    tokens = [int(re.findall(r"token (\d+)", ln)[0]) for ln in lines if ": is_leader" in ln]
    assert tokens == sorted(tokens) and len(set(tokens)) == 5
    assert "client#5: await_leadership(timeout) returned False" in lines
    for n in range(1, 6):
        closing = index(lines, f"client#{n}: closing (has_leadership=True)")
        assert index(lines, f"client#{n}: not_leader") > closing
        if n < 5:
            assert index(lines, f"client#{n + 1}: is_leader (fencing token "
                                f"{tokens[n]})") > closing
    assert lines[-1] == "at most 1 leader at any time"


def test_leader_selector(server: Backend) -> None:
    lines = run("leader_selector", server, "--unit", "0.05", "--terms", "20")
    order = [ln.split(":")[0] for ln in lines if ": takes leadership" in ln]
    # fair: every client leads once before anyone leads twice (who queued first depends on
    # how fast each client connected)
    assert sorted(order[:5]) == [f"client#{n}" for n in range(1, 6)]
    assert set(order) == {f"client#{n}" for n in range(1, 6)} and len(order) >= 12
    drop = index(lines, "client#1: its connection drops")
    cancelled = index(lines, "client#1: take_leadership cancelled")
    assert drop < index(lines, "client#1: connection SUSPENDED") <= cancelled + 1
    # it queued again after reconnecting, and led again (however slow the reconnect was)
    requeued = index(lines, "client#1: RECONNECTED, queueing again")
    assert any(ln.startswith("client#1: takes leadership") for ln in lines[requeued:])
    assert lines[-1] == "at most 1 leader at any time"


def test_ttl_election(server: Backend) -> None:
    lines = run("ttl_election", server)
    assert lines[0].startswith("service-A: acquired /leader with session 0x")
    stop = index(lines, "service-A: stops renewing its session")
    skip = index(lines, "service-A: cannot confirm leadership, skipping business actions")
    taker = [ln for ln in lines if ln.endswith("took over after service-A's session expired")]
    assert len(taker) == 1
    new = taker[0].split()[0]
    acquired = next(i for i, ln in enumerate(lines)
                    if ln.startswith(f"{new}: acquired /leader"))
    assert stop < skip < acquired  # the old leader stood down before the key moved
    assert not any(ln.startswith("service-A: still leader") for ln in lines[stop:])


def test_service_discovery(server: Backend) -> None:
    lines = run("service_discovery", server)
    assert [ln for ln in lines if ln.startswith("consumer: live")] == [
        "consumer: live instances: orders-1@127.0.0.1:9001, orders-2@127.0.0.1:9002, "
        "orders-3@127.0.0.1:9003",
        "consumer: live instances: orders-1@127.0.0.1:9001, orders-3@127.0.0.1:9003",
        "consumer: live instances: orders-1@127.0.0.1:9001",
    ]
    calls = [ln.rsplit(" ", 1)[1] for ln in lines if ln.startswith("consumer: call")]
    assert calls == ["orders-1", "orders-2", "orders-3", "orders-1", "orders-1"]


def test_lock(server: Backend) -> None:
    lines = run("lock", server)
    accepted = [ln for ln in lines if ln.startswith("storage: accepted")]
    assert [ln.split("'")[1] for ln in accepted] == ["count=1", "count=2", "count=3",
                                                     "count=20"]
    takeover = next(ln for ln in lines if ln.startswith("worker-2: holds the lock after"))
    assert takeover.endswith(": True)")
    assert "worker-1: lock.is_held() would now say False, but it does not ask" in lines
    assert any(ln.startswith("storage: refused worker-1's write: fencing token") for ln in lines)
    assert lines[-1] == "storage holds 'count=20'"


def test_lease_lock(server: Backend) -> None:
    lines = run("lease_lock", server)
    assert lines[0] == "lease span for a 4.0 s session: 1.84 s after each answered ping"
    stopped = next(ln for ln in lines if ln.startswith("worker-1: is_held() is False"))
    took = next(ln for ln in lines if ln.startswith("worker-2: holds the lock"))
    assert lines.index(stopped) < lines.index(took)
    assert float(stopped.split()[4]) < float(took.split()[4])
    assert lines[-1] == "worker-1 stopped before worker-2 started: True"


def test_job_queue(server: Backend) -> None:
    lines = run("job_queue", server)
    took = [ln for ln in lines if ": took job-" in ln]
    assert sorted(int(ln.rsplit("-", 1)[1]) for ln in took) == list(range(1, 11))
    assert lines[-1] == "10 jobs taken, each exactly once: True; in queue order: True"


def test_membership(server: Backend) -> None:
    lines = run("membership", server)
    everyone = "['member-1', 'member-2', 'member-3', 'member-4']"
    for n in range(1, 5):
        assert f"member-{n}: sees the group {everyone}" in lines
    assert "double barrier: all arrived before anyone entered: True" in lines
    assert "double barrier: all done before anyone left: True" in lines
    assert "counter: 20 jobs done in all" in lines
    crash = index(lines, "member-4: crashed")
    for n in range(1, 4):
        assert index(lines, f"member-{n}: sees the group "
                            "['member-1', 'member-2', 'member-3']") > crash


def test_change_feed(server: Backend) -> None:
    lines = run("change_feed", server)
    if server.kind == "zookeeper":
        assert lines[-1].startswith("the server lacks watch history:")
        assert "does not support watch_history" in lines[-1]
        return
    stop = index(lines, next(ln for ln in lines if ln.startswith("auditor-1 stops at zxid")))
    assert len([ln for ln in lines[:stop] if ln.startswith("auditor-1: zxid")]) == 4
    more = index(lines, "3 more orders while no auditor runs")
    resumed = [ln for ln in lines[more:] if ln.startswith("auditor-2: zxid")]
    assert len(resumed) == 6 and resumed[0].endswith("node_created /orders/o2=new")
    zxids = [int(ln.split()[2].rstrip(":")) for ln in lines if ": zxid " in ln]
    assert zxids == sorted(zxids) and len(set(zxids)) == 10
    assert lines[-1] == "every change exactly once"
