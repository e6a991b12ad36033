"""Finding a read-write server while attached to a read-only one.

A ZooKeeper server answers the four-letter word ``isro`` with ``ro`` while it has
no quorum and ``rw`` otherwise (kazoo's and ZooKeeper's clients probe the same
way). A server that does not answer, or that refuses four-letter words, counts
as "not read-write".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence


async def is_read_write(host: str, port: int, timeout: float = 1.0) -> bool:
    """True if the server at ``host:port`` says ``rw`` to ``isro`` within ``timeout``."""
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"isro")
            await writer.drain()
            answer = await reader.read(16)
    except (OSError, TimeoutError):
        return False
    finally:
        if writer is not None:
            writer.transport.abort()
    return answer.strip() == b"rw"


async def find_rw_server(
    hosts: Sequence[tuple[str, int]], timeout: float = 1.0
) -> tuple[str, int] | None:
    """The first of ``hosts`` (in order) that answers ``rw``, or None."""
    for host in hosts:
        with contextlib.suppress(Exception):
            if await is_read_write(*host, timeout=timeout):
                return host
    return None


__all__ = ["find_rw_server", "is_read_write"]
