"""The server's clocks, in one place so that a host can be given others.

`monotonic`: the clock of the replica core and of session liveness. It is `time.monotonic`,
unless the test-only environment variable ROOST_TEST_CLOCK_RATE
makes it run at another rate (the fault harness's clock-rate skew: a member whose clock
runs fast expires sessions early in real time, one whose clock runs slow answers them
late). The rate must be within [0.5, 2]; it is read once, when this module is imported.

`now_ms`: the wall clock in milliseconds, for the times a txn carries (a znode's ctime and
mtime, TTL and container reaping) and for what the admin commands report.
"""

from __future__ import annotations

import os
import time

RATE_ENV = "ROOST_TEST_CLOCK_RATE"


def _rate() -> float:
    raw = os.environ.get(RATE_ENV, "")
    if not raw:
        return 1.0
    try:
        rate = float(raw)
    except ValueError:
        raise SystemExit(f"{RATE_ENV}={raw!r} is not a number") from None
    if not 0.5 <= rate <= 2.0:
        raise SystemExit(f"{RATE_ENV}={raw!r} is outside [0.5, 2]")
    return rate


RATE = _rate()
_T0 = time.monotonic()


def monotonic() -> float:
    """Seconds on this host's (possibly skewed) monotonic clock."""
    if RATE == 1.0:
        return time.monotonic()
    return _T0 + (time.monotonic() - _T0) * RATE


def now_ms() -> int:
    """Milliseconds on the wall clock (not skewed: txn times are compared across members)."""
    return int(time.time() * 1000)
