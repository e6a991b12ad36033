"""One ensemble member's identity and addresses, as the replica core and its hosts see it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Member:
    """One ensemble member: where clients and peers reach it, and whether it votes."""

    id: int
    host: str
    client_port: int
    peer_port: int
    role: str = "voter"  # or "observer" (a raft learner)

    @property
    def voter(self) -> bool:
        return self.role == "voter"
