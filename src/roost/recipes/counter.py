"""Counter: an integer in one node, changed by compare-and-set on the node version.

The value is stored as ASCII decimal (kazoo's `Counter` format), so kazoo and roost can
share a counter.
"""

from __future__ import annotations

from roost.client import BadVersionError, Client, NodeExistsError, NoNodeError


class Counter:
    def __init__(self, client: Client, path: str, default: int = 0) -> None:
        self.client = client
        self.path = path
        self.default = default
        self.retries = 0  # CAS conflicts seen, for curiosity and tests

    async def value(self) -> int:
        try:
            data, _ = await self.client.get(self.path)
        except NoNodeError:
            return self.default
        return int(data or b"0")

    async def add(self, delta: int = 1) -> int:
        """Add ``delta`` atomically; return the new value."""
        while True:
            try:
                data, stat = await self.client.get(self.path)
            except NoNodeError:
                new = self.default + delta
                try:
                    await self.client.create(self.path, str(new).encode(), make_parents=True)
                    return new
                except NodeExistsError:
                    self.retries += 1
                    continue
            new = int(data or b"0") + delta
            try:
                await self.client.set(self.path, str(new).encode(), stat.version)
                return new
            except (BadVersionError, NoNodeError):
                self.retries += 1

    async def subtract(self, delta: int = 1) -> int:
        return await self.add(-delta)


__all__ = ["Counter"]
