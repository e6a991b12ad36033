"""The server list of a connect string and the reasons a connect attempt failed, as text."""

from __future__ import annotations

import os
import re
import socket

DEFAULT_PORT = 2181


def parse_hosts(hosts: str) -> tuple[list[tuple[str, int]], str]:
    """``"h1:2181,h2:2182/app"`` -> ``([("h1", 2181), ("h2", 2182)], "/app")``."""
    chroot = ""
    if "/" in hosts:
        hosts, rest = hosts.split("/", 1)
        chroot = "/" + rest.rstrip("/") if rest.strip("/") else ""
    out: list[tuple[str, int]] = []
    for item in hosts.split(","):
        item = item.strip()
        if not item:
            continue
        if item.startswith("["):  # [ipv6]:port
            host, _, port = item[1:].partition("]")
            port = port.lstrip(":")
        else:
            host, _, port = item.rpartition(":") if ":" in item else (item, "", "")
        out.append((host, int(port) if port else DEFAULT_PORT))
    if not out:
        raise ValueError(f"no server in {hosts!r}")
    return out, chroot


def format_addr(host: tuple[str, int]) -> str:
    return f"[{host[0]}]:{host[1]}" if ":" in host[0] else f"{host[0]}:{host[1]}"


def failure_reason(e: BaseException) -> str:
    """A short reason for a failed connect (``Connection refused``, ``timed out``...)."""
    if isinstance(e, TimeoutError):
        return "no answer in time"
    if isinstance(e, OSError) and not isinstance(e, socket.gaierror) and e.errno:
        return os.strerror(e.errno)  # asyncio's own text is "Connect call failed (...)"
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    text = str(e)
    if text.startswith("Multiple exceptions: "):  # asyncio, one per resolved address
        text = text.removeprefix("Multiple exceptions: ")
        text = re.sub(r"\[Errno \d+\] ", "", text)
    return text or type(e).__name__
