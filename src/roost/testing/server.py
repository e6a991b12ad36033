"""A real roost server for tests: in a background thread, or as a subprocess.

    with RoostServer() as srv:
        client = KazooClient(hosts=srv.hosts)

Starts on a free 127.0.0.1 port with a temporary data directory (removed on
exit unless you passed your own), and is ready to serve when the context opens.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import subprocess as sp
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from roost.node import serve
from roost.server import Server, ServerConfig, new_event_loop
from roost.testing.ports import free_port
from roost.testing.procs import stop_processes
from roost.testing.zookeeper import four_letter_word, mode_of

T = TypeVar("T")


def four_letter(host: str, port: int, cmd: str, timeout: float = 2.0) -> str:
    """`four_letter_word` with a shorter default timeout (a local test server)."""
    return four_letter_word(host, port, cmd, timeout)


def srvr_mode(host: str, port: int, timeout: float = 1.0) -> str:
    """A server's role from its ``srvr`` answer (``leader``, ``follower``, ``observer``,
    ``standalone``, ``read-only``): ``down`` when it does not answer, ``none`` when it
    answers without a Mode (a member not, or no longer, in an ensemble serves nobody)."""
    try:
        out = four_letter(host, port, "srvr", timeout)
    except OSError:
        return "down"
    return mode_of(out) or "none"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


class RoostServer:
    def __init__(
        self,
        data_dir: str | Path | None = None,
        port: int = 0,
        *,
        subprocess: bool = False,
        start_timeout: float = 30.0,
        **overrides: Any,
    ) -> None:
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="roost-"))
        self.host = "127.0.0.1"
        self.port = port
        self.use_subprocess = subprocess
        self.start_timeout = start_timeout
        self.overrides = overrides
        self.server: Server | None = None
        self.process: sp.Popen[bytes] | None = None
        self._spawned_at = 0.0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None

    @property
    def hosts(self) -> str:
        return f"{self.host}:{self.port}"

    def mode(self) -> str:
        """The server's role as its srvr says (see `srvr_mode`)."""
        return srvr_mode(self.host, self.port)

    def config(self) -> ServerConfig:
        return ServerConfig(host=self.host, port=self.port, data_dir=self.data_dir).replace(
            **self.overrides
        )

    # --- lifecycle -----------------------------------------------------------------
    def start(self) -> RoostServer:
        if not self.use_subprocess:
            self._start_thread()
            return self
        auto_port = self.port == 0
        for attempt in range(3):
            try:
                self._start_process()
                return self
            except RuntimeError as e:
                # the port picked free was taken before the server bound it: pick another
                if not auto_port or "address already in use" not in str(e) or attempt == 2:
                    raise
                self.port = 0
        return self

    def _start_thread(self) -> None:
        ready = threading.Event()
        cfg = self.config()

        def on_ready(server: Server) -> None:
            self.server = server
            self.port = server.port
            ready.set()

        def run() -> None:
            loop = self._loop = new_event_loop()
            try:
                loop.run_until_complete(serve(cfg, on_ready, handle_signals=False))
            except BaseException as e:  # reported to the starting thread
                self._error = e
                ready.set()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name=f"roost-{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(self.start_timeout):
            raise TimeoutError("roost server did not start")
        if self._error is not None:
            raise self._error

    def _start_process(self) -> None:
        self.spawn()
        self.wait_spawned()

    def spawn(self) -> None:
        """Start the subprocess without waiting for it to serve (`wait_spawned` does): several
        servers started at once come up side by side (an ensemble's members)."""
        assert self.use_subprocess, "spawn() needs subprocess=True"
        if self.port == 0:
            self.port = free_port()
        cfg_file = self.data_dir.parent / f"{self.data_dir.name}.toml"
        plain = {k: v for k, v in self.overrides.items() if k != "members"}
        lines = ["[server]"] + [f"{k} = {_toml_value(v)}" for k, v in plain.items()]
        for m in self.overrides.get("members", ()):
            lines += ["[[members]]", f"id = {m.id}", f"host = {_toml_value(m.host)}",
                      f"client_port = {m.client_port}", f"peer_port = {m.peer_port}",
                      f"role = {_toml_value(m.role)}"]
        cfg_file.write_text("\n".join(lines) + "\n")
        self._cfg_file = cfg_file
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "roost.cli",
                "serve",
                "--config",
                str(cfg_file),
                "--host",
                self.host,
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._spawned_at = time.monotonic()

    def wait_spawned(self) -> None:
        """Return once the subprocess `spawn` started serves (RuntimeError when it exits
        first, TimeoutError `start_timeout` seconds after the spawn)."""
        assert self.process is not None, "nothing spawned"
        deadline = self._spawned_at + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"roost exited with {self.process.returncode}: "
                    f"{self.log_path.read_text()[-2000:]}"
                )
            try:
                if four_letter(self.host, self.port, "ruok", 0.5) == "imok":
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise TimeoutError("roost server did not start")

    def stop(self) -> None:
        if self.process is not None:
            stop_processes([self.process], grace=30)
            self.process = None
            self._log.close()
        if self._thread is not None and self._loop is not None:
            loop, server = self._loop, self.server
            if server is not None and not loop.is_closed():
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(lambda: loop.create_task(server.stop()))
            self._thread.join(30)
            self._thread = None

    def call(self, fn: Callable[[Server], T], timeout: float = 10.0) -> T:
        """``fn(server)`` run on the in-process server's event loop (where its state may be
        read without racing it), and its result: e.g. ``srv.call(lambda s:
        s.streams.count())``."""
        loop, server = self._loop, self.server
        assert loop is not None and server is not None, "call() needs an in-process server"

        async def run() -> T:
            return fn(server)

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout)

    def kill(self) -> None:
        """SIGKILL the subprocess (no clean shutdown, no final snapshot)."""
        assert self.process is not None, "kill() needs subprocess=True"
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.process = None
        self._log.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        for p in (getattr(self, "_cfg_file", None), getattr(self, "log_path", None)):
            if p is not None and self._own_dir:
                with contextlib.suppress(OSError):
                    os.unlink(p)

    def __enter__(self) -> RoostServer:
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.stop()
        finally:
            self.cleanup()
