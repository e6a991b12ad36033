"""`roost lock PATH -- CMD` and `roost elect PATH -- CMD`: run a program while holding a lock
or leadership (as `etcdctl lock`/`etcdctl elect` and `consul lock` do).

CMD starts once the lock (leadership) is granted, with its fencing token in
``ROOST_FENCING_TOKEN``. Exit codes: CMD's own when it ends by itself (128+N if a signal N
ended it); 75 (EX_TEMPFAIL) if the grant was lost first, CMD then being sent SIGTERM and,
after ``--grace`` seconds, SIGKILL; 128+N when roost itself got signal N (SIGINT, SIGTERM),
which it passes on to CMD; 1 if the lock was not granted within ``--wait``. Without CMD the
grant is printed and held until Ctrl-C.

The grant is considered lost when the session expires, or when the connection has been
down so long that the session may have expired on the server (the client's lease, see
`Lock.is_held`), so CMD is stopped before another holder can be granted.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import socket
import subprocess
from collections.abc import Callable, Sequence

import click

from roost.cmd.env import CommandError, Env, client_command, path_value
from roost.cmd.signals import StopFlag, stop_on_signals
from roost.recipes._base import AcquireTimeout
from roost.recipes.leader import LeaderLatch
from roost.recipes.lock import Lock

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
            code = supervise(command, extra, lk.is_held, stop, grace, f"lock {path}",
                             f"{node} token={token}")
        finally:
            if lk.hold_count:
                zk.run(lk.release())
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
            code = supervise(command, extra, latch.has_leadership, stop, grace,
                             f"leadership of {path}", f"{node} token={token}")
        finally:
            zk.run(latch.close())
    _exit(code)


def _acquire(stop: StopFlag, fut: concurrent.futures.Future[int], what: str,
             wait: float | None) -> int:
    """Wait for the grant; a signal cancels the attempt (which removes our node)."""
    while True:
        try:
            return fut.result(timeout=POLL)
        except concurrent.futures.TimeoutError:
            if stop:
                fut.cancel()
                raise _Interrupted(stop.signum or signal.SIGINT) from None
        except AcquireTimeout:
            raise CommandError(f"{what}: not granted within {wait:g} s") from None


class _Interrupted(click.exceptions.Exit):
    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)


def _exit(code: int) -> None:
    if code:
        raise click.exceptions.Exit(code)


def supervise(command: Sequence[str], extra_env: dict[str, str], held: Callable[[], bool],
              stop: StopFlag, grace: float, what: str, grant: str) -> int:
    """Run ``command`` while ``held()`` stays true; see the module docstring for the codes."""
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
        raise CommandError(f"cannot run {command[0]!r}: command not found") from None
    except OSError as e:
        raise CommandError(f"cannot run {command[0]!r}: {e.strerror or e}") from None
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
