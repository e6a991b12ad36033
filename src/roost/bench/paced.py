"""Open-loop load: requests go out on a fixed schedule, whether or not earlier ones were answered.

With ``--rate R`` the run offers R requests per second over all processes and sessions.
Session ``c`` of process ``p`` (``C`` sessions, ``P`` processes) sends its ``j``-th request at

    start + ((j * C + c) * P + p) / R

so the union of all sessions is an even stream at R/s, each session at R / (P x C). The
pipeline depth is a cap on the requests outstanding per session: a request that falls due
while its session is at the cap waits for a reply and counts as *backlogged*. Latency runs
from the *scheduled* send time, so waiting behind a slow server or a full pipeline is part
of it (no coordinated omission). The generator's own lateness (timer granularity, a busy
loop) is part of it too; it is reported separately as the send lag of the requests that
were not backlogged.

One timer task per process wakes when the next request is due; each session has a reader
task, and every batch of replies also sends whatever has fallen due meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence

from roost.wire.protocol import encode_request

from .session import PipeResult, Plan, Session

#: the shortest timer sleep: shorter ones would spin the event loop (uvloop rounds to 0 ms)
MIN_SLEEP = 0.001


class Pacer:
    """The schedule of one process's sessions, and its send/receive loops."""

    def __init__(
        self,
        sessions: Sequence[Session],
        plans: Sequence[Plan],
        depth: int,
        rate: float,
        proc: int = 0,
        nprocs: int = 1,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.sessions = sessions
        self.plans = plans
        self.depth = depth
        n = len(sessions)
        #: ns between a session's consecutive requests, and each session's first offset
        self.step_ns = n * nprocs * 1e9 / rate
        self.offset_ns = [(c * nprocs + proc) * 1e9 / rate for c in range(n)]
        self.start_ns = 0
        self.next = [0] * n
        self.total = [len(p.reqs) for p in plans]
        self.pending: list[deque[tuple[int, int, int]]] = [deque() for _ in sessions]
        #: per session: when a reply last made room while it was at its cap
        self.room_at = [0] * n
        self.results = [PipeResult([], 0, {}, 0, False) for _ in sessions]
        self.wake = [asyncio.Event() for _ in sessions]
        self.room = asyncio.Event()
        self.deadline = 0.0

    def due_ns(self, c: int, j: int) -> int:
        return self.start_ns + int(self.offset_ns[c] + j * self.step_ns)

    def pump(self) -> None:
        """Send every request that is due and fits under its session's cap."""
        now = time.perf_counter_ns()
        if time.monotonic() >= self.deadline:
            self._stop_sending()
            return
        for c in range(len(self.sessions)):
            if self.next[c] < self.total[c] and self.due_ns(c, self.next[c]) <= now:
                self._send_due(c, now)

    def _send_due(self, c: int, now: int) -> None:
        pending, res, plan = self.pending[c], self.results[c], self.plans[c]
        session = self.sessions[c]
        # a request due before the session's latest move from its cap to having room cannot
        # have been sent earlier (sends keep order): it was due while the session was full
        room_at = self.room_at[c]
        out = bytearray()
        j = self.next[c]
        while j < self.total[c] and len(pending) < self.depth:
            due = self.due_ns(c, j)
            if due > now:
                break
            op, rec = plan.reqs[j]
            xid = session.take_xid()
            out += encode_request(xid, op, rec)
            pending.append((xid, due, j))
            if due < room_at:
                res.backlogged += 1
            else:  # the generator's own lateness (a backlogged send waited for the server)
                res.lags_ns.append(now - due)
            j += 1
        if out:
            session.writer.write(out)
            self.wake[c].set()
        self.next[c] = j

    def _stop_sending(self) -> None:
        for c in range(len(self.sessions)):
            if self.next[c] < self.total[c]:
                self.results[c].capped = True
                self.total[c] = self.next[c]
            self.wake[c].set()

    def _sending_done(self) -> bool:
        return all(n >= t for n, t in zip(self.next, self.total, strict=True))

    def _next_due(self) -> int | None:
        """The earliest due time among sessions with room for it (None: all full or done)."""
        times = [
            self.due_ns(c, self.next[c])
            for c in range(len(self.sessions))
            if self.next[c] < self.total[c] and len(self.pending[c]) < self.depth
        ]
        return min(times) if times else None

    async def _timer(self) -> None:
        while not self._sending_done():
            self.pump()
            if self._sending_done():
                break
            due = self._next_due()
            if due is None:  # every session is at its cap: a reply will make room
                self.room.clear()
                await self.room.wait()
                continue
            wait = (due - time.perf_counter_ns()) / 1e9
            cap = self.deadline - time.monotonic()
            await asyncio.sleep(max(MIN_SLEEP, min(wait, cap)) if wait > 0 else 0)
        for w in self.wake:
            w.set()

    async def _reader(self, c: int) -> None:
        session, pending, wake = self.sessions[c], self.pending[c], self.wake[c]
        plan, res = self.plans[c], self.results[c]
        while True:
            if not pending:
                if self.next[c] >= self.total[c]:
                    return
                wake.clear()
                await wake.wait()
                continue
            if not session.ready:
                await session._read_more()
            full = len(pending) >= self.depth
            session._take_replies(pending, plan, res)
            if full and len(pending) < self.depth:
                self.room_at[c] = time.perf_counter_ns()
                self.room.set()
            self.pump()

    async def run(self, start_ns: int, deadline: float) -> list[PipeResult]:
        """Run the schedule from ``start_ns`` (perf_counter_ns); stop sending at ``deadline``
        (time.monotonic). One PipeResult per session, latencies from the scheduled times."""
        self.deadline = deadline
        self.start_ns = start_ns
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._timer())
            for c in range(len(self.sessions)):
                tg.create_task(self._reader(c))
        for res in self.results:
            res.completed = len(res.latencies_ns)
        return self.results
