"""Run the command and Python blocks of one Markdown file against a fresh server.

    unshare --user --map-root-user --net python3 tests/repo/docrun.py ROOT FILE RESULTS.json

Started by test_doc_blocks.py inside a new network namespace of its own (user and network
namespaces, no privileges needed): its loopback is private, so the blocks run exactly as
written, with the documented default ports (a server on 127.0.0.1:2181, the HTTP API on
127.0.0.1:8500, an ensemble on 2181-2183), without colliding with anything else on the
machine, and nothing can leave the namespace (it has no other interface).

What it does, in order:

1. brings the namespace's loopback up, and starts a fresh ``roost serve`` (development
   defaults) in a temporary directory: the server "running in another terminal";
2. runs each runnable block (see docblocks.py) in file order, in one temporary working
   directory for the whole file (holding links to the repository's top-level entries, so
   that paths such as benchmarks/ resolve as in a clone). A shell block's commands run as
   one ``bash -e`` script; a command that starts a server (``roost serve``,
   ``roost cluster up``) is started in the background instead, and the block goes on once
   the new listening ports answer. The servers of earlier blocks (the fresh one included)
   are stopped first, those of the same block are kept (an ensemble started member by
   member); servers stay up for the following blocks until replaced or the end of the
   file. A Python block runs as a program (``python3 block.py``);
3. writes one result per block to RESULTS.json and stops every process it started.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from docblocks import Block, blocks, commands

#: one block (or one server start) may take this long
BLOCK_TIMEOUT = 90.0
SERVER_START_TIMEOUT = 60.0
#: what the long-running commands print once they serve
READY_LINES = ("roost serving on", "Ctrl-C stops the ensemble")
LONG_RUNNING = re.compile(r"^\s*roost\s+(serve|cluster\s+up)\b")


def loopback_up() -> None:
    """``ip link set lo up`` without needing iproute2 (SIOCGIFFLAGS / SIOCSIFFLAGS)."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(s, siocgifflags, req)[:18])[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sh", b"lo", flags | iff_up))


def listening_ports() -> set[int]:
    """TCP ports listening in this namespace (everything here was started by this run)."""
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 3 and fields[3] == "0A":
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def four_letter(port: int, word: str) -> str | None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
            s.sendall(word.encode())
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")
    except OSError:
        return None


def serving(port: int) -> bool:
    """A ZooKeeper-protocol port whose server has a role (leader, follower, standalone...)."""
    answer = four_letter(port, "srvr") or ""
    return "Mode: " in answer


class Runner:
    def __init__(self, root: Path, work: Path) -> None:
        self.root = root
        self.work = work
        self.servers: list[tuple[subprocess.Popen[bytes], Path, str]] = []
        self.sessions: list[subprocess.Popen[bytes]] = []
        self.env = dict(os.environ)

    # --- servers ------------------------------------------------------------------------------
    def start_server(self, command: str, cwd: Path, label: str) -> str | None:
        """Start ``command`` in the background; None once it serves, else what went wrong."""
        before = listening_ports()
        log = cwd / f".server-{len(self.servers)}.log"
        proc = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=cwd, env=self.env,
                                stdin=subprocess.DEVNULL, stdout=log.open("wb"),
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.servers.append((proc, log, label))
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        stable_since, last = 0.0, set()
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return f"`{command}` exited with {proc.returncode}:\n{tail(log)}"
            new = listening_ports() - before
            if new != last:
                last, stable_since = new, time.monotonic()
            zk_ports = [p for p in new if four_letter(p, "ruok") == "imok"]
            # ready: its ZooKeeper ports answer, and it said it is ready (roost serve logs
            # "roost serving on" after its HTTP API is up; roost cluster up prints "Ctrl-C
            # stops the ensemble" once a leader is elected), or, for a command that says
            # neither, no new port appeared for a while
            said = any(line in tail(log, limit=1 << 20) for line in READY_LINES)
            if zk_ports and (said or time.monotonic() - stable_since > 3.0):
                return None
            time.sleep(0.05)
        return f"`{command}` did not start serving in {SERVER_START_TIMEOUT:.0f} s:\n{tail(log)}"

    def wait_settled(self) -> str | None:
        """Every ZooKeeper port answering ``srvr`` with a role (an ensemble has elected)."""
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            ports = [p for p in listening_ports() if four_letter(p, "ruok") == "imok"]
            if ports and all(serving(p) for p in ports):
                return None
            time.sleep(0.1)
        return "the servers did not settle (no leader?)"

    def stop_servers(self) -> None:
        for proc, _log, _label in self.servers:
            stop(proc)
        self.servers.clear()
        deadline = time.monotonic() + 30
        while listening_ports() and time.monotonic() < deadline:
            time.sleep(0.05)

    # --- blocks -------------------------------------------------------------------------------
    def run_block(self, block: Block) -> dict[str, object]:
        result: dict[str, object] = {"where": block.where, "kind": block.kind, "ok": True,
                                     "text": block.text}
        started = time.monotonic()
        try:
            if block.kind == "python":
                script = self.work / f".block-{block.line}.py"
                script.write_text(block.text)
                error = self.run_script([sys.executable, str(script)])
            else:
                error = self.run_shell(block)
        finally:
            result["seconds"] = round(time.monotonic() - started, 2)
        if error is not None:
            result.update(ok=False, error=error)
        return result

    def run_shell(self, block: Block) -> str | None:
        pending: list[str] = []
        replaced = False
        for command in commands(block):
            if not LONG_RUNNING.match(command):
                pending.append(command)
                continue
            if pending:
                error = self.run_script(["bash", "-e", "-o", "pipefail", "-c",
                                         "\n".join(pending)])
                pending = []
                if error:
                    return error
            if not replaced:
                self.stop_servers()
                replaced = True
            error = self.start_server(command, self.work, block.where)
            if error:
                return error
        if replaced:
            error = self.wait_settled()
            if error:
                return error
        if pending:
            return self.run_script(["bash", "-e", "-o", "pipefail", "-c", "\n".join(pending)])
        return None

    def run_script(self, argv: list[str]) -> str | None:
        proc = subprocess.Popen(argv, cwd=self.work, env=self.env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.sessions.append(proc)
        try:
            out, _ = proc.communicate(timeout=BLOCK_TIMEOUT)
        except subprocess.TimeoutExpired:
            stop(proc)
            out, _ = proc.communicate()
            return f"did not finish in {BLOCK_TIMEOUT:.0f} s; output:\n{clip(out)}"
        if proc.returncode != 0:
            return f"exit status {proc.returncode}; output:\n{clip(out)}"
        return None

    def close(self) -> None:
        self.stop_servers()
        for proc in self.sessions:  # anything a block left running in the background
            with_group(proc, signal.SIGKILL)


def with_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Ctrl-C (as a user stops a server), then SIGTERM, then SIGKILL, to its process group."""
    for sig, wait in ((signal.SIGINT, 15), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        if proc.poll() is not None:
            break
        with_group(proc, sig)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            continue
    with_group(proc, signal.SIGKILL)  # children of a shell that exited


def tail(path: Path, limit: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""


def clip(data: bytes, limit: int = 3000) -> str:
    text = data.decode(errors="replace")
    return text if len(text) <= limit else "...\n" + text[-limit:]


def main() -> int:
    root, rel, results_path = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    loopback_up()
    todo = [b for b in blocks(root, rel) if b.kind in ("sh", "python") and b.not_run is None]
    results: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="roost-docs-") as tmp:
        work = Path(tmp) / "work"
        fresh = Path(tmp) / "server"
        work.mkdir()
        fresh.mkdir()
        # the working directory is a temporary one holding links to the repository's
        # top-level entries: "python benchmarks/x.py" or "examples/..." work as in a clone,
        # and whatever the blocks create (./roost-data, output files) stays out of the clone
        for entry in root.iterdir():
            if entry.name != ".git":
                (work / entry.name).symlink_to(entry)
        runner = Runner(root, work)
        try:
            error = runner.start_server("roost serve", fresh, "fresh server") if todo else None
            if error:
                results.append({"where": rel, "kind": "setup", "ok": False,
                                "error": f"the fresh server did not start: {error}"})
            else:
                for block in todo:
                    results.append(runner.run_block(block))
        finally:
            runner.close()
    results_path.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
