"""The asyncio server: connections, request pipeline, watches, four-letter words.

roost.node runs it with its front ends (HTTP API, metrics port)."""

from __future__ import annotations

import asyncio

from roost.server.config import ConfigError, ServerConfig
from roost.server.core import Server, ServerCrashed

__all__ = [
    "GC_THRESHOLDS",
    "ConfigError",
    "Server",
    "ServerConfig",
    "ServerCrashed",
    "new_event_loop",
]


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed, else the default loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


#: The cyclic collector's thresholds for a server process. Each request allocates a few
#: short-lived containers that reference counting frees; with Python's default (700) the
#: young generation is scanned every ~100 requests and the long-lived tree is walked often.
#: Measured on the write path: ~3 us of server CPU per setData/create (see
#: docs/benchmarks.md).
GC_THRESHOLDS = (50_000, 50, 100)
