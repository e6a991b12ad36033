"""Trace ensemble writes hop by hop: where each microsecond of one write goes.

    python benchmarks/write_trace.py --ops 2000 --on follower

Starts a 3-member ensemble (subprocesses on loopback) whose members record timestamped
events (CLOCK_MONOTONIC, which every process on the machine shares) at the points of the
write path, then writes `--ops` setData of `--size` bytes one at a time from one session
on a follower (or the leader), with a pause between them so that each write is alone in
the system. For every write it finds each milestone (the follower's proposal, the forward,
the leader's Ready, its AppendEntries leaving, both members' append+fsync, the ack, the
commit, the commit reaching the follower, the apply, the reply) and prints the median time
of each since the client sent the request, and of each step since the previous one.

The recording is installed by this script into the member processes only (a
`sitecustomize` module on their PYTHONPATH, enabled by an environment variable): the
server's code carries no tracing of its own. Recording costs about a microsecond an event.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ENV = "WRITE_TRACE_DIR"  # (not ROOST_*: those are server settings)

SITECUSTOMIZE = """
import os
if os.environ.get({env!r}):
    import write_trace
    write_trace.install(os.environ[{env!r}])
"""


# --- inside a member ------------------------------------------------------------------------
def install(out_dir: str) -> None:
    """Record events of this process's ensemble member; written to out_dir at exit."""
    import atexit
    import threading

    from roost.raft import Message
    from roost.replica.core import ReplicaCore
    from roost.replica.state import ReplicaState
    from roost.server import peers, replicated

    events: list[tuple[Any, ...]] = []
    add = events.append
    now = time.monotonic_ns
    lock = threading.Lock()

    def wrap(cls: Any, name: str, before: Any = None, after: Any = None) -> None:
        orig = getattr(cls, name)

        def f(*a: Any, **k: Any) -> Any:
            if before is not None:
                before(*a, **k)
            r = orig(*a, **k)
            if after is not None:
                after(r, *a, **k)
            return r

        setattr(cls, name, f)

    wrap(replicated.RaftLog, "propose", before=lambda self, *a, **k: add((now(), "propose")))
    wrap(peers.PeerTransport, "send",
         before=lambda self, to, ch, payload: add((now(), "send", to, ch, payload)))
    wrap(peers._Link, "_flush", before=lambda self: add((now(), "flush", self.peer)))
    wrap(peers.PeerTransport, "_deliver",
         before=lambda self, link, ch, payload: add((now(), "recv", link.peer, ch, payload)))

    def ready_after(rd: Any, self: Any, t: float) -> None:
        if rd is not None:
            add((now(), "ready", len(rd.entries), len(rd.committed_entries), rd.must_sync))

    wrap(ReplicaCore, "ready", after=ready_after)
    wrap(ReplicaCore, "advance", before=lambda self, rd, *a: add((now(), "advance")))

    def persist_before(self: Any, rd: Any) -> None:
        with lock:
            add((now(), "p0", len(rd.entries)))

    def persist_after(r: Any, self: Any, rd: Any) -> None:
        with lock:
            add((now(), "p1"))

    wrap(replicated.RaftLog, "_persist", before=persist_before, after=persist_after)
    wrap(ReplicaState, "apply", before=lambda self, e, replay=False: add((now(), "apply", e.index)))

    orig_stamp = ReplicaState.stamp

    def stamp(self: Any, txn: Any, done: Any, abandoned: Any, t: float) -> Any:
        if done is not None:
            inner = done

            def done(zxid: int, result: Any) -> None:
                add((now(), "done", zxid))
                inner(zxid, result)
                add((now(), "done_end", zxid))

        return orig_stamp(self, txn, done, abandoned, t)

    ReplicaState.stamp = stamp  # type: ignore[method-assign]

    def dump() -> None:
        rows = []
        for ev in events:
            if ev[1] in ("send", "recv"):
                t, kind, peer, ch, payload = ev
                row: list[Any] = [t, kind, peer, ch]
                if ch == 0:
                    try:
                        m = Message.from_bytes(payload)
                        row += [int(m.type), m.index, m.commit, len(m.entries),
                                m.entries[-1].index if m.entries else 0]
                    except Exception:
                        pass
                rows.append(row)
            else:
                rows.append(list(ev))
        path = Path(out_dir) / f"trace-{os.getpid()}.json"
        path.write_text(json.dumps(rows))

    atexit.register(dump)


# --- the driver -------------------------------------------------------------------------------
APP, APP_RESP = 1, 2


def first(evs: list[list[Any]], lo: int, pred: Any) -> list[Any] | None:
    for e in evs:
        if e[0] >= lo and pred(e):
            return e
    return None


def milestones(op: tuple[int, int, int], mem: dict[str, list[list[Any]]],
               ids: dict[str, int]) -> dict[str, int]:
    """Each milestone's time for one write (ns), found in the members' events."""
    c0, c1, zxid = op
    F, L = mem["F"], mem["L"]  # the client's member, the leader
    out: dict[str, int] = {"client sends": c0}

    def mark(name: str, e: list[Any] | None) -> int:
        if e is None:
            raise LookupError(name)
        out[name] = e[0]
        return int(e[0])

    t = c0
    on_leader = F is L
    if not on_leader:
        t = mark("F propose", first(F, t, lambda e: e[1] == "propose"))
        t = mark("F forward flushed", first(F, t, lambda e: e[1] == "flush" and e[2] == ids["L"]))
        t = mark("L forward received", first(L, t, lambda e: e[1] == "recv" and e[3] == 1))
    else:
        t = mark("L propose", first(L, t, lambda e: e[1] == "propose"))
    t = mark("L ready (entries)", first(L, t, lambda e: e[1] == "ready" and e[2] > 0))
    ready = t
    names = ["F1", "F2"] if on_leader else ["F", "O"]
    followers = [(n, mem[n]) for n in names]
    mark("L fsync start", first(L, ready, lambda e: e[1] == "p0" and e[2] > 0))
    mark("L fsync end", first(L, ready, lambda e: e[1] == "p1"))
    mark("L advance", first(L, out["L fsync end"], lambda e: e[1] == "advance"))
    for name, evs in followers:
        peer = ids[name]
        mark(f"L append flushed ({name})", first(
            L, ready, lambda e, peer=peer: e[1] == "flush" and e[2] == peer))
        r = mark(f"{name} append received", first(
            evs, ready, lambda e: e[1] == "recv" and e[3] == 0 and len(e) > 4 and e[4] == APP
            and e[8] >= zxid))
        mark(f"{name} ready", first(evs, r, lambda e: e[1] == "ready" and e[2] > 0))
        mark(f"{name} fsync start", first(evs, r, lambda e: e[1] == "p0" and e[2] > 0))
        p1 = mark(f"{name} fsync end", first(evs, r, lambda e: e[1] == "p1"))
        mark(f"{name} advance", first(evs, p1, lambda e: e[1] == "advance"))
        mark(f"{name} ack flushed", first(
            evs, p1, lambda e: e[1] == "flush" and e[2] == ids["L"]))
    acks = [e for e in L if e[0] >= ready and e[1] == "recv" and e[3] == 0 and len(e) > 4
            and e[4] == APP_RESP and e[5] >= zxid]
    if not acks:
        raise LookupError("ack")
    out["L first ack received"] = acks[0][0]
    commit = first(L, ready, lambda e: e[1] == "send" and len(e) > 4 and e[4] == APP
                   and e[6] >= zxid)
    t = mark("L commit sent", commit)
    mark("L applies", first(L, ready, lambda e: e[1] == "apply" and e[2] == zxid))
    if not on_leader:
        t = mark("F commit received", first(
            F, t, lambda e: e[1] == "recv" and e[3] == 0 and len(e) > 4 and e[6] >= zxid))
        t = mark("F applies", first(F, t, lambda e: e[1] == "apply" and e[2] == zxid))
    holder = F if not on_leader else L
    t = mark("reply (done)", first(holder, c0, lambda e: e[1] == "done" and e[2] == zxid))
    mark("done returned", first(holder, c0, lambda e: e[1] == "done_end" and e[2] == zxid))
    out["client receives"] = c1
    return out


async def drive(hosts: str, ops: int, size: int, gap: float) -> list[tuple[int, int, int]]:
    from roost.client import Client

    out = []
    async with Client(hosts) as zk:
        await zk.create("/trace", b"")
        data = b"x" * size
        for _ in range(ops):
            c0 = time.monotonic_ns()
            st = await zk.set("/trace", data)
            c1 = time.monotonic_ns()
            out.append((c0, c1, st.mzxid))
            await asyncio.sleep(gap)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=2000)
    ap.add_argument("--size", type=int, default=100, help="bytes of data per setData")
    ap.add_argument("--gap-ms", type=float, default=2.0, help="pause between two writes")
    ap.add_argument("--on", choices=["follower", "leader"], default="follower")
    ap.add_argument("--warmup", type=int, default=300, help="writes left out at the start")
    args = ap.parse_args()

    from roost.testing.ensemble import RoostEnsemble

    with tempfile.TemporaryDirectory(prefix="roost-trace-") as tmp:
        site = Path(tmp) / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text(SITECUSTOMIZE.format(env=ENV))
        here = str(Path(__file__).resolve().parent)
        old_path = os.environ.get("PYTHONPATH", "")
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), here, old_path) if p)
        os.environ[ENV] = tmp
        try:
            with RoostEnsemble(3, subprocess=True) as ens:
                leader = ens.leader()
                others = [i for i in range(3) if i != leader]
                client_on = others[0] if args.on == "follower" else leader
                pids = {i: ens.pid(i) for i in range(3)}
                ops = asyncio.run(drive(ens.hosts_of(client_on), args.ops, args.size,
                                        args.gap_ms / 1000))
        finally:
            os.environ.pop(ENV)
            os.environ["PYTHONPATH"] = old_path
        traces = {}
        for i, pid in pids.items():
            raw = json.loads((Path(tmp) / f"trace-{pid}.json").read_text())
            traces[i] = raw
    if args.on == "follower":
        who = {"F": client_on, "L": leader, "O": others[1]}
    else:
        who = {"F": leader, "L": leader, "F1": others[0], "F2": others[1]}
    roles = {k: traces[i] for k, i in who.items()}
    report(ops[args.warmup:], roles, {k: i + 1 for k, i in who.items()})


def report(ops: list[tuple[int, int, int]], roles: dict[str, list[list[Any]]],
           ids: dict[str, int]) -> None:
    for evs in roles.values():
        evs.sort(key=lambda e: e[0])
    per: dict[str, list[float]] = {}
    order: list[str] = []
    missed = 0
    import bisect

    for op in ops:
        c0, c1, _ = op
        window = {}
        for k, evs in roles.items():
            lo = bisect.bisect_left(evs, [c0])
            hi = bisect.bisect_right(evs, [c1 + 1])
            window[k] = evs[lo:hi]
        if roles["F"] is roles["L"]:
            window["L"] = window["F"]
        try:
            ms = milestones(op, window, ids)
        except LookupError:
            missed += 1
            continue
        for name, t in ms.items():
            if name not in per:
                order.append(name)
                per[name] = []
            per[name].append((t - c0) / 1000)
    n = len(ops) - missed
    print(f"{n} writes traced ({missed} left out: a milestone not found)\n")
    rows = sorted(order, key=lambda k: statistics.median(per[k]))
    print(f"{'milestone':34} {'since send us':>14} {'step us':>9}   (medians over the writes)")
    for k, name in enumerate(rows):
        m = statistics.median(per[name])
        step = 0.0 if k == 0 else statistics.median(
            a - b for a, b in zip(per[name], per[rows[k - 1]], strict=True))
        print(f"{name:34} {m:14.1f} {step:9.1f}")
    total = per["client receives"]
    q = statistics.quantiles(total, n=100)
    print(f"\nclient round trip: p50 {statistics.median(total):.1f} us, p90 {q[89]:.1f}, "
          f"p99 {q[98]:.1f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
