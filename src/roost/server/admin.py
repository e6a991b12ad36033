"""Four-letter words, with output shaped like ZooKeeper 3.8's so existing tools parse it."""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import socket
import sys
import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Protocol

from roost.buildinfo import build_info
from roost.server.clock import now_ms
from roost.server.host import ServerHost

if TYPE_CHECKING:
    from roost.replica.sessions import Sessions
    from roost.server.connection import Connection
    from roost.server.stats import Stats
    from roost.server.streams import StreamHub
    from roost.server.watches import WatchManager


class AdminHost(ServerHost, Protocol):
    """What the four-letter words print of the server (`roost.server.core.Server`)."""

    @property
    def sessions(self) -> Sessions: ...
    @property
    def watches(self) -> WatchManager: ...
    @property
    def streams(self) -> StreamHub: ...
    @property
    def stats(self) -> Stats: ...
    @property
    def connections(self) -> Collection[Connection]: ...
    @property
    def mode(self) -> str: ...
    @property
    def serving(self) -> bool: ...
    @property
    def partitioned(self) -> bool: ...
    @property
    def port(self) -> int: ...
    @property
    def started(self) -> float: ...
    @property
    def packets_received(self) -> int: ...
    @property
    def packets_sent(self) -> int: ...
    @property
    def lat_min(self) -> float: ...
    @property
    def lat_max(self) -> float: ...
    @property
    def lat_sum(self) -> float: ...
    @property
    def lat_count(self) -> int: ...


def version() -> str:
    """Reported where ZooKeeper reports its own version (see `roost.buildinfo`)."""
    return build_info().zookeeper_version


def _latency(server: AdminHost) -> tuple[int, float, int]:
    avg = server.lat_sum / server.lat_count if server.lat_count else 0.0
    return round(server.lat_min), round(avg, 4), round(server.lat_max)


def _summary(server: AdminHost) -> list[str]:
    lo, avg, hi = _latency(server)
    outstanding = sum(len(c.slots) for c in server.connections)
    return [
        f"Latency min/avg/max: {lo}/{avg}/{hi}",
        f"Received: {server.packets_received}",
        f"Sent: {server.packets_sent}",
        f"Connections: {len(server.connections)}",
        f"Outstanding: {outstanding}",
        f"Zxid: 0x{server.tree.last_zxid:x}",
        f"Mode: {server.mode}",
        f"Node count: {server.tree.node_count()}",
    ]


def _conn_line(c: Connection, full: bool) -> str:
    base = f" /{c.ip}:{c.port}[1](queued={len(c.slots)},recved={c.received},sent={c.sent}"
    if not full:
        return base + ")"
    avg = c.lat_sum / c.lat_count if c.lat_count else 0.0
    return (
        base + f",sid=0x{c.session_id & 0xFFFFFFFFFFFFFFFF:x},lop={c.last_op},"
        f"est={int(c.established * 1000)},to={c.timeout_ms},lcxid=0x{c.last_cxid:x},"
        f"lzxid=0x{c.last_zxid & 0xFFFFFFFFFFFFFFFF:x},lresp={now_ms()},"
        f"llat={round(c.last_latency)},minlat={round(c.lat_min)},avglat={avg:.1f},"
        f"maxlat={round(c.lat_max)})"
    )


#: ZooKeeper's answer to most commands on a server that serves no client
NOT_SERVING = "This ZooKeeper instance is not currently serving requests\n"


def not_serving(server: AdminHost) -> str | None:
    """Why this server serves no client (None when it serves): its storage failed, a
    membership change removed it, or it waits, as a joiner, for its own addition."""
    log = server.log
    if log is None or server.serving:
        return None
    if log.failed is not None:
        return f"storage failed: {log.failed}"
    if getattr(log, "removed", False):
        return "removed from the ensemble"
    return "joining: not yet added to the ensemble"


def srvr(server: AdminHost) -> str:
    if not server.serving:
        return NOT_SERVING
    return "\n".join([f"Zookeeper version: {version()}", *_summary(server)]) + "\n"


def stat(server: AdminHost) -> str:
    if not server.serving:
        return NOT_SERVING
    lines = [f"Zookeeper version: {version()}", "Clients:"]
    lines += [_conn_line(c, False) for c in server.connections]
    lines.append("")
    return "\n".join(lines + _summary(server)) + "\n"


def cons(server: AdminHost) -> str:
    return "".join(_conn_line(c, True) + "\n" for c in server.connections) + "\n"


def conf(server: AdminHost) -> str:
    c = server.config
    rows = [
        ("clientPort", server.port),
        ("secureClientPort", -1),
        ("dataDir", os.path.abspath(c.data_dir)),
        ("dataDirSize", _dir_size(str(c.data_dir))),
        ("dataLogDir", os.path.abspath(c.data_dir)),
        ("dataLogSize", 0),
        ("tickTime", c.tick_ms),
        ("maxClientCnxns", c.max_client_connections),
        ("minSessionTimeout", c.min_session_timeout),
        ("maxSessionTimeout", c.max_session_timeout),
        ("clientPortListenBacklog", 1024),
        ("serverId", c.server_id),
    ]
    return "".join(f"{k}={v}\n" for k, v in rows)


def _dir_size(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(root, f))
    return total


def envi(server: AdminHost) -> str:
    rows = [
        ("zookeeper.version", version()),
        ("host.name", socket.gethostname()),
        ("java.version", f"python-{platform.python_version()}"),
        ("java.vendor", platform.python_implementation()),
        ("java.home", sys.prefix),
        ("java.class.path", ""),
        ("java.library.path", ""),
        ("java.io.tmpdir", "/tmp"),
        ("java.compiler", "<NA>"),
        ("os.name", platform.system()),
        ("os.arch", platform.machine()),
        ("os.version", platform.release()),
        ("user.name", os.environ.get("USER", "")),
        ("user.home", os.path.expanduser("~")),
        ("user.dir", os.getcwd()),
    ]
    return "Environment:\n" + "".join(f"{k}={v}\n" for k, v in rows)


def mntr(server: AdminHost) -> str:
    lo, avg, hi = _latency(server)
    tree = server.tree
    try:
        fds = len(os.listdir("/proc/self/fd"))
    except OSError:
        fds = -1
    rows: list[tuple[str, object]] = [
        ("version", version()),
        ("server_state", server.mode),
        ("avg_latency", avg),
        ("max_latency", hi),
        ("min_latency", lo),
        ("packets_received", server.packets_received),
        ("packets_sent", server.packets_sent),
        ("num_alive_connections", len(server.connections)),
        ("outstanding_requests", sum(len(c.slots) for c in server.connections)),
        ("uptime", int((time.time() - server.started) * 1000)),
        ("znode_count", tree.node_count()),
        ("watch_count", server.watches.count()),
        ("ephemerals_count", tree.ephemeral_count()),
        ("approximate_data_size", tree.approximate_data_size()),
        ("global_sessions", len(tree.sessions)),
        ("local_sessions", 0),
        ("open_file_descriptor_count", fds),
        ("max_file_descriptor_count", resource.getrlimit(resource.RLIMIT_NOFILE)[0]),
        ("last_zxid", tree.last_zxid),
        ("history_events", server.streams.history.events),
        ("history_bytes", server.streams.history.bytes),
        ("history_floor_zxid", server.streams.history.floor),
        ("history_streams", server.streams.count()),
    ]
    if server.log is not None:
        rows += [("fsync_count", server.log.fsync_count), ("commit_batches", server.log.batches)]
        rows.append(("storage_failed", int(server.log.failed is not None)))
    rows.append(("snapshot_failures", server.stats.snapshot_failures))
    why = not_serving(server)
    rows.append(("serving", int(why is None)))
    if why is not None:  # one line: what `roost cluster status` shows for this member
        rows.append(("not_serving_reason", " ".join(why.split())))
    rows += _raft_rows(server)
    return "".join(f"zk_{k}\t{v}\n" for k, v in rows)


def _raft_rows(server: AdminHost) -> list[tuple[str, object]]:
    """Ensemble figures: ZooKeeper's follower counts plus raft's term and indexes."""
    log = server.log
    if log is None or log.node is None:
        return []
    node = log.node
    raft = node.raft
    rows: list[tuple[str, object]] = [
        ("raft_term", node.term),
        ("raft_leader", node.leader),
        ("raft_commit_index", node.committed),
        ("raft_applied_index", log.last_index),
        ("raft_snapshot_index", log.snapshot_index),
    ]
    if log.is_leader:
        last = raft.log.last_index()
        followers = {i: p for i, p in raft.prs.items() if i != node.id}
        voters = node.conf_state.voters
        rows += [
            ("followers", len(followers)),
            (
                "synced_followers",
                sum(1 for i, p in followers.items() if i in voters and p.active),
            ),
            (
                "synced_observers",
                sum(1 for i, p in followers.items() if i not in voters and p.active),
            ),
            ("pending_syncs", 0),
        ]
        for i, p in sorted(followers.items()):
            # lag: entries behind; state: probe (not in contact yet), snapshot (receiving
            # one) or replicate; voter: 0 while a joiner is a learner (and for observers)
            rows += [
                (f"raft_follower_{i}_lag", last - p.match),
                (f"raft_follower_{i}_state", p.state.name.lower()),
                (f"raft_follower_{i}_voter", int(i in voters)),
            ]
    return rows


def wchs(server: AdminHost) -> str:
    by_path = server.watches.by_path()
    conns = {w for s in by_path.values() for w in s}
    total = sum(len(s) for s in by_path.values())
    return f"{len(conns)} connections watching {len(by_path)} paths\nTotal watches:{total}\n"


def dump(server: AdminHost) -> str:
    tree = server.tree
    lines = ["SessionTracker dump:", f"Session Sets ({len(server.sessions.deadlines)}):"]
    for sid in sorted(server.sessions.deadlines):
        lines.append(f"0x{sid & 0xFFFFFFFFFFFFFFFF:x}")
    with_eph = {sid: info for sid, info in tree.sessions.items() if info.ephemerals}
    lines += ["ephemeral nodes dump:", f"Sessions with Ephemerals ({len(with_eph)}):"]
    for sid in sorted(with_eph):
        lines.append(f"0x{sid & 0xFFFFFFFFFFFFFFFF:x}:")
        lines += [f"\t{p}" for p in sorted(with_eph[sid].ephemerals)]
    lines += ["Connections dump:", f"Connections Sets (1)/({len(server.connections)}):"]
    lines += [f"0x{c.session_id & 0xFFFFFFFFFFFFFFFF:x}" for c in server.connections]
    return "\n".join(lines) + "\n"


COMMANDS: dict[str, Callable[[AdminHost], str]] = {
    # ZooKeeper answers nothing when it is not running in a non-error state
    "ruok": lambda s: "" if s.log is not None and s.log.failed is not None else "imok",
    "isro": lambda s: "null" if not s.serving else "ro" if s.partitioned else "rw",
    "srvr": srvr,
    "stat": stat,
    "mntr": mntr,
    "conf": conf,
    "cons": cons,
    "envi": envi,
    "wchs": wchs,
    "dump": dump,
}


def run(server: AdminHost, cmd: str) -> str:
    return COMMANDS[cmd](server)
