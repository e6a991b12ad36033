"""`connect()`: the one-line way to a started client.

    async with connect("h1:2181,h2:2181/app", session_timeout=10,
                       auth=[("digest", "user:secret")]) as zk:
        await zk.create("/x", b"1")
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from roost.client.client import Client


@contextlib.asynccontextmanager
async def connect(
    hosts: str = "127.0.0.1:2181",
    *,
    session_timeout: float = 10.0,
    auth: Sequence[tuple[str, str | bytes]] = (),
    read_only: bool = False,
    timeout: float | None = 15.0,
    **options: Any,
) -> AsyncIterator[Client]:
    """Start a `Client` (raise `ConnectionLossError` if no session within ``timeout``
    seconds), hand it to the ``async with`` body, and close it afterwards.

    ``hosts`` is ``"host:port[,host:port...][/chroot]"``; ``auth`` holds
    ``(scheme, credential)`` pairs sent on every connection; with ``read_only`` a
    server without quorum will do (state READ_ONLY). Any other keyword goes to
    `Client` (``retry_policy``, ``request_timeout``, ``default_acl``...).
    """
    client = Client(hosts, session_timeout=session_timeout, auth=auth, read_only=read_only,
                    **options)
    await client.start(timeout)
    try:
        yield client
    finally:
        await client.close()


__all__ = ["connect"]
