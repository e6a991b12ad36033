"""kazoo against both backends: server_version() and four-letter words.

The output is parsed the way ZooKeeper prints it (the shape, not exact numbers).
"""

from __future__ import annotations

import re

import pytest
from kazoo.client import KazooClient

from roost.testing.zookeeper import four_letter_word

from .conftest import Backend, ClientFactory
from .helpers import Collector

pytestmark = pytest.mark.compat

CLIENT_LINE = re.compile(r"^ /127\.0\.0\.1:\d+\[\d+\]\((.*)\)$")


def fields(text: str, sep: str) -> dict[str, str]:
    """Parse "key<sep>value" lines (the first separator splits)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if sep in line:
            key, value = line.split(sep, 1)
            out[key] = value
    return out


def srvr_fields(text: str) -> dict[str, str]:
    return {k: v.strip() for k, v in fields(text, ":").items()}


def test_ruok(zk: KazooClient) -> None:
    assert zk.command(b"ruok") == "imok"


def test_isro(zk: KazooClient) -> None:
    assert zk.command(b"isro") == "rw"


def test_server_version(zk: KazooClient) -> None:
    version = zk.server_version()
    assert isinstance(version, tuple)
    assert len(version) >= 3
    assert all(isinstance(part, int) for part in version)
    assert version >= (3, 5, 0)


def test_envi(zk: KazooClient) -> None:
    text = zk.command(b"envi")
    lines = text.splitlines()
    assert lines[0] == "Environment:"
    env = fields(text, "=")
    assert re.match(r"^\d+\.\d+\.\d+", env["zookeeper.version"])
    for key in ("host.name", "java.version", "os.name", "user.dir"):
        assert key in env


def expected_modes(backend: Backend) -> set[str]:
    """What `Mode:` / zk_server_state a member may report."""
    return {"leader", "follower"} if backend.is_ensemble else {"standalone"}


def check_srvr_body(info: dict[str, str], backend: Backend) -> None:
    assert re.match(r"^\d+\.\d+\.\d+", info["Zookeeper version"])
    assert re.fullmatch(r"\d+/\d+(\.\d+)?/\d+", info["Latency min/avg/max"])
    for key in ("Received", "Sent", "Connections", "Outstanding", "Node count"):
        assert re.fullmatch(r"\d+", info[key]), (key, info[key])
    assert re.fullmatch(r"0x[0-9a-f]+", info["Zxid"])
    assert info["Mode"] in expected_modes(backend)


def test_srvr(zk: KazooClient, backend: Backend) -> None:
    text = zk.command(b"srvr")
    assert text.startswith("Zookeeper version: ")
    info = srvr_fields(text)
    check_srvr_body(info, backend)
    assert int(info["Connections"]) >= 1
    # the zxid tracks writes
    before = int(info["Zxid"], 16)
    zk.create("/bump", b"")
    after = int(srvr_fields(zk.command(b"srvr"))["Zxid"], 16)
    assert after > before
    assert after >= zk.exists("/bump").czxid


def test_srvr_node_count_tracks_creates(zk: KazooClient) -> None:
    before = int(srvr_fields(zk.command(b"srvr"))["Node count"])
    zk.create("/n1", b"")
    zk.create("/n2", b"")
    after = int(srvr_fields(zk.command(b"srvr"))["Node count"])
    assert after == before + 2


def test_stat(zk: KazooClient, backend: Backend) -> None:
    text = zk.command(b"stat")
    lines = text.splitlines()
    assert lines[0].startswith("Zookeeper version: ")
    assert lines[1] == "Clients:"
    client_lines = []
    for line in lines[2:]:
        if not line:
            break
        client_lines.append(line)
    assert client_lines, text
    for line in client_lines:
        m = CLIENT_LINE.match(line)
        assert m, line
        assert re.fullmatch(r"queued=\d+,recved=\d+,sent=\d+", m.group(1)), line
    info = srvr_fields("\n".join(lines[len(client_lines) + 3 :]))
    check_srvr_body({**info, "Zookeeper version": lines[0].split(": ", 1)[1]}, backend)


def mntr(backend: Backend) -> dict[str, str]:
    # ZooKeeper's mntr is longer than the 8192 bytes kazoo's command() reads at once
    text = four_letter_word(backend.host, backend.port, "mntr")
    assert text.endswith("\n")
    lines = text.splitlines()
    assert all(re.fullmatch(r"zk_\w+\t\S.*", line) for line in lines), text
    return fields(text, "\t")


def test_mntr_via_kazoo(zk: KazooClient, backend: Backend) -> None:
    lines = zk.command(b"mntr").splitlines()
    assert lines[0].startswith("zk_version\t")
    key, state = lines[1].split("\t")
    assert key == "zk_server_state" and state in expected_modes(backend)


def test_mntr(zk: KazooClient, backend: Backend) -> None:
    zk.create("/eph", b"", ephemeral=True)
    m = mntr(backend)
    lines = list(m)
    assert lines[0] == "zk_version"
    assert m["zk_server_state"] in expected_modes(backend)
    for key in (
        "zk_znode_count",
        "zk_watch_count",
        "zk_ephemerals_count",
        "zk_num_alive_connections",
        "zk_outstanding_requests",
        "zk_packets_received",
        "zk_packets_sent",
        "zk_approximate_data_size",
    ):
        assert re.fullmatch(r"-?\d+", m[key]), (key, m.get(key))
    assert int(m["zk_ephemerals_count"]) >= 1
    assert int(m["zk_num_alive_connections"]) >= 1
    assert re.fullmatch(r"\d+(\.\d+)?", m["zk_avg_latency"])
    count = int(m["zk_znode_count"])
    zk.create("/more", b"")
    assert int(mntr(backend)["zk_znode_count"]) == count + 1


def test_conf(zk: KazooClient, backend: Backend) -> None:
    conf = fields(zk.command(b"conf"), "=")
    assert conf["clientPort"] == str(backend.port)
    assert conf["tickTime"] == "2000"
    assert conf["minSessionTimeout"] == "4000"
    assert conf["maxSessionTimeout"] == "40000"
    assert "dataDir" in conf
    assert re.fullmatch(r"\d+", conf["serverId"])


def test_cons_lists_our_session(zk: KazooClient) -> None:
    zk.exists("/")
    text = zk.command(b"cons")
    sid = f"sid=0x{zk.client_id[0]:x}"
    ours = [line for line in text.splitlines() if sid in line]
    assert len(ours) == 1, text
    m = CLIENT_LINE.match(ours[0])
    assert m, ours[0]
    info = dict(part.split("=", 1) for part in m.group(1).split(","))
    assert info["to"] == str(int(zk._session_timeout))
    for key in ("queued", "recved", "sent", "lcxid", "lzxid", "lresp", "llat", "minlat", "maxlat"):
        assert key in info, (key, ours[0])
    assert text.endswith("\n\n")


WCHS = re.compile(r"^(\d+) connections watching (\d+) paths\nTotal watches:(\d+)\n")


def wchs_counts(zk: KazooClient) -> tuple[int, int, int]:
    m = WCHS.match(zk.command(b"wchs"))
    assert m, "wchs output does not match ZooKeeper's shape"
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def test_wchs_counts_watches(make_client: ClientFactory) -> None:
    zk = make_client()
    seen = Collector()
    deltas = []
    # Connections of earlier tests may still be closing (dropping their watches), so a
    # stray change is retried with fresh paths; the server must count +2 paths and +2
    # watches for our two exist watches at least once.
    for attempt in range(3):
        _, paths0, watches0 = wchs_counts(zk)
        zk.exists(f"/watched-{attempt}-a", watch=seen)
        zk.exists(f"/watched-{attempt}-b", watch=seen)
        conns1, paths1, watches1 = wchs_counts(zk)
        assert conns1 >= 1
        deltas.append((paths1 - paths0, watches1 - watches0))
        if deltas[-1] == (2, 2):
            break
    assert deltas[-1] == (2, 2), deltas


def test_dump_lists_ephemerals(zk: KazooClient, base: str) -> None:
    zk.create("/eph", b"", ephemeral=True)
    text = zk.command(b"dump")
    sid = f"0x{zk.client_id[0]:x}"
    lines = text.splitlines()
    assert any(line.startswith("Sessions with Ephemerals") for line in lines), text
    i = lines.index(f"{sid}:")
    assert f"\t{base}/eph" in lines[i + 1 :]
