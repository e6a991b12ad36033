"""Random KV operations through py-consul checked against a dict (seeded)."""

from __future__ import annotations

import random

import pytest
from conftest import Served

KEYS = ["a", "a/b", "a/b/c", "ab", "b", "c/d", "c/d/e/f", "dir/"]
PREFIXES = ["", "a", "a/", "a/b", "c/", "d", "dir"]


@pytest.mark.parametrize("seed", [1, 2])
def test_random_operations_match_a_model(served: Served, seed: int) -> None:
    rng = random.Random(seed)
    base = f"model{seed}/"
    c = served.consul()
    model: dict[str, tuple[bytes, int]] = {}

    def index_of(k: str) -> int:
        _i, item = c.kv.get(base + k)
        return 0 if item is None else int(item["ModifyIndex"])

    for step in range(150):
        k = rng.choice(KEYS)
        op = rng.choice(["put", "put", "cas", "stale_cas", "delete", "delete_cas", "rdelete",
                         "get", "list", "keys"])
        where = f"seed {seed} step {step}: {op} {k}"
        if op == "put":
            v, f = rng.randbytes(rng.randrange(0, 8)), rng.randrange(0, 100)
            assert c.kv.put(base + k, v, flags=f) is True, where
            model[k] = (v, f)
        elif op == "cas":
            v = rng.randbytes(4)
            assert c.kv.put(base + k, v, cas=index_of(k)) is True, where
            model[k] = (v, 0)
        elif op == "stale_cas":
            idx = index_of(k)
            wrong = idx + 1000 if idx == 0 else idx - 1
            assert c.kv.put(base + k, b"no", cas=wrong) is False, where
        elif op == "delete":
            assert c.kv.delete(base + k) is True, where
            model.pop(k, None)
        elif op == "delete_cas":
            idx = index_of(k)
            if idx:
                assert c.kv.delete(base + k, cas=idx) is True, where
                model.pop(k, None)
        elif op == "rdelete":
            p = rng.choice(PREFIXES[1:])
            assert c.kv.delete(base + p, recurse=True) is True, where
            for key in [key for key in model if key.startswith(p)]:
                del model[key]
        elif op == "get":
            _i, item = c.kv.get(base + k)
            if k in model:
                assert item is not None, where
                assert (item["Value"] or b"", item["Flags"]) == model[k], where
            else:
                assert item is None, where
        else:
            p = rng.choice(PREFIXES)
            want = sorted(key for key in model if key.startswith(p))
            if op == "list":
                _i, items = c.kv.get(base + p, recurse=True)
                got = [(i["Key"], i["Value"] or b"", i["Flags"]) for i in items or []]
                assert got == [(base + key, *model[key]) for key in want], where
            else:
                _i, keys = c.kv.get(base + p, keys=True)
                assert (keys or []) == [base + key for key in want], where
