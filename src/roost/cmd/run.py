"""`roost lock PATH -- CMD` and `roost elect PATH -- CMD`: run a program while holding a lock
or leadership (as `etcdctl lock`/`etcdctl elect` and `consul lock` do).

CMD starts once the lock (leadership) is granted, with its fencing token in
``ROOST_FENCING_TOKEN``. Exit codes: CMD's own when it ends by itself (128+N if signal N
ended it); 127 if CMD is not found, 126 if it cannot be run; 75 (EX_TEMPFAIL) if the grant
was lost first, CMD then being sent SIGTERM and, after ``--grace`` seconds, SIGKILL; 128+N
when roost itself got signal N (SIGINT, SIGTERM), which it passes on to CMD; 1 if the
grant did not come within ``--wait``. Without CMD the grant is printed and held until
Ctrl-C.

The grant is considered lost when the session expires, or when the connection has been
down so long that the session may have expired on the server (the client's lease, see
`Lock.is_held`), so CMD is stopped before another holder can be granted.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Sequence

import click

from roost.client import EventType, KeeperError, SyncClient, WatchedEvent
from roost.cmd.env import CommandError, Env, client_command, path_value
from roost.cmd.signals import StopFlag, stop_on_signals
from roost.recipes import AcquireTimeout, LeaderLatch, Lock

#: exit code when the lock or leadership was lost while CMD ran (sysexits' EX_TEMPFAIL)
EXIT_LOST = 75
POLL = 0.05  # seconds between checks of the child and the grant

RUN_SETTINGS = {"allow_interspersed_args": False}  # everything after PATH is CMD


def _default_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


wait_option = click.option("--wait", type=click.FloatRange(min=0), default=None,
                           help="give up (exit 1) if not granted within this many seconds")
grace_option = click.option("--grace", type=click.FloatRange(min=0, max=3600), default=10.0,
                            show_default=True,
                            help="seconds between SIGTERM and SIGKILL when CMD must stop")
id_option = click.option("--id", "identifier", default=None,
                         help="stored in the contender's node (default host:pid)")


@client_command("lock", output=False, context_settings=RUN_SETTINGS)
@wait_option
@grace_option
@id_option
@click.argument("path", callback=path_value)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def lock(env: Env, path: str, command: tuple[str, ...], wait: float | None, grace: float,
         identifier: str | None) -> None:
    """Take the lock PATH, then run COMMAND while holding it (or, without COMMAND, print
    the lock node and hold it until Ctrl-C). COMMAND gets ROOST_LOCK_PATH, ROOST_LOCK_NODE
    and ROOST_FENCING_TOKEN in its environment. Compatible with kazoo's and roost's Lock."""
    zk = env.client()
    lk = Lock(zk.aio, path, identifier or _default_id())
    with stop_on_signals() as stop:
        token = _acquire(stop, zk.submit(lk.acquire(wait)), f"lock {path}", wait)
        try:
            node = lk.node or ""
            extra = {"ROOST_LOCK_PATH": path, "ROOST_LOCK_NODE": node,
                     "ROOST_FENCING_TOKEN": str(token)}
            gone = watch_node(zk, node)
            code = supervise(command, extra, lambda: lk.is_held() and not gone.is_set(), stop,
                             grace, f"lock {path}", f"{node} token={token}")
        finally:
            # Best effort: if the grant is gone or the server cannot be reached, closing
            # the session (or its expiry) removes our node anyway.
            if lk.hold_count and lk.is_held():
                with contextlib.suppress(KeeperError, TimeoutError):
                    zk.run(lk.release(), timeout=env.timeout)
    _exit(code)


@client_command("elect", output=False, context_settings=RUN_SETTINGS)
@wait_option
@grace_option
@id_option
@click.argument("path", callback=path_value)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def elect(env: Env, path: str, command: tuple[str, ...], wait: float | None, grace: float,
          identifier: str | None) -> None:
    """Join the election PATH, then run COMMAND while leader (or, without COMMAND, print
    the leadership and hold it until Ctrl-C). COMMAND gets ROOST_ELECTION_PATH,
    ROOST_ELECTION_NODE and ROOST_FENCING_TOKEN. Compatible with roost's LeaderLatch."""
    zk = env.client()
    latch = LeaderLatch(zk.aio, path, identifier or _default_id(), lose_on="lost")

    async def campaign() -> int:
        await latch.start()
        if not await latch.await_leadership(wait):
            raise AcquireTimeout("not elected in time")
        if latch.token is None:
            raise CommandError(f"election {path}: leadership without a token")
        return latch.token

    with stop_on_signals() as stop:
        try:
            token = _acquire(stop, zk.submit(campaign()), f"election {path}", wait)
            node = latch.node or ""
            extra = {"ROOST_ELECTION_PATH": path, "ROOST_ELECTION_NODE": node,
                     "ROOST_FENCING_TOKEN": str(token)}
            gone = watch_node(zk, node)
            code = supervise(command, extra,
                             lambda: latch.has_leadership() and not gone.is_set(), stop, grace,
                             f"leadership of {path}", f"{node} token={token}")
        finally:
            if zk.connected:
                with contextlib.suppress(KeeperError, TimeoutError):
                    zk.run(latch.close(), timeout=env.timeout)
    _exit(code)


def watch_node(zk: SyncClient, node: str) -> threading.Event:
    """An event set once ``node`` (our lock or election node) is deleted, by anyone: the
    grant is then gone, whatever our session says."""
    gone = threading.Event()

    def on_event(ev: WatchedEvent) -> None:
        if ev.type == EventType.NODE_DELETED:
            gone.set()
        elif ev.type != EventType.NONE:
            with contextlib.suppress(Exception):  # re-arm (data changes are not ours to mind)
                if zk.exists(node, on_event) is None:
                    gone.set()

    if zk.exists(node, on_event) is None:
        gone.set()
    return gone


def _acquire(stop: StopFlag, fut: concurrent.futures.Future[int], what: str,
             wait: float | None) -> int:
    """Wait for the grant; a signal cancels the attempt (which removes our node)."""
    while True:
        try:
            done = fut.done() or concurrent.futures.wait([fut], timeout=POLL).done
        except BaseException:
            fut.cancel()
            raise
        if done:
            try:
                return fut.result()
            except AcquireTimeout:  # (a TimeoutError: test it before any other)
                raise CommandError(f"{what}: not granted within {wait:g} s") from None
        if stop:
            fut.cancel()
            raise _Interrupted(stop.signum or signal.SIGINT)


class _Interrupted(click.exceptions.Exit):
    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)


def _exit(code: int) -> None:
    if code:
        raise click.exceptions.Exit(code)


def supervise(command: Sequence[str], extra_env: dict[str, str], held: Callable[[], bool],
              stop: StopFlag, grace: float, what: str, grant: str) -> int:
    """Run ``command`` while ``held()`` stays true; see the module docstring for the codes."""
    if command[:1] == ("--",):  # `roost lock PATH -- CMD`: the separator is not CMD
        command = command[1:]
    if not command:
        click.echo(grant)
        while not stop.wait(POLL):
            if not held():
                click.echo(f"roost: lost the {what}", err=True)
                return EXIT_LOST
        return 0
    try:
        child = subprocess.Popen(list(command), env={**os.environ, **extra_env})
    except FileNotFoundError:
        click.echo(f"roost: {command[0]}: command not found", err=True)
        return 127  # as a shell says it
    except OSError as e:
        click.echo(f"roost: {command[0]}: {e.strerror or e}", err=True)
        return 126
    try:
        while True:
            try:
                return _status(child.wait(timeout=POLL))
            except subprocess.TimeoutExpired:
                pass
            if stop:
                signum = stop.signum or signal.SIGTERM
                _stop_child(child, signum, grace)
                return 128 + signum
            if not held():
                click.echo(f"roost: lost the {what}; stopping {command[0]}", err=True)
                _stop_child(child, signal.SIGTERM, grace)
                return EXIT_LOST
    finally:
        if child.poll() is None:  # an error of ours: never leave CMD running unguarded
            child.kill()
            child.wait()


def _status(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def _stop_child(child: subprocess.Popen[bytes], signum: int, grace: float) -> None:
    child.send_signal(signum)
    try:
        child.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
