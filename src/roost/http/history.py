"""`/v1/roost/history/<path>`: the watch-history stream over HTTP (docs/http.md).

Two forms of one query, "every change on PATH (``?recurse``: and below) after zxid
``?index``, with the data if ``?data``":

- a Consul-style blocking query: a JSON list of the events after ``index``, returned as
  soon as there is one (or after ``?wait``, empty); ``X-Consul-Index`` is the zxid the
  answer is complete up to, the ``index`` of the next call. Without ``index`` it answers
  at once with no events and the current zxid to start from.
- server-sent events (``Accept: text/event-stream``): one message per zxid, ``id:`` that
  zxid, so that a browser's EventSource resumes after a disconnection by itself
  (``Last-Event-ID``). A client that does not read is cut off and resumes likewise.

If the server's history no longer reaches ``index``: 410 with ``CompactedIndex`` (or an
SSE ``compacted`` event), the caller reads the state and starts again from its index.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

from roost.http.common import Auth, blocking, error, flag, identities, reply, uint_param
from roost.server.history import Compacted, HistoryEvent
from roost.server.streams import Sink, Stream
from roost.tree import is_valid_path
from roost.wire.opcodes import EventType

if TYPE_CHECKING:
    from roost.server.core import Server

TYPE_NAMES = {
    int(EventType.NODE_CREATED): "created",
    int(EventType.NODE_DELETED): "deleted",
    int(EventType.NODE_DATA_CHANGED): "changed",
    int(EventType.NODE_CHILDREN_CHANGED): "children",
    int(EventType.NODE_ACL_CHANGED): "acl",
}
#: zxids queued for one SSE client before it is cut off (it resumes with Last-Event-ID)
SSE_MAX_QUEUED = 10_000
#: an SSE comment line this often keeps proxies from closing a quiet stream
SSE_KEEPALIVE_S = 15.0


def to_json(zxid: int, e: HistoryEvent, with_data: bool) -> dict[str, object]:
    data = base64.b64encode(e.data).decode() if with_data and e.data is not None else None
    return {"Index": zxid, "Type": TYPE_NAMES.get(e.type, str(e.type)), "Path": e.path,
            "Data": data}


class HistoryApi:
    def __init__(self, server: Server) -> None:
        self.server = server
        self._ids = itertools.count(1)
        self._closed = asyncio.Event()

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/v1/roost/history/{path:.*}", self.handle)]

    def close(self) -> None:
        """The server stops: blocking queries answer, streams end."""
        self._closed.set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"].strip("/")
        if not is_valid_path(path):
            raise error(400, f"invalid path {path!r}")
        recursive, with_data = flag(request, "recurse"), flag(request, "data")
        auth = identities(self.server, request)
        if "text/event-stream" in request.headers.get("Accept", ""):
            last_id = request.headers.get("Last-Event-ID", "")
            if last_id.isdigit():
                index: int | None = int(last_id)
            else:
                index = uint_param(request, "index")
            return await self._sse(request, path, recursive, with_data, auth, index)
        return await self._blocking(request, path, recursive, with_data, auth)

    def _open(self, path: str, recursive: bool, auth: Auth, index: int, send: Sink,
              lost: Callable[[int], None]) -> Stream:
        """Subscribe from `index` (events at or before it are skipped: a member behind
        the caller's index catches up through live events). `lost`: the stream was
        dropped, a snapshot installed under it starts the history too late."""
        hub = self.server.streams

        def sink(zxid: int, events: list[HistoryEvent]) -> None:
            if zxid > index:
                send(zxid, events)

        stream = Stream(object(), next(self._ids), path, recursive, lambda: auth, sink, lost)
        hub.subscribe(stream, min(index, self.server.tree.last_zxid))
        return stream

    async def _blocking(self, request: web.Request, path: str, recursive: bool,
                        with_data: bool, auth: Auth) -> web.Response:
        wait = blocking(request)
        if wait is None:
            return reply([], self.server.tree.last_zxid)
        index, wait_s = wait
        got: list[dict[str, object]] = []
        woken = asyncio.Event()
        gap: list[int] = []

        def send(zxid: int, events: list[HistoryEvent]) -> None:
            got.extend(to_json(zxid, e, with_data) for e in events)
            woken.set()

        def lost(floor: int) -> None:
            gap.append(floor)
            woken.set()

        try:
            stream = self._open(path, recursive, auth, index, send, lost)
        except Compacted as e:
            return _compacted(e.floor)
        try:
            if not got and wait_s > 0:
                waits = [asyncio.ensure_future(woken.wait()),
                         asyncio.ensure_future(self._closed.wait())]
                try:
                    await asyncio.wait(waits, timeout=wait_s,
                                       return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for w in waits:
                        w.cancel()
        finally:
            self.server.streams.drop(stream.owner)
        if gap:  # a snapshot installed meanwhile does not reach back to what we sent
            return _compacted(gap[0])
        # every event up to the server's last zxid has reached `got` by now
        return reply(got, max(index, self.server.tree.last_zxid))

    async def _sse(self, request: web.Request, path: str, recursive: bool, with_data: bool,
                   auth: Auth, index: int | None) -> web.StreamResponse:
        start = self.server.tree.last_zxid if index is None else index
        queue: asyncio.Queue[tuple[int, list[HistoryEvent]] | None] = asyncio.Queue()

        def send(zxid: int, events: list[HistoryEvent]) -> None:
            if queue.qsize() >= SSE_MAX_QUEUED:
                queue.put_nowait(None)  # too far behind: end; the client resumes
                self.server.streams.drop(stream_owner[0])
            else:
                queue.put_nowait((zxid, events))

        def lost(floor: int) -> None:
            queue.put_nowait(None)  # end: the client resumes and is told compacted

        stream_owner: list[object] = [None]
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache"})
        try:
            stream = self._open(path, recursive, auth, start, send, lost)
        except Compacted as e:
            await resp.prepare(request)
            body = json.dumps({"CompactedIndex": e.floor})
            await resp.write(f"event: compacted\ndata: {body}\n\n".encode())
            return resp
        stream_owner[0] = stream.owner
        await resp.prepare(request)
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            await resp.write(f"retry: 1000\n: from zxid {start}\n\n".encode())
            while not closed.done():
                get = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait([get, closed], timeout=SSE_KEEPALIVE_S,
                                             return_when=asyncio.FIRST_COMPLETED)
                if get not in done:
                    get.cancel()
                    if not closed.done():
                        await resp.write(b": keepalive\n\n")
                    continue
                item = get.result()
                if item is None:
                    break
                zxid, events = item
                body = json.dumps([to_json(zxid, e, with_data) for e in events])
                await resp.write(f"id: {zxid}\nevent: history\ndata: {body}\n\n".encode())
        except ConnectionResetError:
            pass  # the client went away
        finally:
            closed.cancel()
            self.server.streams.drop(stream.owner)
        with contextlib.suppress(ConnectionResetError):
            await resp.write_eof()
        return resp


def _compacted(floor: int) -> web.Response:
    return reply({"Error": f"compacted at zxid {floor}", "CompactedIndex": floor}, floor,
                 status=410)
