"""HTTP API next to the ZooKeeper port: Consul-style KV and sessions, status, Prometheus
metrics and a web dashboard, served by aiohttp on the server's own event loop."""

from roost.http.app import HttpApi, start_http

__all__ = ["HttpApi", "start_http"]
