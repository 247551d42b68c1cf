"""WebSocket vs HTTP, made real: the same live updates, polled and pushed.

An :class:`UpdateFeed` publishes small JSON updates (a price ticker). Two servers
expose it:

- :class:`PollingServer`, a tiny HTTP/1.1 server on asyncio streams: a client asks
  ``GET /updates?since=N`` and gets every update after ``N`` (often none);
- :class:`PushServer`, a WebSocket server (``websockets``) that sends each update as
  one text message the moment it is published.

:func:`poll_updates` polls like a browser's ``fetch`` in a timer, with a new TCP
connection per request or keep-alive (:class:`~wslearn.http11.HttpClient`);
:func:`receive_pushes` listens on one WebSocket. :func:`wslearn.measure.compare` runs
them side by side, each behind its own :class:`~wslearn.proxy.LinkProxy`, so bytes
are counted on the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import math
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.client import connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ._service import Service
from .exceptions import UsageError
from .http11 import MAX_HEAD, HttpClient, HttpError, build_response, json_body, parse_request

__all__ = [
    "ClientReport",
    "PollingServer",
    "PushServer",
    "Receipt",
    "Update",
    "UpdateFeed",
    "poll_updates",
    "receive_pushes",
]


# -- the data ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Update:
    """One published update.

    Attributes:
        seq: position in the feed, counting from 1.
        body: the JSON text that travels on the wire, e.g. ``{"seq":1,"price":100.5}``.
        emitted_at: ``time.monotonic()`` at publication; never sent.
    """

    seq: int
    body: str
    emitted_at: float


class UpdateFeed:
    """Updates in order, the latest ``capacity`` kept, with live subscribers.

    Args:
        capacity: updates kept for ``since`` queries and queued per subscriber. A
            subscriber that falls this far behind is dropped (it gets ``None``).
    """

    def __init__(self, capacity: int = 1000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self._updates: deque[Update] = deque(maxlen=capacity)
        self._latest = 0
        self._subscribers: set[asyncio.Queue[Update | None]] = set()

    @property
    def latest(self) -> int:
        """The seq of the newest update, 0 before the first."""
        return self._latest

    def publish(self, fields: Mapping[str, Any]) -> Update:
        """Publish ``{"seq": next, **fields}`` to the feed and every subscriber."""
        self._latest += 1
        body = json.dumps({"seq": self._latest, **fields}, separators=(",", ":"))
        update = Update(self._latest, body, time.monotonic())
        self._updates.append(update)
        for queue in list(self._subscribers):
            if queue.qsize() >= self.capacity:  # too slow: drop it, never grow
                self._subscribers.discard(queue)
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(None)
            else:
                queue.put_nowait(update)
        return update

    def since(self, seq: int) -> list[Update]:
        """Every kept update newer than ``seq``, oldest first."""
        return [u for u in self._updates if u.seq > seq]

    def get(self, seq: int) -> Update | None:
        """The update numbered ``seq`` if it is still kept."""
        first = self._updates[0].seq if self._updates else 1
        index = seq - first
        return self._updates[index] if 0 <= index < len(self._updates) else None

    def subscribe(self) -> asyncio.Queue[Update | None]:
        """A queue that receives every update published from now on."""
        queue: asyncio.Queue[Update | None] = asyncio.Queue()
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Update | None]) -> None:
        """Stop feeding ``queue``."""
        self._subscribers.discard(queue)


# -- servers ----------------------------------------------------------------------


class _Loopback(Service):
    """A server on 127.0.0.1 whose listening object (asyncio's or websockets') is
    ``_server`` while it runs."""

    _server: asyncio.Server | Server | None

    @property
    def port(self) -> int:
        """The port the system picked; only while running."""
        if self._server is None:
            raise UsageError("the server is not running: call `await server.start()` first")
        port: int = next(iter(self._server.sockets)).getsockname()[1]
        return port

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._server is not None


class PollingServer(_Loopback):
    """``GET /updates?since=N`` over HTTP/1.1: the updates after N, as a JSON array.

    Args:
        feed: where the updates come from.
        idle_timeout: a keep-alive connection with no new request is closed after this.
    """

    def __init__(self, feed: UpdateFeed, *, idle_timeout: float = 5.0) -> None:
        self.feed = feed
        self.idle_timeout = idle_timeout
        self.requests = 0
        self._server: asyncio.Server | None = None
        self._conns: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}

    async def start(self) -> Self:
        """Listen on 127.0.0.1, port chosen by the system."""
        if self._server is not None:
            raise UsageError("the server is already running")
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, limit=MAX_HEAD)
        return self

    async def stop(self) -> None:
        """Stop listening and close every connection. Safe to call twice."""
        if self._server is None:
            return
        self._server.close()
        for writer in self._conns.values():
            writer.close()
        await asyncio.gather(*self._conns, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns[task] = writer
        try:
            keep_alive = True
            while keep_alive:
                try:
                    async with asyncio.timeout(self.idle_timeout):
                        head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, TimeoutError):
                    return  # the client left, or idled too long
                except asyncio.LimitOverrunError:
                    response, keep_alive = _error(431, "request head too large"), False
                else:
                    self.requests += 1
                    response, keep_alive = self.respond(head)
                writer.write(response)
                await writer.drain()
            await _linger(reader, writer)
        except ConnectionError:
            pass
        finally:
            del self._conns[task]
            writer.close()

    def respond(self, head: bytes) -> tuple[bytes, bool]:
        """Answer one request head. Returns the response and whether to keep alive."""
        try:
            request = parse_request(head)
        except HttpError as error:
            return _error(error.status, error.message), False
        if request.method != "GET":
            return _error(405, "only GET is allowed", {"Allow": "GET"}), False
        if request.headers.get("content-length", "0") != "0" or (
            "transfer-encoding" in request.headers
        ):
            return _error(400, "a GET request carries no body"), False
        if request.path != "/updates":
            return _error(404, "not found: try GET /updates?since=0"), False
        raw = request.query.get("since", ["0"])[-1]
        if not raw.isdigit():
            return _error(400, "since must be a whole number >= 0, e.g. ?since=0"), False
        bodies = ",".join(u.body for u in self.feed.since(int(raw)))
        body = f"[{bodies}]".encode()
        return build_response(200, body, keep_alive=request.keep_alive), request.keep_alive


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Half-close, then drain what the client still sends (bounded) before closing.

    Closing with unread input makes the kernel send RST, which can destroy the
    response before the client reads it; this is the usual "lingering close".
    """
    if writer.can_write_eof():
        writer.write_eof()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(1.0):
            for _ in range(16):  # at most 16 x 64 KiB discarded
                if not await reader.read(65536):
                    break


def _error(status: int, message: str, extra: Mapping[str, str] | None = None) -> bytes:
    return build_response(status, json_body({"error": message}), keep_alive=False, extra=extra)


class PushServer(_Loopback):
    """A WebSocket server at ``/updates`` sending each update as one text message.

    ``/updates?since=N`` first sends the kept updates after N, then live ones, so a
    client that connects late or reconnects misses nothing. Compression is off, so
    the bytes counted are the protocol's own.
    """

    def __init__(self, feed: UpdateFeed) -> None:
        self.feed = feed
        self._server: Server | None = None

    async def start(self) -> Self:
        """Listen on 127.0.0.1, port chosen by the system."""
        if self._server is not None:
            raise UsageError("the server is already running")
        self._server = await serve(
            self._handler, "127.0.0.1", 0, compression=None, process_request=_only_updates
        )
        return self

    async def stop(self) -> None:
        """Close every connection (1001 going away) and stop. Safe to call twice."""
        if self._server is None:
            return
        self._server.close()
        await self._server.wait_closed()
        self._server = None

    async def _handler(self, ws: ServerConnection) -> None:
        raw = parse_qs(urlsplit(ws.request.path if ws.request else "").query).get("since")
        since = int(raw[-1]) if raw and raw[-1].isdigit() else self.feed.latest
        queue = self.feed.subscribe()  # before the backlog, so nothing falls between
        # queue.get() cannot see the socket close: a watcher wakes it with None.
        watcher = asyncio.create_task(_wake_on_close(ws, queue))
        try:
            sent = since
            for old in self.feed.since(since):
                await ws.send(old.body)
                sent = old.seq
            while (update := await queue.get()) is not None:
                if update.seq > sent:
                    await ws.send(update.body)
                    sent = update.seq
            # None: the socket closed (closing again is a no-op), or we fell behind.
            await ws.close(1013, f"too far behind: reconnect with ?since={sent}")
        except ConnectionClosed:
            pass
        finally:
            self.feed.unsubscribe(queue)
            watcher.cancel()


async def _wake_on_close(ws: ServerConnection, queue: asyncio.Queue[Update | None]) -> None:
    await ws.wait_closed()
    queue.put_nowait(None)


def _only_updates(ws: ServerConnection, request: Request) -> Response | None:
    if urlsplit(request.path).path != "/updates":
        return ws.respond(http.HTTPStatus.NOT_FOUND, "not found: try ws://.../updates\n")
    return None


# -- clients ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Receipt:
    """Update ``seq`` reached the client at ``received_at`` (time.monotonic())."""

    seq: int
    received_at: float


@dataclass(frozen=True, slots=True)
class ClientReport:
    """What one client saw: receipts in arrival order, requests and connections."""

    receipts: tuple[Receipt, ...]
    requests: int
    connections: int


async def poll_updates(
    host: str,
    port: int,
    *,
    interval: float,
    until_seq: int,
    keep_alive: bool = False,
    since: int = 0,
) -> ClientReport:
    """Poll ``/updates?since=N`` every ``interval`` seconds until ``until_seq`` arrives.

    Ticks are on a fixed schedule, like ``setInterval``: a slow response does not
    shift later polls, and missed ticks are skipped. Bound it with asyncio.timeout().
    """
    if not (interval > 0 and math.isfinite(interval)):
        raise ValueError(f"interval must be a positive number of seconds, not {interval}")
    client = HttpClient(host, port, keep_alive=keep_alive)
    receipts: list[Receipt] = []
    start = time.monotonic()
    tick = 0
    try:
        while since < until_seq:
            response = await client.get(f"/updates?since={since}")
            if response.status != 200:
                raise HttpError(response.status, response.body.decode(errors="replace"))
            now = time.monotonic()
            for item in response.json():
                if item["seq"] > since:
                    receipts.append(Receipt(item["seq"], now))
                    since = item["seq"]
            tick = max(tick + 1, math.ceil((now - start) / interval))
            await asyncio.sleep(max(0.0, start + tick * interval - time.monotonic()))
    finally:
        await client.close()
    return ClientReport(tuple(receipts), client.requests, client.connections)


async def receive_pushes(
    uri: str, *, until_seq: int, connected: asyncio.Event | None = None
) -> ClientReport:
    """Listen on a WebSocket until update ``until_seq`` arrives, then close cleanly.

    Args:
        uri: e.g. ``ws://127.0.0.1:PORT/updates``.
        until_seq: the last update to wait for.
        connected: set once the connection is open (to start publishing after it).
    """
    receipts: list[Receipt] = []
    async with connect(uri, compression=None, proxy=None) as ws:
        if connected is not None:
            connected.set()
        async for message in ws:
            seq = json.loads(message)["seq"]
            receipts.append(Receipt(seq, time.monotonic()))
            if seq >= until_seq:
                break
    return ClientReport(tuple(receipts), requests=1, connections=1)
