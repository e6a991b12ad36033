"""A txn's bytes depend on its values only (Txn.to_bytes reuses the encodable form of the
identities tuple it saw last: it must never hand out another tuple's)."""

from __future__ import annotations

import threading

from roost.tree.txn import Kind, Txn
from roost.wire.records import Id


def _txn(auth: tuple[Id, ...]) -> Txn:
    return Txn(Kind.REQUEST, 7, 1000, auth, 1, b"body", origin=1, boot=2, seq=3)


def test_bytes_follow_the_identities_whatever_was_encoded_before() -> None:
    a = (Id("ip", "127.0.0.1"),)
    a_copy = (Id("ip", "127.0.0.1"),)
    b = (Id("ip", "10.0.0.1"), Id("digest", "u:x"))
    order = [a, a, b, a_copy, (), b, b, a, ()]
    encoded = [_txn(auth).to_bytes() for auth in order]
    for auth, data in zip(order, encoded, strict=True):
        back = Txn.from_bytes(data)
        assert back.auth == auth
        assert data == _txn(tuple(Id(i.scheme, i.id) for i in auth)).to_bytes()
    assert encoded[0] == encoded[3] != encoded[2]


def test_threads_do_not_share_the_last_identities() -> None:
    tuples = [(Id("ip", f"10.0.0.{i}"),) for i in range(8)]
    wrong: list[str] = []

    def work(k: int) -> None:
        for n in range(2000):
            auth = tuples[(k + n) % len(tuples)]
            if Txn.from_bytes(_txn(auth).to_bytes()).auth != auth:
                wrong.append(f"thread {k} round {n}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong
