"""Go-style durations ("15s", "1m30s", "250ms") as Consul's API takes and prints them."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_seconds(text: str) -> float:
    """Seconds in a duration string; a bare number means seconds. ValueError if bad."""
    text = text.strip()
    if not text:
        raise ValueError("empty duration")
    try:
        return float(text)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for m in _PART.finditer(text):
        if m.start() != pos:
            raise ValueError(f"bad duration {text!r}")
        total += float(m.group(1)) * _UNIT_S[m.group(2)]
        pos = m.end()
    if pos != len(text):
        raise ValueError(f"bad duration {text!r}")
    return total


def lock_delay_seconds(raw: object) -> float:
    """Consul's LockDelay: a duration string, or a number of nanoseconds where numbers
    below 1000 are taken as seconds (as Consul does)."""
    if isinstance(raw, bool):
        raise ValueError("LockDelay: not a duration")
    if isinstance(raw, int | float):
        return float(raw) if raw < 1000 else raw / 1e9
    if isinstance(raw, str):
        return parse_seconds(raw)
    raise ValueError("LockDelay: not a duration")


def format_seconds(seconds: float) -> str:
    """"15s", "1.5s": what Consul prints for a TTL."""
    return f"{seconds:g}s"
