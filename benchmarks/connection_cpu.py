"""Server CPU per request through one client connection, without sockets.

    python benchmarks/connection_cpu.py --reps 30

A standalone server (fsync off, in this process) and one `Connection` on a transport that
only counts bytes: batches of pipelined getData (1 KiB), exists (missing node) and setData
(100 B) requests, and getData requests one at a time (each answered before the next),
go through `Connection.data_received` -> `ClientProtocol` -> the request
handlers -> the reply queue -> the flush. For each workload the best (least) CPU time per
request over `--reps` batches is printed: the best of many short runs is the figure least
moved by other load on a shared machine. To compare two trees, run it once with each on
PYTHONPATH, alternately, a few times.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path

from roost.server.config import ServerConfig
from roost.server.connection import Connection
from roost.server.core import Server
from roost.wire.opcodes import Op
from roost.wire.protocol import encode_frame, encode_request
from roost.wire.records import (
    ACL,
    ConnectRequest,
    CreateRequest,
    ExistsRequest,
    GetDataRequest,
    Id,
    SetDataRequest,
)

BATCH = 256
WRITES = 64


class CountingTransport:
    """What `Connection` uses of an asyncio transport; writes are counted, not sent."""

    def __init__(self) -> None:
        self.written = 0
        #: resolved by the first write after which `ready()` is true (no busy waiting:
        #: the CPU measured is the server's, not a polling loop's)
        self.waiter: asyncio.Future[None] | None = None
        self.ready = lambda: False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def set_write_buffer_limits(self, high: int | None = None) -> None:
        pass

    def write(self, data: bytes) -> None:
        self.written += len(data)
        if self.waiter is not None and not self.waiter.done():
            asyncio.get_running_loop().call_soon(self._check)

    def _check(self) -> None:  # after the flush has counted what it wrote
        if self.waiter is not None and not self.waiter.done() and self.ready():
            self.waiter.set_result(None)

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


async def _connected(server: Server) -> Connection:
    conn = Connection(server)
    conn.connection_made(CountingTransport())  # type: ignore[arg-type]
    conn.data_received(encode_frame(ConnectRequest(0, 0, 10_000, 0, bytes(16), False)))
    deadline = time.monotonic() + 10
    while not conn.handshaken:
        if time.monotonic() > deadline:
            raise TimeoutError("no session")
        await asyncio.sleep(0.001)
    return conn


async def _answered(conn: Connection, count: int) -> None:
    """Wait until `count` frames have been written to the connection."""
    transport = conn.transport
    assert isinstance(transport, CountingTransport)
    if conn.sent >= count:
        return
    transport.ready = lambda: conn.sent >= count
    transport.waiter = asyncio.get_running_loop().create_future()
    await asyncio.wait_for(transport.waiter, 30)
    transport.waiter = None


async def measure(reps: int) -> dict[str, float]:
    """Best CPU microseconds per request for each workload."""
    data_dir = Path(tempfile.mkdtemp(prefix="roost-conncpu-"))
    server = Server(ServerConfig(data_dir=data_dir, port=0, fsync=False))
    await server.start()
    try:
        conn = await _connected(server)
        acl = [ACL(31, Id("world", "anyone"))]
        conn.data_received(encode_request(1, Op.CREATE, CreateRequest("/a", b"x" * 1024, acl, 0)))
        await _answered(conn, 2)
        batches = {
            "get-1k": b"".join(
                encode_request(i, Op.GET_DATA, GetDataRequest("/a", False))
                for i in range(2, 2 + BATCH)
            ),
            "exists-missing": b"".join(
                encode_request(i, Op.EXISTS, ExistsRequest("/missing", False))
                for i in range(2, 2 + BATCH)
            ),
            "set-100": b"".join(
                encode_request(i, Op.SET_DATA, SetDataRequest("/a", b"y" * 100, -1))
                for i in range(2, 2 + WRITES)
            ),
        }
        best: dict[str, float] = {}
        for name, batch in batches.items():
            n = WRITES if name.startswith("set") else BATCH
            for _ in range(reps):
                target = conn.sent + n
                c0 = time.process_time()
                conn.data_received(batch)
                await _answered(conn, target)
                spent = (time.process_time() - c0) / n * 1e6
                best[name] = min(best.get(name, spent), spent)
        # one request at a time: the per-read and per-flush costs of the connection
        one = encode_request(2, Op.GET_DATA, GetDataRequest("/a", False))
        for _ in range(reps):
            c0 = time.process_time()
            for _ in range(WRITES):
                target = conn.sent + 1
                conn.data_received(one)
                await _answered(conn, target)
            spent = (time.process_time() - c0) / WRITES * 1e6
            best["get-1k-single"] = min(best.get("get-1k-single", spent), spent)
        return best
    finally:
        await server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=30, help="batches per workload")
    args = ap.parse_args()
    for name, us in asyncio.run(measure(args.reps)).items():
        print(f"{name:15s} {us:7.2f} us CPU/request (best of {args.reps})")


if __name__ == "__main__":
    main()
