"""The asyncio server: connections, request pipeline, watches, four-letter words."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Callable

from roost.server.config import ConfigError, ServerConfig
from roost.server.core import Server

__all__ = ["ConfigError", "Server", "ServerConfig", "run_server"]


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed, else the default loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


async def serve(
    config: ServerConfig, ready: Callable[[Server], None] | None = None, handle_signals: bool = True
) -> None:
    server = Server(config)
    await server.start()
    if handle_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: loop.create_task(server.stop()))
        loop.add_signal_handler(signal.SIGHUP, server.reload_tls)
    if ready is not None:
        ready(server)
    await server.stopped.wait()
    logging.getLogger("roost.server").info("stopped")


#: The cyclic collector's thresholds for a server process. Each request allocates a few
#: short-lived containers that reference counting frees; with Python's default (700) the
#: young generation is scanned every ~100 requests and the long-lived tree is walked often.
#: Measured on the write path: ~3 us of server CPU per setData/create (see
#: docs/benchmarks.md).
GC_THRESHOLDS = (50_000, 50, 100)


def run_server(config: ServerConfig) -> None:
    """Run a server in this process until it stops (the `roost serve` entry point)."""
    gc.set_threshold(*GC_THRESHOLDS)
    loop = new_event_loop()
    try:
        loop.run_until_complete(serve(config))
    finally:
        loop.close()
