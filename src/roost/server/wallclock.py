"""The wall clock a txn's time is read from (one place, so that a host can be given another)."""

from __future__ import annotations

import time


def now_ms() -> int:
    return int(time.time() * 1000)
