"""HTTP API next to the ZooKeeper port: Consul-style KV and sessions, status, Prometheus
metrics and a web dashboard, served by aiohttp on the server's own event loop."""

from roost.http.app import HttpApi
from roost.http.metrics import Exporter, MetricsPort

__all__ = ["Exporter", "HttpApi", "MetricsPort"]
