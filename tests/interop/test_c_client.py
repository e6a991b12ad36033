"""The C client's shell, cli_mt (Debian's zookeeper-bin), against roost and ZooKeeper.

The C client differs from Java and kazoo on the wire: its xids start at time(0) rather
than 1, and it re-sends watches after a reconnect with SetWatches under the special xid -8.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.security import make_digest_acl

from roost.testing.proxy import TcpProxy
from roost.testing.wait import wait_until
from roost.testing.zookeeper import four_letter_word

from .climt import CliMt
from .conftest import Backend

pytestmark = pytest.mark.compat

BASE = "/interop-c"
NONODE, NOAUTH, NOCHILDRENFOREPHEMERALS, NODEEXISTS, NOTEMPTY = -101, -102, -108, -110, -111


def last_xid(backend: Backend, session: str) -> int:
    """The last xid the server got on the session's connection, from the `cons` word."""
    for line in four_letter_word(backend.host, backend.port, "cons").splitlines():
        found = re.search(r"sid=(0x[0-9a-f]+),.*lcxid=(0x[0-9a-f]+)", line)
        if found and int(found.group(1), 16) == int(session, 16):
            return int(found.group(2), 16)
    raise AssertionError(f"session {session} is not in cons")


def test_scripted_session(backend: Backend, admin: KazooClient, cli_mt: Path) -> None:
    b = f"{BASE}/session"
    admin.ensure_path(BASE)
    started = int(time.time())
    with CliMt(cli_mt, backend.hosts) as cli:
        session = cli.wait_connected()
        assert cli.create(b) == (0, b)
        assert cli.create(f"{b}/node") == (0, f"{b}/node")
        rc, value, stat = cli.get(f"{b}/node")  # also sets a data watch
        assert (rc, value) == (0, "new")  # cli_mt always creates with the data "new"
        assert (stat["version"], stat["aversion"], stat["ephemeralOwner"]) == ("0", "0", "0")
        assert stat["czxid"] == stat["mzxid"]
        # the C client numbers its requests from time(0), not from 1
        assert last_xid(backend, session) >= started

        start = cli.proc.mark
        rc, changed = cli.set(f"{b}/node", "hello world")
        assert rc == 0
        assert changed["version"] == "1"
        assert changed["czxid"] == stat["czxid"]
        assert int(changed["mzxid"], 16) > int(stat["mzxid"], 16)
        event, _ = cli.wait_for(rf"^Watcher CHANGED_EVENT .* for path {b}/node$", start)
        assert event < cli.last_reply, "the watch event must come before the set's reply"
        assert cli.get(f"{b}/node")[:2] == (0, "hello world")

        assert cli.create(f"{b}/eph", "e") == (0, f"{b}/eph")
        assert cli.create(f"{b}/seq-", "s") == (0, f"{b}/seq-0000000002")
        assert cli.create(f"{b}/es-", "es") == (0, f"{b}/es-0000000003")
        rc, children = cli.ls(b)
        assert rc == 0
        assert sorted(children) == ["eph", "es-0000000003", "node", "seq-0000000002"]
        _, eph_stat = admin.get(f"{b}/eph")
        assert eph_stat.ephemeralOwner == int(session, 16)
        assert admin.get(f"{b}/node")[0] == b"hello world"

        assert cli.get(f"{b}/missing")[0] == NONODE
        assert cli.set(f"{b}/missing", "x")[0] == NONODE
        assert cli.ls(f"{b}/missing")[0] == NONODE
        assert cli.delete(f"{b}/missing") == NONODE
        assert cli.create(f"{b}/missing/x") == (NONODE, None)
        assert cli.create(f"{b}/node") == (NODEEXISTS, None)
        assert cli.create(f"{b}/eph/kid") == (NOCHILDRENFOREPHEMERALS, None)
        assert cli.delete(b) == NOTEMPTY
        assert cli.exists(f"{b}/node") == 0
        assert cli.exists(f"{b}/missing") == NONODE
        assert cli.sync(f"{b}/node") == 0

        assert cli.delete(f"{b}/seq-0000000002") == 0
        assert admin.exists(f"{b}/seq-0000000002") is None

        admin.create(f"{b}/secret", b"s3cret", acl=[make_digest_acl("alice", "secret", all=True)])
        assert cli.get(f"{b}/secret")[0] == NOAUTH
        cli.addauth("digest", "alice:secret")
        assert cli.get(f"{b}/secret")[:2] == (0, "s3cret")

        assert cli.quit() == 0
    # quitting closed the session: its ephemeral nodes are gone
    wait_until(lambda: admin.exists(f"{b}/eph") is None, 15, what=f"{b}/eph to go")
    assert sorted(admin.get_children(b)) == ["node", "secret"]


def test_reconnect_resends_watches(backend: Backend, admin: KazooClient, cli_mt: Path) -> None:
    b = f"{BASE}/reconnect"
    admin.ensure_path(b)
    admin.create(f"{b}/node", b"v0")
    admin.create(f"{b}/doomed", b"d")
    with TcpProxy((backend.host, backend.port)) as proxy, CliMt(cli_mt, proxy.hosts) as cli:
        cli.wait_connected()
        assert cli.get(f"{b}/node")[:2] == (0, "v0")
        assert cli.get(f"{b}/doomed")[:2] == (0, "d")
        assert cli.exists(f"{b}/later", watch=True) == NONODE
        rc, children = cli.ls(b)
        assert (rc, sorted(children)) == (0, ["doomed", "node"])
        start = cli.proc.mark
        proxy.cut()
        cli.wait_for(r"^Watcher SESSION_EVENT state = CONNECTING_STATE$", start)
        admin.set(f"{b}/node", b"v1")
        admin.create(f"{b}/later")
        admin.delete(f"{b}/doomed")
        proxy.heal()
        # on reconnecting, the C client re-sends its watches (SetWatches, xid -8) and the
        # server reports every change it missed
        cli.wait_for(r"^Watcher SESSION_EVENT state = CONNECTED_STATE$", start)
        for kind, path in [
            ("CHANGED_EVENT", f"{b}/node"),
            ("DELETED_EVENT", f"{b}/doomed"),
            ("CREATED_EVENT", f"{b}/later"),
            ("CHILD_EVENT", b),
        ]:
            cli.wait_for(rf"^Watcher {kind} state = CONNECTED_STATE for path {path}$", start)
        assert not [line for line in cli.lines[start:] if line.startswith("Got a new session")]
        assert cli.get(f"{b}/node")[:2] == (0, "v1")
        assert proxy.accepted >= 2
        assert cli.quit() == 0
