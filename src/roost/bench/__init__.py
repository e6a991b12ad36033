"""roost bench: a pipelined ZooKeeper-protocol load generator, and a null server."""

from .config import SPECS, STANDARD, WORKLOADS, Config, parse_targets, parse_workloads
from .nullserver import NullServer
from .results import RawResult, Report, WorkloadResult, merge
from .runner import run_bench
from .session import BenchError, Session, percentile_ms, split

__all__ = [
    "SPECS",
    "STANDARD",
    "WORKLOADS",
    "BenchError",
    "Config",
    "NullServer",
    "RawResult",
    "Report",
    "Session",
    "WorkloadResult",
    "merge",
    "parse_targets",
    "parse_workloads",
    "percentile_ms",
    "run_bench",
    "split",
]
