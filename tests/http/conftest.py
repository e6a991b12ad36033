"""Fixtures for the HTTP API tests: a standalone roost server with its HTTP API on a free
port (one per module), a py-consul client for it, and helpers for plain HTTP."""

from __future__ import annotations

import itertools
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import consul
import pytest

from roost.testing.server import RoostServer, free_port

_names = itertools.count()


def blocking_queries(http_port: int) -> int:
    """How many HTTP blocking queries (KV, catalog, health, sessions) the server at
    `http_port` has parked: its roost_http_blocking_queries gauge."""
    text = http("GET", f"http://127.0.0.1:{http_port}/metrics").body.decode()
    for line in text.splitlines():
        if line.startswith("roost_http_blocking_queries "):
            return int(float(line.split()[1]))
    raise AssertionError("no roost_http_blocking_queries in /metrics")


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


def http(method: str, url: str, body: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = 30.0) -> Reply:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Reply(resp.status, dict(resp.headers.items()), resp.read())
    except urllib.error.HTTPError as e:
        return Reply(e.code, dict(e.headers.items()), e.read())


@dataclass
class Served:
    server: RoostServer
    http_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def consul(self, token: str | None = None) -> consul.Consul:
        return consul.Consul(host="127.0.0.1", port=self.http_port, token=token)

    def get(self, path: str, **kw: object) -> Reply:
        return http("GET", self.url + path, **kw)  # type: ignore[arg-type]

    def put(self, path: str, body: bytes = b"", **kw: object) -> Reply:
        return http("PUT", self.url + path, body, **kw)  # type: ignore[arg-type]

    def post(self, path: str, body: bytes = b"", **kw: object) -> Reply:
        return http("POST", self.url + path, body, **kw)  # type: ignore[arg-type]

    def delete(self, path: str, **kw: object) -> Reply:
        return http("DELETE", self.url + path, **kw)  # type: ignore[arg-type]


def start_served(**overrides: object) -> Iterator[Served]:
    port = free_port()
    settings: dict[str, object] = {"fsync": False, **overrides}
    with RoostServer(http_port=port, **settings) as srv:
        yield Served(srv, port)


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    yield from start_served(super_digest="super:lK75jTNcA+U9vtVEw5vB51mj/w4=")


@pytest.fixture
def prefix() -> str:
    """A key prefix no other test uses."""
    return f"t{next(_names)}-{time.monotonic_ns() % 100000}/"
