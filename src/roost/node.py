"""A roost server process: the ZooKeeper server with its front ends wired in.

The server package knows nothing of HTTP; this module adds what the configuration asks
for, as addons the server starts after itself and stops before itself: the HTTP API
(Consul-style KV and sessions, `/metrics`, the dashboard) and the metrics port. Both
read one metrics exporter. `roost.http` (aiohttp, prometheus_client: ~0.4 s) is imported
only when the configuration enables one of them, so a plain server starts sooner.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from roost.server import GC_THRESHOLDS, Server, ServerConfig, ServerCrashed, new_event_loop

if TYPE_CHECKING:
    from roost.http import Exporter, HttpApi


class HttpAddon:
    """The HTTP API, built when the server starts (it reads the recovered tree)."""

    def __init__(self, server: Server, exporter: Exporter) -> None:
        self.server = server
        self.exporter = exporter
        self.api: HttpApi | None = None

    async def start(self) -> None:
        from roost.http import HttpApi

        api = HttpApi(self.server, self.exporter)
        await api.start()
        self.api = api

    async def stop(self) -> None:
        api, self.api = self.api, None
        if api is not None:
            await api.stop()


def build_server(config: ServerConfig) -> Server:
    """A server with the HTTP API and the metrics port its config enables."""
    server = Server(config)
    if config.http_port is None and config.metrics_port is None:
        return server
    from roost.http import Exporter, MetricsPort

    exporter = Exporter(server)
    if config.http_port is not None:
        server.addons.append(HttpAddon(server, exporter))
    if config.metrics_port is not None:
        server.addons.append(MetricsPort(exporter, config.metrics_host, config.metrics_port))
    return server


def http_api(server: Server) -> HttpApi | None:
    """The running HTTP API of a server made by `build_server`, if any."""
    for addon in server.addons:
        if isinstance(addon, HttpAddon):
            return addon.api
    return None


def metrics_port(server: Server) -> int | None:
    """The port the metrics are served on (the bound one when configured as 0), if any."""
    if "roost.http" not in sys.modules:
        return None  # no metrics port was built
    from roost.http import MetricsPort

    for addon in server.addons:
        if isinstance(addon, MetricsPort):
            return addon.port
    return None


async def serve(
    config: ServerConfig, ready: Callable[[Server], None] | None = None, handle_signals: bool = True
) -> None:
    server = build_server(config)
    await server.start()
    if handle_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: loop.create_task(server.stop()))
        loop.add_signal_handler(signal.SIGHUP, server.reload_tls)  # TLS certificate files
    if ready is not None:
        ready(server)
    await server.stopped.wait()
    if server.crashed is not None:
        raise ServerCrashed(f"stopped after an internal error: {server.crashed!r}") from (
            server.crashed
        )
    logging.getLogger("roost.server").info("stopped")


def run_server(config: ServerConfig) -> None:
    """Run a server in this process until it stops (the `roost serve` entry point)."""
    gc.set_threshold(*GC_THRESHOLDS)
    loop = new_event_loop()
    try:
        loop.run_until_complete(serve(config))
    finally:
        loop.close()
