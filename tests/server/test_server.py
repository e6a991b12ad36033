"""Standalone server behaviour beyond the compatibility suite: restarts, limits, config."""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState

from roost.testing.server import RoostServer, four_letter, free_port
from roost.testing.wait import wait_until
from roost.wire.opcodes import Op
from roost.wire.protocol import FrameBuffer, encode_frame, encode_request
from roost.wire.records import ConnectRequest, ConnectResponse, GetDataRequest


@pytest.fixture
def client_factory() -> Iterator:
    made: list[KazooClient] = []

    def make(hosts: str, **kw) -> KazooClient:
        c = KazooClient(hosts=hosts, **kw)
        c.start(timeout=10)
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop()
        c.close()


def raw_session(srv: RoostServer, timeout_ms: int = 10000) -> tuple[socket.socket, FrameBuffer]:
    sock = socket.create_connection((srv.host, srv.port), timeout=10)
    sock.sendall(encode_frame(ConnectRequest(0, 0, timeout_ms, 0, bytes(16))))
    fb = FrameBuffer()
    frames: list[bytes] = []
    while not frames:
        frames = fb.feed(sock.recv(4096))
    ConnectResponse.from_bytes(frames[0])
    return sock, fb


def test_zxid_and_data_survive_restart_and_session_reattaches(
    tmp_path: Path, client_factory
) -> None:
    with RoostServer(data_dir=tmp_path / "d") as srv:
        zk = client_factory(srv.hosts)
        zk.create("/keep", b"v1")
        zk.create("/eph", b"", ephemeral=True)
        before = zk.exists("/keep").mzxid
        sid = zk.client_id[0]
        states: list[str] = []
        zk.add_listener(states.append)
        srv.restart()
        wait_until(
            lambda: zk.state == KazooState.CONNECTED and KazooState.SUSPENDED in states,
            what="reconnect",
        )
        assert zk.client_id[0] == sid, "the session must survive a server restart"
        assert zk.exists("/eph") is not None
        zk.set("/keep", b"v2")
        after = zk.exists("/keep").mzxid
        assert after > before
        assert zk.get("/keep")[0] == b"v2"


def test_connection_limit_per_ip(tmp_path: Path) -> None:
    with RoostServer(data_dir=tmp_path / "d", max_client_connections=3) as srv:
        socks = [socket.create_connection((srv.host, srv.port), timeout=5) for _ in range(3)]
        extra = socket.create_connection((srv.host, srv.port), timeout=5)
        try:
            closed = extra.recv(10) == b""
        except ConnectionResetError:
            closed = True
        assert closed, "the 4th connection from one IP must be closed"
        socks[0].sendall(b"ruok")  # the first three are still served
        assert socks[0].recv(10) == b"imok"
        for s in socks:
            s.close()
        extra.close()


def test_client_that_stops_reading_is_bounded_then_disconnected(
    tmp_path: Path, client_factory
) -> None:
    hard = 2 * 1024 * 1024
    with RoostServer(
        data_dir=tmp_path / "d",
        outgoing_high_water=256 * 1024,
        outgoing_hard_limit=hard,
        min_session_timeout_ms=1000,
    ) as srv:
        zk = client_factory(srv.hosts)
        zk.create("/big", b"x" * 200_000)
        sock, _ = raw_session(srv, timeout_ms=1000)
        req = b"".join(
            encode_request(i + 1, Op.GET_DATA, GetDataRequest("/big", False)) for i in range(50)
        )
        sock.setblocking(False)
        sent = 0
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and sent < 200 * len(req):
            try:
                sent += sock.send(req)
            except BlockingIOError:
                break  # the server stopped reading from us
        assert srv.server is not None
        for conn in list(srv.server.connections):  # what the server holds for us is bounded
            queued = conn.proto.out_size
            if conn.transport is not None:
                queued += conn.transport.get_write_buffer_size()
            assert queued <= hard
        assert zk.get("/big")[0][:1] == b"x"  # others are still served

        # the client goes on reading nothing: within a few session timeouts the server
        # drops it (read from the server's side: reading the socket here would unstall it)
        def ours_closed() -> bool:
            return all(c.closed for c in list(srv.server.connections) if c.port == client_port)

        client_port = sock.getsockname()[1]
        wait_until(ours_closed, what="the server to close the stalled connection")

        def dropped() -> bool:
            try:
                while True:
                    if not sock.recv(1 << 20):
                        return True
            except BlockingIOError:
                return False
            except OSError:
                return True

        wait_until(dropped, what="the stalled connection to be closed")
        sock.close()
        assert zk.exists("/big") is not None


def test_malformed_frame_closes_only_that_connection(tmp_path: Path, client_factory) -> None:
    with RoostServer(data_dir=tmp_path / "d") as srv:
        zk = client_factory(srv.hosts)
        sock, _ = raw_session(srv)
        sock.sendall(struct.pack(">i", 12) + b"\x00\x00\x00\x01\x00\x00\x00\x04\xff\xff\xff\x7f")
        reply = sock.recv(100)
        assert reply[:4] == struct.pack(">i", 16)  # MarshallingError, no body
        assert struct.unpack(">iqi", reply[4:20])[2] == -5
        sock.sendall(struct.pack(">iii", 8, -2, 11))  # the connection still serves: ping
        assert struct.unpack(">iiqi", sock.recv(100)[:20])[1] == -2
        sock2 = socket.create_connection((srv.host, srv.port), timeout=5)
        sock2.sendall(struct.pack(">i", -7))
        assert sock2.recv(100) == b""
        zk.create("/still-fine")
        assert zk.exists("/still-fine")


def test_bad_config_is_a_one_line_error_naming_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "roost.toml"
    cfg.write_text("[server]\ntick_ms = -5\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "roost.cli",
            "serve",
            "--no-http",
            "--config",
            str(cfg),
            "--port",
            str(free_port()),
            "--data-dir",
            str(tmp_path / "d"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "tick_ms" in proc.stderr and proc.stderr.strip().count("\n") == 0
    cfg.write_text("[server]\nno_such_key = 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "roost.cli", "serve", "--no-http", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "no_such_key" in proc.stderr


def test_zoo_cfg_keys_apply(tmp_path: Path, client_factory) -> None:
    from roost.server.config import ConfigError
    from roost.server.zoocfg import load_zoo_cfg

    cfg = tmp_path / "zoo.cfg"
    cfg.write_text(
        "tickTime=1000\ninitLimit=10\ndataDir=/tmp/x\nclientPort=2999\n"
        "4lw.commands.whitelist=ruok, srvr\nmaxSessionTimeout=9000\n"
    )
    c = load_zoo_cfg(cfg)
    assert (c.tick_ms, c.port, str(c.data_dir), c.four_letter_words) == (
        1000,
        2999,
        "/tmp/x",
        ("ruok", "srvr"),
    )
    assert (c.min_session_timeout, c.max_session_timeout) == (2000, 9000)
    cfg.write_text("tickTime=abc\n")
    with pytest.raises(ConfigError, match="tick_ms"):
        load_zoo_cfg(cfg)


def test_four_letter_whitelist(tmp_path: Path) -> None:
    with RoostServer(data_dir=tmp_path / "d", four_letter_words=["ruok"]) as srv:
        assert four_letter(srv.host, srv.port, "ruok") == "imok"
        assert "not in the whitelist" in four_letter(srv.host, srv.port, "mntr")


def test_second_server_on_same_data_dir_is_refused(tmp_path: Path) -> None:
    with RoostServer(data_dir=tmp_path / "d"):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "roost.cli",
                "serve",
                "--no-http",
                "--port",
                str(free_port()),
                "--data-dir",
                str(tmp_path / "d"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 1
        assert "lock" in proc.stderr.lower() or "in use" in proc.stderr.lower()


def test_pytest_fixture_serves(roost_server: RoostServer, client_factory) -> None:
    zk = client_factory(roost_server.hosts)
    zk.create("/fixture", b"ok")
    assert zk.get("/fixture")[0] == b"ok"
