"""The membership registry's pure parts: ZooKeeper's reconfig strings, non-incremental
changes, configuration versions and /zookeeper/config's text."""

from __future__ import annotations

import pytest

from roost.replica.member import Member
from roost.replica.membership import (
    CONFIG_PATH,
    Change,
    ReconfigError,
    StaleConfigError,
    apply_change,
    config_version,
    parse_zk_reconfig,
    write_config,
)
from roost.tree import DataTree

M = {i: Member(i, f"10.0.0.{i}", 2180 + i, 2880 + i) for i in (1, 2, 3)}


def line(m: Member, role: str = "participant") -> str:
    return f"server.{m.id}={m.host}:{m.peer_port}:{m.peer_port}:{role};{m.host}:{m.client_port}"


def test_new_members_adds_removes_and_readdresses() -> None:
    moved = Member(3, "10.0.0.33", 2183, 2883)
    new = Member(4, "10.0.0.4", 2184, 2884, "observer")
    spec = ",".join([line(M[1]), line(moved), line(new, "observer")])
    change = parse_zk_reconfig(None, None, spec, M, 7)
    assert change == Change((moved, new), (2, 3), 7)
    assert apply_change(M, change, 7) == {1: M[1], 3: moved, 4: new}
    assert Change.from_bytes(change.to_bytes()) == change


def test_new_members_errors() -> None:
    with pytest.raises(ReconfigError):
        parse_zk_reconfig(None, None, ",".join(line(m) for m in M.values()), M)  # no change
    with pytest.raises(ReconfigError):
        parse_zk_reconfig("server.4=h:1:1;2", None, line(M[1]), M)
    with pytest.raises(ReconfigError):
        parse_zk_reconfig(None, None, "server.x=y", M)


def test_a_change_for_an_older_configuration_is_refused_when_applied() -> None:
    change = parse_zk_reconfig(None, "2", None, M, 5)
    with pytest.raises(StaleConfigError):
        apply_change(M, change, 9)
    assert 2 not in apply_change(M, parse_zk_reconfig(None, "2", None, M), 9)
    # a change encoded before versions existed still decodes
    old = Change((), (2,))
    assert Change.from_bytes(old.to_bytes()).version == -1


def test_config_node_text_and_versions() -> None:
    tree = DataTree()
    assert write_config(tree, M) == []  # founding: no event, stat untouched
    node = tree.get(CONFIG_PATH)
    assert node is not None and node.version == 0 and node.mzxid == 0
    assert node.data == "\n".join([*(line(m) for m in M.values()), "version=0"]).encode()
    events = write_config(tree, {1: M[1]}, 0x1A, 5)
    assert [e.path for e in events] == [CONFIG_PATH] and config_version(tree) == 0x1A
    assert node.data == f"{line(M[1])}\nversion=1a".encode()
    assert tree.approximate_data_size() >= len(node.data)
