"""Read commands in JSON, binary-safe values (--raw, base64), values from stdin and @file."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from .conftest import run_cli

BINARY = bytes(range(256)) + b"\n\x00tail"


def test_create_makes_parents_like_the_readme(hosts: str) -> None:
    res = run_cli("create", "/config/db", "postgres://db.example/app")
    assert (res.code, res.out) == (0, "/config/db\n")
    assert run_cli("get", "/config/db").out == "postgres://db.example/app\n"
    strict = run_cli("create", "--no-parents", "/nowhere/x")
    assert (strict.code, strict.err) == (1, "roost: Node does not exist: /nowhere/x\n")


def test_binary_values_round_trip(hosts: str, tmp_path: Path) -> None:
    blob = tmp_path / "blob"
    blob.write_bytes(BINARY)
    assert run_cli("create", "/bin", f"@{blob}").code == 0
    assert run_cli("get", "--raw", "/bin").stdout == BINARY
    doc = json.loads(run_cli("get", "-o", "json", "/bin").out)
    assert base64.b64decode(doc["data"]) == BINARY and "data_utf8" not in doc
    assert doc["path"] == "/bin" and doc["stat"]["dataLength"] == len(BINARY)
    # from standard input
    assert run_cli("set", "/bin", "-", stdin=b"\xff\xfe from stdin").code == 0
    assert run_cli("get", "--raw", "/bin").stdout == b"\xff\xfe from stdin"
    # a literal value that starts with @
    assert run_cli("set", "/bin", "\\@home").code == 0
    assert run_cli("get", "/bin").out == "@home\n"


def test_json_on_every_read_command(hosts: str) -> None:
    run_cli("create", "/j/a", "héllo")
    run_cli("create", "/j/b")
    get = json.loads(run_cli("get", "--json", "/j/a").out)
    assert get["data_utf8"] == "héllo" and base64.b64decode(get["data"]) == "héllo".encode()
    assert set(get["stat"]) >= {"czxid", "mzxid", "version", "numChildren", "ephemeralOwner"}
    null = json.loads(run_cli("get", "-o", "json", "/j/b").out)
    assert null["data"] is None
    assert json.loads(run_cli("ls", "-o", "json", "/j").out) == {"path": "/j",
                                                                 "children": ["a", "b"]}
    tree = json.loads(run_cli("ls", "--write-out", "json", "-R", "/j").out)
    assert tree["paths"] == ["/j", "/j/a", "/j/b"]
    with_stat = json.loads(run_cli("ls", "--json", "-s", "/j").out)
    assert with_stat["stat"]["numChildren"] == 2
    stat = json.loads(run_cli("stat", "--json", "/j").out)
    assert stat["stat"] == with_stat["stat"]
    acl = json.loads(run_cli("getacl", "--json", "/j").out)
    assert acl["acl"] == [{"scheme": "world", "id": "anyone", "perms": "cdrwa"}]
    count = json.loads(run_cli("getAllChildrenNumber", "--json", "/j").out)
    assert count == {"path": "/j", "count": 2}
    who = json.loads(run_cli("whoami", "--json").out)
    assert {"scheme": "ip", "user": "127.0.0.1"} in who["identities"]
    created = json.loads(run_cli("create", "--json", "-s", "/j/seq-").out)
    assert created["path"].startswith("/j/seq-00")


def test_text_output_for_scripts(hosts: str) -> None:
    run_cli("create", "/t/x/y")
    assert run_cli("ls", "/t").out == "x\n"
    assert run_cli("ls", "-R", "/t").out == "/t\n/t/x\n/t/x/y\n"
    assert run_cli("ls", "/t/x/y").out == ""  # no children: nothing, not an empty line
    assert run_cli("get", "/t/x/y").out == "null\n"  # created without data: zkCli's null
    assert run_cli("get", "/t/x").out == "\n"  # a parent made on the way holds b""
    assert run_cli("getacl", "/t").out == "'world,'anyone\n: cdrwa\n"


def test_cluster_status_json(hosts: str) -> None:
    res = run_cli("cluster", "status", "--json", hosts)
    doc = json.loads(res.out)
    assert res.code == 0 and doc["members"][0]["member"] == hosts
    assert doc["members"][0]["mode"] == "standalone"
    down = run_cli("cluster", "status", "-o", "json", "127.0.0.1:1")
    assert down.code == 1 and json.loads(down.out)["members"][0]["mode"] == "down"
