"""What a benchmark run is: its configuration and the workloads it knows."""

from __future__ import annotations

from dataclasses import dataclass, field

from roost.wire.opcodes import Perm
from roost.wire.records import ACL, Id

OPEN_ACL = [ACL(int(Perm.ALL), Id("world", "anyone"))]
#: untimed nodes made per session for set/get/mixed when too few exist
SETUP_POOL = 1000
#: data size of the churned ephemerals and of the watched node's new data
SMALL = 100


@dataclass(frozen=True)
class Spec:
    """One workload: its kind, and the data size and read ratio it fixes (None: from config)."""

    kind: str
    size: int | None = None
    read_ratio: float | None = None
    about: str = ""


SPECS: dict[str, Spec] = {
    "create-100": Spec("create", 100, about="create persistent nodes of 100 B"),
    "create-1k": Spec("create", 1024, about="create persistent nodes of 1 KiB"),
    "set-1k": Spec("set", 1024, about="setData of 1 KiB on existing nodes"),
    "get-1k": Spec("get", 1024, about="getData of 1 KiB nodes, data checked"),
    "exists-missing": Spec("exists", about="exists on nodes that do not exist (NoNode)"),
    "mixed-90": Spec("mixed", 1024, 0.9, about="90% getData / 10% setData, 1 KiB"),
    "watch-fanout": Spec("fanout", about="--watchers sessions watch one node; one setData"),
    "session-churn": Spec("sessions", about="connect + closeSession, one op each"),
    "ephemeral-churn": Spec("ephemeral", SMALL, about="create + delete of ephemeral nodes"),
    # the generic ones, with --size and --read-ratio
    "create": Spec("create", about="create persistent nodes of --size bytes"),
    "set": Spec("set", about="setData of --size bytes"),
    "get": Spec("get", about="getData of --size byte nodes, data checked"),
    "delete": Spec("delete", about="delete nodes made before"),
    "mixed": Spec("mixed", about="--read-ratio getData, the rest setData"),
}
WORKLOADS = tuple(SPECS)
#: kinds that are not a stream of requests, so cannot be paced by --rate
UNPACED_KINDS = frozenset({"fanout", "sessions"})
#: what `roost bench` runs when no --workloads is given: the performance issue's list
STANDARD = (
    "create-100",
    "create-1k",
    "set-1k",
    "get-1k",
    "exists-missing",
    "mixed-90",
    "watch-fanout",
    "session-churn",
    "ephemeral-churn",
)


@dataclass
class Config:
    targets: list[tuple[str, int]]
    processes: int = 1
    #: sessions per process
    clients: int = 4
    pipeline: int = 16
    #: requests per workload, over all processes and sessions
    ops: int = 10000
    size: int = 1024
    workloads: list[str] = field(default_factory=lambda: list(STANDARD))
    read_ratio: float = 0.9
    #: watcher sessions of the watch-fanout workload, over all processes
    watchers: int = 1000
    max_seconds: float = 60.0
    stall_seconds: float = 30.0
    session_timeout_ms: int = 30000
    base: str | None = None
    seed: int = 1
    #: check read data and NoNode answers (off for the null server, which answers OK to all)
    check: bool = True
    #: open loop: requests per second over all processes and sessions (None: closed loop,
    #: ``pipeline`` in flight per session; with a rate, ``pipeline`` caps what is in flight)
    rate: float | None = None

    def size_of(self, name: str) -> int:
        size = SPECS[name].size
        return self.size if size is None else size

    def ratio_of(self, name: str) -> float:
        kind = SPECS[name].kind
        if kind == "get":
            return 1.0
        if kind == "set":
            return 0.0
        ratio = SPECS[name].read_ratio
        return self.read_ratio if ratio is None else ratio

    def target_of(self, proc: int, session: int) -> tuple[str, int]:
        """Sessions are spread round-robin over the targets."""
        return self.targets[(proc * self.clients + session) % len(self.targets)]

    @property
    def session_count(self) -> int:
        return self.processes * self.clients

    @property
    def target_text(self) -> str:
        return ",".join(f"{h}:{p}" for h, p in self.targets)


def parse_targets(text: str) -> list[tuple[str, int]]:
    """``HOST:PORT[,HOST:PORT...]`` into pairs; ValueError when malformed."""
    out = []
    for item in text.split(","):
        host, sep, port = item.strip().rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"expected HOST:PORT, got {item!r}")
        out.append((host.strip("[]"), int(port)))
    return out


def parse_workloads(text: str) -> list[str]:
    """Comma-separated workload names (``standard`` for the standard list)."""
    names: list[str] = []
    for w in (x.strip() for x in text.split(",")):
        if w == "standard":
            names.extend(STANDARD)
        elif w:
            names.append(w)
    bad = [w for w in names if w not in SPECS]
    if bad or not names:
        raise ValueError(f"unknown workload(s) {bad}; choose from {', '.join(WORKLOADS)}")
    return names


def paced_workloads(names: list[str]) -> list[str]:
    """The workloads of ``names`` that --rate can pace (all but watch-fanout, session-churn)."""
    return [w for w in names if SPECS[w].kind not in UNPACED_KINDS]


def rate_problem(cfg: Config) -> str | None:
    """Why ``cfg.rate`` cannot be used as configured (None: it can, or there is no rate)."""
    if cfg.rate is None:
        return None
    if not cfg.rate > 0:
        return f"--rate must be positive, got {cfg.rate}"
    bad = [w for w in cfg.workloads if w not in paced_workloads(cfg.workloads)]
    if bad:
        return (
            f"--rate does not apply to {', '.join(bad)}: not a stream of requests "
            "that can be sent on a schedule; leave it out of --workloads"
        )
    interval = cfg.session_count / cfg.rate
    if interval > cfg.session_timeout_ms / 3000:
        return (
            f"--rate {cfg.rate:g} leaves {interval:.1f}s between one session's requests, "
            f"too long for a {cfg.session_timeout_ms} ms session timeout; "
            "raise the rate or use fewer --clients/--processes"
        )
    return None
