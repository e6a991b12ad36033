"""Durability: SIGKILL at a random moment loses no acknowledged write."""

from __future__ import annotations

import random
import socket
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from roost.testing.server import RoostServer
from roost.wire.opcodes import Op
from roost.wire.protocol import FrameBuffer, decode_reply_header, encode_frame, encode_request
from roost.wire.records import ACL, ConnectRequest, ConnectResponse, CreateRequest, Id

OPEN_ACL = [ACL(31, Id("world", "anyone"))]
TOTAL = 5000
WINDOW = 64  # requests in flight


def write_until_killed(srv: RoostServer, kill_after: int) -> set[int]:
    """Pipeline creates of /crash/n-<i>; SIGKILL the server once `kill_after` replies came.

    Returns the indexes whose successful reply was received before the connection died.
    """
    sock = socket.create_connection((srv.host, srv.port), timeout=20)
    sock.sendall(encode_frame(ConnectRequest(0, 0, 30000, 0, bytes(16))))
    fb = FrameBuffer()
    frames: list[bytes] = []
    while not frames:
        frames = fb.feed(sock.recv(65536))
    ConnectResponse.from_bytes(frames.pop(0))
    acked: set[int] = set()
    sent = 0
    killed = False
    while len(acked) < TOTAL:
        batch = []
        while sent < TOTAL and sent - len(acked) < WINDOW:
            req = CreateRequest(f"/crash/n-{sent}", b"v" * 100, OPEN_ACL, 0)
            batch.append(encode_request(sent + 1, Op.CREATE, req))
            sent += 1
        try:
            if batch:
                sock.sendall(b"".join(batch))
            data = sock.recv(65536)
        except OSError:
            break
        if not data:
            break
        frames += fb.feed(data)
        for body in frames:
            xid, _zxid, err = decode_reply_header(body)
            assert err == 0, f"create {xid - 1} failed with {err}"
            acked.add(xid - 1)
        frames.clear()
        if not killed and len(acked) >= kill_after:
            srv.kill()
            killed = True
    sock.close()
    assert killed, "the server was never killed"
    return acked


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_sigkill_loses_no_acknowledged_write(tmp_path: Path, seed: int) -> None:
    kill_after = random.Random(seed).randrange(200, TOTAL - 200)
    data = tmp_path / "data"
    srv = RoostServer(data_dir=data, subprocess=True)
    with srv:
        zk = KazooClient(hosts=srv.hosts)
        zk.start(timeout=10)
        zk.create("/crash")
        zk.stop()
        zk.close()
        acked = write_until_killed(srv, kill_after)
        assert len(acked) >= kill_after
        srv.start()
        zk = KazooClient(hosts=srv.hosts)
        zk.start(timeout=10)
        try:
            present = {int(name.split("-")[1]) for name in zk.get_children("/crash")}
        finally:
            zk.stop()
            zk.close()
    missing = acked - present
    assert not missing, f"{len(missing)} acknowledged creates lost, e.g. {sorted(missing)[:5]}"
    # nothing appears that was never sent
    assert max(present) < TOTAL
