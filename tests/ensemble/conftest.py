"""Print the failover figures of roost and ZooKeeper side by side after the run."""

from __future__ import annotations

import pytest

from .helpers import FAILOVER_FIGURES, describe_failover


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FAILOVER_FIGURES:
        return
    terminalreporter.section("ensemble failover: leader SIGKILL, writer on a follower")
    for name, run in FAILOVER_FIGURES.items():
        terminalreporter.write_line(f"{name:<10} {describe_failover(run)}")
